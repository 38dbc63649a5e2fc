// /reports: history figures per interval, staffing, exports. The tables carry the data; the
// charts (uPlot, from npm) draw the same numbers and are hidden from screen readers.
import uPlot from "/vendor/uplot/uPlot.esm.js";
import { logIn } from "/static/shared/session.js";

const TEXTS = {
  en: {
    "page.title": "History reports",
    language: "Language",
    logout: "Log out",
    "login.title": "Log in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.failed": "Wrong username or password.",
    forbidden: "Only supervisors and admins read reports.",
    "query.title": "Report",
    "query.from": "From",
    "query.to": "To (included)",
    "query.interval": "Interval",
    "query.by": "Per",
    "query.queue": "Queue (staffing)",
    "query.show": "Show",
    "interval.15min": "15 minutes",
    "interval.hour": "Hour",
    "interval.day": "Day",
    "by.queue": "Queue",
    "by.agent": "Agent",
    "figures.title": "Figures per interval",
    "figures.caption": "Offered, answered and abandoned, service level, times and satisfaction",
    "export.csv": "Download CSV",
    "export.xlsx": "Download XLSX",
    "export.sessionsCsv": "Sessions (CSV)",
    "export.sessionsXlsx": "Sessions (XLSX)",
    "staffing.title": "Staffing (Erlang C)",
    "staffing.about": "Agents needed to meet the queue's service-level target, from its arrivals and handle time, beside the agents who were signed in and not away.",
    "staffing.caption": "Agents needed and staffed per interval",
    loading: "Loading…",
    loaded: "{rows} rows.",
    failed: "The report could not be loaded: {message}",
    "col.interval_start": "Interval",
    "col.queue": "Queue",
    "col.agent": "Agent",
    "col.offered": "Offered",
    "col.answered": "Answered",
    "col.abandoned": "Abandoned",
    "col.short_abandoned": "Short abandons",
    "col.callbacks": "Callbacks",
    "col.transfers": "Transfers",
    "col.asa": "ASA (s)",
    "col.aht": "AHT (s)",
    "col.service_level": "Service level (%)",
    "col.repeat_contacts": "Repeat contacts (7 days)",
    "col.csat_average": "CSAT average",
    "col.csat_responses": "CSAT answers",
    "col.csat_rate": "CSAT response rate (%)",
    "col.recordings": "Recordings",
    "col.self_served": "Self-served (tutorial)",
    "col.conversations": "Calls analysed",
    "col.agent_talk_share": "Agent talk share (%)",
    "col.overlap_average": "Talk-over, average (s)",
    "col.longest_silence_average": "Longest silence, average (s)",
    "col.arrivals": "Arrivals",
    "col.agents_needed": "Agents needed",
    "col.agents_staffed": "Agents staffed",
  },
  fr: {
    "page.title": "Rapports historiques",
    language: "Langue",
    logout: "Se déconnecter",
    "login.title": "Connexion",
    "login.username": "Nom d’utilisateur",
    "login.password": "Mot de passe",
    "login.submit": "Se connecter",
    "login.failed": "Nom d’utilisateur ou mot de passe incorrect.",
    forbidden: "Seuls les superviseurs et les administrateurs consultent les rapports.",
    "query.title": "Rapport",
    "query.from": "Du",
    "query.to": "Au (inclus)",
    "query.interval": "Intervalle",
    "query.by": "Par",
    "query.queue": "File (effectifs)",
    "query.show": "Afficher",
    "interval.15min": "15 minutes",
    "interval.hour": "Heure",
    "interval.day": "Jour",
    "by.queue": "File",
    "by.agent": "Conseiller",
    "figures.title": "Chiffres par intervalle",
    "figures.caption": "Appels présentés, répondus et abandonnés, niveau de service, durées et satisfaction",
    "export.csv": "Télécharger en CSV",
    "export.xlsx": "Télécharger en XLSX",
    "export.sessionsCsv": "Appels (CSV)",
    "export.sessionsXlsx": "Appels (XLSX)",
    "staffing.title": "Effectifs (Erlang C)",
    "staffing.about": "Conseillers nécessaires pour tenir l’objectif de niveau de service de la file, d’après ses arrivées et sa durée de traitement, à côté des conseillers connectés et disponibles.",
    "staffing.caption": "Conseillers nécessaires et présents par intervalle",
    loading: "Chargement…",
    loaded: "{rows} lignes.",
    failed: "Le rapport n’a pas pu être chargé : {message}",
    "col.interval_start": "Intervalle",
    "col.queue": "File",
    "col.agent": "Conseiller",
    "col.offered": "Présentés",
    "col.answered": "Répondus",
    "col.abandoned": "Abandonnés",
    "col.short_abandoned": "Abandons courts",
    "col.callbacks": "Rappels",
    "col.transfers": "Transferts",
    "col.asa": "Attente moy. (s)",
    "col.aht": "Traitement moy. (s)",
    "col.service_level": "Niveau de service (%)",
    "col.repeat_contacts": "Contacts répétés (7 jours)",
    "col.csat_average": "Satisfaction moyenne",
    "col.csat_responses": "Réponses satisfaction",
    "col.csat_rate": "Taux de réponse (%)",
    "col.recordings": "Enregistrements",
    "col.self_served": "Résolus seuls (tutoriel)",
    "col.conversations": "Appels analysés",
    "col.agent_talk_share": "Part de parole du conseiller (%)",
    "col.overlap_average": "Paroles simultanées, moyenne (s)",
    "col.longest_silence_average": "Plus long silence, moyenne (s)",
    "col.arrivals": "Arrivées",
    "col.agents_needed": "Conseillers nécessaires",
    "col.agents_staffed": "Conseillers présents",
  },
};

let lang = "en";
const $ = (id) => document.getElementById(id);
const charts = {};
const last = {};

function t(key, vars = {}) {
  const text = TEXTS[lang][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

function translate() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  if (last.figures) table("figures", last.figures);
  if (last.staffing) table("staffing", last.staffing);
}

function pickLanguage() {
  let stored = null;
  try { stored = localStorage.getItem("videoassist.language"); } catch (err) { /* private mode */ }
  if (stored && stored in TEXTS) return stored;
  for (const tag of navigator.languages || [navigator.language]) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (primary in TEXTS) return primary;
  }
  return "en";
}

function message(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function query(kind, format = "json") {
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value, format });
  if (kind !== "sessions") params.set("interval", $("interval").value);
  if (kind === "intervals") params.set("by", $("by").value);
  if (kind === "staffing") params.set("queue", $("queue").value);
  return `/api/reports/${kind}?${params}`;
}

async function fetchJson(url) {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error?.message || res.statusText);
  return body;
}

function cell(value) {
  if (value == null) return "–";
  return typeof value === "number" ? value.toLocaleString(lang) : String(value);
}

function table(id, report) {
  const head = $(id).querySelector("thead tr");
  const body = $(id).querySelector("tbody");
  head.replaceChildren(
    ...report.columns.map((column, i) => {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = t(`col.${column}`);
      if (i > 1) th.className = "num";
      return th;
    }),
  );
  body.replaceChildren(
    ...report.rows.map((row) => {
      const tr = document.createElement("tr");
      report.columns.forEach((column, i) => {
        const td = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) td.scope = "row";
        if (i > 1) td.className = "num";
        td.textContent = cell(row[column]);
        tr.append(td);
      });
      return tr;
    }),
  );
}

// One series per column, summed over the queues or agents of each interval.
function chart(id, rows, columns) {
  const starts = [...new Set(rows.map((row) => row.start))].sort((a, b) => a - b);
  const data = [starts];
  for (const column of columns) {
    data.push(starts.map((at) => rows.filter((row) => row.start === at)
      .reduce((sum, row) => sum + (row[column] ?? 0), 0)));
  }
  if (charts[id]) charts[id].destroy();
  const el = $(id);
  el.replaceChildren();
  if (!starts.length) return;
  const colours = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a"];
  charts[id] = new uPlot({
    width: Math.max(320, el.clientWidth || 640),
    height: 240,
    series: [{}, ...columns.map((column, i) => ({ label: t(`col.${column}`), stroke: colours[i], width: 2 }))],
  }, data, el);
}

async function load(event) {
  if (event) event.preventDefault();
  message(null);
  $("status").textContent = t("loading");
  for (const [id, kind, format] of [["csv", "intervals", "csv"], ["xlsx", "intervals", "xlsx"],
    ["sessions-csv", "sessions", "csv"], ["sessions-xlsx", "sessions", "xlsx"]]) {
    $(id).href = query(kind, format);
  }
  try {
    const [figures, staffing] = await Promise.all([
      fetchJson(query("intervals")), fetchJson(query("staffing"))]);
    last.figures = figures;
    last.staffing = staffing;
    table("figures", figures);
    table("staffing", staffing);
    chart("figures-chart", figures.rows, ["offered", "answered", "abandoned"]);
    chart("staffing-chart", staffing.rows, ["agents_needed", "agents_staffed"]);
    $("status").textContent = t("loaded", { rows: figures.rows.length });
  } catch (err) {
    $("status").textContent = "";
    message(t("failed", { message: err.message }));
  }
}

async function start() {
  const res = await fetch("/api/me");
  if (res.status === 401) {
    $("login").hidden = false;
    $("username").focus();
    return;
  }
  const me = await res.json();
  $("logout").hidden = false;
  if (!["supervisor", "admin"].includes(me.role)) {
    message(t("forbidden"));
    return;
  }
  $("login").hidden = true;
  $("reports").hidden = false;
  const today = new Date();
  $("to").value = isoDay(today);
  $("from").value = isoDay(new Date(today.getTime() - 6 * 86400e3));
  await load();
}

async function login(event) {
  event.preventDefault();
  const { ok } = await logIn($("username").value, $("password").value);
  if (!ok) {
    message(t("login.failed"));
    return;
  }
  message(null);
  await start();
}

$("language").addEventListener("change", (ev) => {
  lang = ev.currentTarget.value in TEXTS ? ev.currentTarget.value : "en";
  try { localStorage.setItem("videoassist.language", lang); } catch (err) { /* private mode */ }
  translate();
});
$("login-form").addEventListener("submit", login);
$("query").addEventListener("submit", load);
$("logout").addEventListener("click", async () => {
  await fetch("/api/logout", { method: "POST" });
  location.reload();
});
lang = pickLanguage();
$("language").value = lang;
translate();
start();
