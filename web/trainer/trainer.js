// Trainer library: finished recordings, filtered (GET /api/recordings), and a player that shows
// the customer's picture with the agent's inset, the sidecar's annotations drawn over it (a
// toggle) and the chat as markers on the time line. Trainers and admins work here; supervisors
// read (the page says "read only" and offers no editing).
import { LANGUAGES, pickLanguage, say, setLanguage, t } from "/static/shared/i18n.js";
import { RecordingPlayer, chatLines, clock } from "/static/shared/recording-player.js";
import { showMessage } from "/static/shared/signaling.js";
import { Editor } from "/static/trainer/editor.js";
import { getTutorial, saveEdit, versions } from "/static/trainer/tutorials-api.js";
import { Workflow } from "/static/trainer/workflow.js";

const $ = (id) => document.getElementById(id);
const READERS = ["trainer", "admin", "supervisor"];
const EDITORS = ["trainer", "admin"];
const state = { me: null, rows: [], current: null, topics: new Map(), chat: [] };

const player = new RecordingPlayer({ main: $("rec-main"), inset: $("rec-inset"), canvas: $("rec-marks") });
const workflow = new Workflow($("tutorial-workflow"));
const editor = new Editor({
  player,
  save: saveEdit,
  onSaved: (tutorial) => {
    workflow.show(tutorial);
    loadTutorials();
  },
});
// For tests and debugging.
window.videoassist = {
  get player() { return player; },
  get rows() { return state.rows; },
  get me() { return state.me; },
  get editor() { return editor; },
};

function message(key, vars = {}, isError = true) {
  const box = $("message");
  if (!key) {
    showMessage(box, "");
    return;
  }
  showMessage(box, t(key, vars), isError);
  box.dataset.i18n = key;
  box.dataset.i18nVars = JSON.stringify(vars);
}

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (err) { data = null; }
  return { ok: res.ok, status: res.status, data };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k in node && k !== "role") node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

// ------------------------------------------------------------------ language

function fillLanguages() {
  const select = $("language");
  select.replaceChildren(
    ...Object.entries(LANGUAGES).map(([code, { name }]) => el("option", { value: code, text: name, lang: code })),
  );
  const lang = pickLanguage();
  select.value = lang;
  setLanguage(lang);
  select.addEventListener("change", () => {
    setLanguage(select.value, { remember: true });
    render();
    if (state.current) showFacts(state.current);
    editor.render();
    workflow.render();
  });
}

const when = (epoch) =>
  new Date(epoch * 1000).toLocaleString(document.documentElement.lang, { dateStyle: "medium", timeStyle: "short" });
const topicLabel = (topic) => (topic ? state.topics.get(topic)?.label || topic : t("trainer.general"));
const agentsOf = (row) => [...new Set(row.sessions.map((s) => s.agent_name))].join(", ") || "—";
const dispositionsOf = (row) =>
  [...new Set(row.sessions.map((s) => s.disposition).filter(Boolean))]
    .map((d) => t(`trainer.disposition.${d}`))
    .join(", ") || "—";

// ------------------------------------------------------------------ the list

function query() {
  const params = new URLSearchParams();
  for (const name of ["queue", "topic", "agent", "disposition"]) {
    const value = $(`f-${name}`).value;
    if (value) params.set(name, value);
  }
  // Dates are the trainer's own calendar days: from the start of "from" to the end of "to".
  if ($("f-from").value) params.set("since", String(new Date(`${$("f-from").value}T00:00`).getTime() / 1000));
  if ($("f-to").value) params.set("until", String(new Date(`${$("f-to").value}T00:00`).getTime() / 1000 + 86400));
  params.set("limit", "200");
  return params.toString();
}

async function search() {
  const res = await api("GET", `/api/recordings?${query()}`);
  if (!res.ok) {
    if (!(await handleAuth(res))) message("trainer.load_failed", { message: res.data?.error?.message || res.status });
    return false;
  }
  state.rows = res.data.recordings;
  learnChoices(state.rows);
  render();
  return true;
}

// Queues and agents to filter by: the ones seen in recordings so far (the library has no
// directory of its own; topics come from the public list).
function learnChoices(rows) {
  const add = (select, value, label) => {
    if (!value || [...select.options].some((o) => o.value === value)) return;
    select.append(el("option", { value, text: label }));
  };
  for (const row of rows) {
    add($("f-queue"), row.queue_id, row.queue_id);
    for (const s of row.sessions) add($("f-agent"), s.agent_id, s.agent_name);
  }
}

function render() {
  const body = $("recordings").tBodies[0];
  body.replaceChildren(...state.rows.map(rowFor));
  const n = state.rows.length;
  if (n === 0) say($("count"), "trainer.count_none");
  else if (n === 1) say($("count"), "trainer.count_one");
  else say($("count"), "trainer.count", { count: n });
}

function rowFor(row) {
  const tr = el("tr", { id: `rec-${row.id}` });
  if (state.current && state.current.id === row.id) tr.className = "current";
  const playable = row.files.some((f) => f.name.endsWith(".webm"));
  const action = playable
    ? el("button", {
        type: "button",
        text: t("trainer.play"),
        "aria-label": t("trainer.play_label", { when: when(row.started_at) }),
      })
    : el("span", { className: "muted", text: t("trainer.no_files") });
  if (playable) action.addEventListener("click", () => play(row));
  tr.append(
    el("td", { text: when(row.started_at) }),
    el("td", { text: clock(row.duration) }),
    el("td", { text: row.queue_id }),
    el("td", { text: topicLabel(row.topic) }),
    el("td", { text: agentsOf(row) }),
    el("td", { text: dispositionsOf(row) }),
    el("td", { text: t(`trainer.consent.${row.consent}`) }),
    el("td", {}, action),
  );
  return tr;
}

// ------------------------------------------------------------------ the player

function showFacts(row) {
  $("player-facts").textContent = t("trainer.player_facts", {
    when: when(row.started_at),
    queue: row.queue_id,
    topic: topicLabel(row.topic),
    agents: agentsOf(row),
  });
}

// Tutorials made so far, newest first; a trainer goes back to one (its draft, or a new draft
// from the published version) with "Edit".
async function loadTutorials() {
  const res = await api("GET", "/api/tutorials?state=any");
  const list = $("tutorials");
  if (!res.ok) {
    list.replaceChildren();
    return;
  }
  list.replaceChildren(...res.data.tutorials.map((hit) => {
    const link = el("a", { href: `/tutorials/${encodeURIComponent(hit.id)}`, text: hit.title });
    const item = el("li", {}, link, " ", el("span", { className: "muted", text: t(`trainer.tut.${hit.state}`) }));
    if (EDITORS.includes(state.me?.role)) {
      const edit = el("button", { type: "button", text: t("trainer.tut.edit"), "aria-label": t("trainer.tut.edit_named", { title: hit.title }) });
      edit.addEventListener("click", () => editTutorial(hit.id));
      item.append(" ", edit);
    }
    return item;
  }));
  $("no-tutorials").hidden = res.data.tutorials.length > 0;
}

async function editTutorial(id) {
  try {
    const tutorial = await getTutorial(id);
    const row = state.rows.find((r) => r.id === tutorial.recording_id);
    if (!row) {
      message("trainer.tut.recording_gone");
      return;
    }
    const edit = tutorial.draft ?? (await versions(id)).versions[0]?.edit;
    await play(row, { tutorial, edit });
  } catch (err) {
    message("trainer.load_failed", { message: err.message });
  }
}

async function play(row, { tutorial = null, edit = null } = {}) {
  state.current = row;
  render();
  $("player").hidden = false;
  showFacts(row);
  let lines = [];
  try {
    lines = await player.load(row.files);
    state.chat = chatLines(lines);
  } catch (err) {
    message("trainer.load_failed", { message: err.message });
    state.chat = [];
  }
  workflow.close();
  if (EDITORS.includes(state.me?.role)) {
    editor.open(row, lines, edit);
    editor.tutorial = tutorial;
    if (tutorial) workflow.show(tutorial);
  } else {
    editor.close();
  }
  renderChat(row);
  updateMarksStatus();
  $("player-title").focus();
}

function renderChat(row) {
  const list = $("chat-list");
  const line = $("timeline");
  const duration = Math.max(row.duration, ...state.chat.map((c) => c.at), 0.001);
  list.replaceChildren();
  line.replaceChildren(el("div", { className: "playhead", id: "playhead", "aria-hidden": "true" }));
  for (const c of state.chat) {
    const text = c.redacted ? t("trainer.chat_redacted") : c.text;
    const time = clock(c.at);
    const seek = () => {
      player.seekMedia(c.at);
      $("rec-main").focus();
    };
    // The markers are for the mouse; the list below is the same lines for everyone.
    const marker = el("div", { className: "marker", title: `${time} ${c.name}: ${text}`, "aria-hidden": "true" });
    marker.style.left = `${(100 * c.at) / duration}%`;
    marker.addEventListener("click", seek);
    line.append(marker);
    const button = el(
      "button",
      { type: "button" },
      el("span", { className: "visually-hidden", text: `${t("trainer.chat_seek")} ` }),
      el("time", { text: time }),
      ` ${c.name}: ${text}`,
    );
    button.addEventListener("click", seek);
    list.append(el("li", {}, button));
  }
  list.hidden = state.chat.length === 0;
  $("no-chat").hidden = state.chat.length > 0;
}

function updateMarksStatus() {
  if (!$("show-marks").checked) say($("marks-status"), "trainer.marks_hidden");
  else say($("marks-status"), "trainer.marks_count", { count: player.visibleMarks().length });
  const duration = state.current?.duration || 0;
  const head = $("playhead");
  if (head && duration) head.style.left = `${Math.min(100, (100 * player.mediaTime()) / duration)}%`;
}

$("show-marks").addEventListener("change", () => {
  player.setMarksVisible($("show-marks").checked);
  updateMarksStatus();
});
for (const name of ["timeupdate", "seeked"]) $("rec-main").addEventListener(name, updateMarksStatus);

// ------------------------------------------------------------------ login

async function handleAuth(res) {
  if (res.status === 401) {
    showLogin("trainer.session_ended");
    return true;
  }
  if (res.status === 403) {
    showLogin("trainer.not_allowed");
    return true;
  }
  return false;
}

function showLogin(key) {
  player.close();
  editor.close();
  workflow.close();
  $("player").hidden = true;
  $("library").hidden = true;
  $("me").hidden = true;
  $("login").hidden = false;
  message(key || "");
  $("username").focus();
}

async function showLibrary(me) {
  state.me = me;
  $("me-name").textContent = me.display_name;
  $("read-only").hidden = EDITORS.includes(me.role);
  $("me").hidden = false;
  $("login").hidden = true;
  $("library").hidden = false;
  message("");
  if (await search()) $("recordings-title").focus();
  await loadTutorials();
}

async function loadTopics() {
  const res = await api("GET", "/api/topics");
  if (!res.ok || !Array.isArray(res.data)) return;
  for (const topic of res.data) {
    state.topics.set(topic.topic, topic);
    $("f-topic").append(el("option", { value: topic.topic, text: topic.label }));
    $("edit-topic").append(el("option", { value: topic.topic, text: topic.label }));
  }
}

async function login(event) {
  event.preventDefault();
  message("");
  const res = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
  $("password").value = "";
  if (!res.ok) {
    message(res.status === 401 ? "trainer.login_failed" : "trainer.load_failed", { message: res.data?.error?.message || "" });
    $("username").select();
    return;
  }
  if (!READERS.includes(res.data.role)) {
    message("trainer.not_allowed");
    return;
  }
  await showLibrary(res.data);
}

async function boot() {
  fillLanguages();
  await loadTopics();
  const me = await api("GET", "/api/me");
  if (!me.ok) {
    showLogin("");
    return;
  }
  if (!READERS.includes(me.data.role)) {
    showLogin("trainer.not_allowed");
    return;
  }
  await showLibrary(me.data);
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", async () => {
  await api("POST", "/api/logout");
  state.me = null;
  showLogin("");
});
$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
$("filters").addEventListener("reset", () => setTimeout(search, 0));
boot();
