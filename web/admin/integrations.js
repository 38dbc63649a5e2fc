// API tokens and webhooks on the admin page, over /api/admin/tokens and /api/admin/webhooks
// (docs/integrations.md). admin.js calls initIntegrations() once signed in, handing over its
// confirm dialog. The texts are in English or French (web/shared/i18n-integrations.js), picked
// as the customer page picks (a remembered choice, else the browser's languages); the two
// sections carry that language in their lang attribute, the rest of the page is English.
import { LANGUAGES, pickLanguage } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const SECTIONS = ["tokens", "webhooks", "embeds", "customers"];
const ATTRIBUTES = ["aria-label"];
const state = { ready: false, lang: "en", confirm: null, scopes: {}, events: [], log: null };

function t(key, vars = {}) {
  const messages = LANGUAGES[state.lang].messages;
  const text = messages[key] ?? LANGUAGES.en.messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

function translate(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const attribute of ATTRIBUTES) {
    for (const node of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      node.setAttribute(attribute, t(node.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    const res = await fetch(path, init);
    const data = res.status === 204 ? null : await res.json();
    return { ok: res.ok, status: res.status, data };
  } catch (err) {
    return { ok: false, status: 0, data: { error: { message: "Cannot reach the server." } } };
  }
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function say(id, text, isError = false) {
  $(id).textContent = text;
  $(id).classList.toggle("error", isError);
}

const when = (seconds) =>
  seconds == null ? "" : new Date(seconds * 1000).toLocaleString(state.lang, { dateStyle: "short", timeStyle: "short" });

function refusal(statusId, form, error) {
  say(statusId, error.message, true);
  const field = error.field && form.querySelector(`[data-field="${error.field.split(".")[0]}"]`);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    (field.querySelector("input") || field).focus();
  }
}

function clearInvalid(form) {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

function checkboxes(containerId, prefix, values) {
  $(containerId).replaceChildren(...values.map((value) => {
    const id = `${prefix}-${value.replace(/[^a-z0-9]/gi, "-")}`;
    return el("div", { class: "check" },
      el("input", { id, type: "checkbox", value }),
      el("label", { for: id, text: t(`integ.${prefix === "scope" ? "scope" : "event"}.${value}`) }));
  }));
}

const ticked = (containerId) =>
  [...$(containerId).querySelectorAll("input:checked")].map((box) => box.value);

async function copy(inputId, statusId) {
  const input = $(inputId);
  try {
    await navigator.clipboard.writeText(input.value);
    say(statusId, t("integ.copied"));
  } catch (err) {
    input.select();
    say(statusId, t("integ.copyFailed"), true);
  }
}

// ------------------------------------------------------------------ tokens

function tokenState(token) {
  if (token.revoked_at != null) return t("integ.state.revoked");
  if (token.expires_at != null && token.expires_at * 1000 <= Date.now()) return t("integ.state.expired");
  return t("integ.state.active");
}

async function loadTokens() {
  const res = await api("GET", "/api/admin/tokens");
  if (!res.ok) return;
  if (!Object.keys(state.scopes).length) {
    state.scopes = res.data.scopes;
    checkboxes("token-scopes", "scope", Object.keys(state.scopes));
  }
  const rows = res.data.tokens.map((token) => {
    const lastUse = token.last_used_at == null
      ? t("integ.neverUsed")
      : t("integ.usedFrom", { when: when(token.last_used_at), address: token.last_used_from });
    const actions = el("td", { class: "actions-cell" });
    if (token.revoked_at == null) {
      actions.append(el("button", {
        type: "button",
        text: t("integ.tokens.revoke"),
        "aria-label": t("integ.tokens.revokeLabel", { name: token.name }),
        onclick: () => revoke(token),
      }));
    }
    return el("tr", {},
      el("td", { text: token.name }), el("td", {}, el("code", { text: `${token.prefix}…` })),
      el("td", { text: token.scopes.join(", ") }), el("td", { text: lastUse }),
      el("td", { text: token.expires_at == null ? t("integ.never") : when(token.expires_at) }),
      el("td", { text: tokenState(token) }), actions);
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "7", text: t("integ.tokens.none") })));
  $("tokens-table").tBodies[0].replaceChildren(...rows);
}

async function createToken(event) {
  event.preventDefault();
  const form = $("token-form");
  clearInvalid(form);
  const scopes = ticked("token-scopes");
  if (!scopes.length) {
    refusal("token-form-status", form, { message: t("integ.tokens.pickScope"), field: "scopes" });
    return;
  }
  const expiry = $("token-expiry").value;
  const body = { name: $("token-name").value.trim(), scopes };
  if (expiry) body.expires_in = Number(expiry);
  const res = await api("POST", "/api/admin/tokens", body);
  if (!res.ok) {
    refusal("token-form-status", form, res.data.error);
    return;
  }
  form.reset();
  $("token-secret-value").value = res.data.token;
  $("token-secret").hidden = false;
  say("token-form-status", t("integ.tokens.created", { name: res.data.name }));
  await loadTokens();
  $("token-secret-value").focus();
  $("token-secret-value").select();
}

async function revoke(token) {
  const yes = await state.confirm(
    t("integ.tokens.revokeTitle", { name: token.name }),
    t("integ.tokens.revokeText"),
    t("integ.tokens.revoke"),
    t("integ.cancel"),
  );
  if (!yes) return;
  const res = await api("DELETE", `/api/admin/tokens/${token.id}`);
  if (!res.ok) {
    say("tokens-status", res.data.error.message, true);
    return;
  }
  say("tokens-status", t("integ.tokens.revoked", { name: token.name }));
  await loadTokens();
}

// ------------------------------------------------------------------ webhooks

async function loadWebhooks() {
  const res = await api("GET", "/api/admin/webhooks");
  if (!res.ok) return;
  if (!state.events.length) {
    state.events = res.data.events;
    checkboxes("webhook-events", "event", state.events);
  }
  const rows = res.data.endpoints.map((endpoint) => el("tr", {},
    el("td", {}, el("code", { text: endpoint.url }),
      ...(endpoint.signing ? [] : [el("p", { class: "form-status error", text: t("integ.hooks.unsigned") })])),
    el("td", { text: endpoint.events.join(", ") }),
    el("td", { text: when(endpoint.created_at) }),
    el("td", { class: "actions-cell" },
      el("button", {
        type: "button",
        text: t("integ.hooks.log"),
        "aria-label": t("integ.hooks.logLabel", { url: endpoint.url }),
        onclick: () => showLog(endpoint),
      }),
      el("button", {
        type: "button",
        text: t("integ.delete"),
        "aria-label": t("integ.hooks.deleteLabel", { url: endpoint.url }),
        onclick: () => removeEndpoint(endpoint),
      }))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "4", text: t("integ.hooks.none") })));
  $("webhooks-table").tBodies[0].replaceChildren(...rows);
}

async function createWebhook(event) {
  event.preventDefault();
  const form = $("webhook-form");
  clearInvalid(form);
  const events = ticked("webhook-events");
  if (!events.length) {
    refusal("webhook-form-status", form, { message: t("integ.hooks.pickEvent"), field: "events" });
    return;
  }
  const res = await api("POST", "/api/admin/webhooks", { url: $("webhook-url").value.trim(), events });
  if (!res.ok) {
    refusal("webhook-form-status", form, res.data.error);
    return;
  }
  form.reset();
  $("webhook-secret-value").value = res.data.secret;
  $("webhook-secret").hidden = false;
  say("webhook-form-status", t("integ.hooks.created"));
  await loadWebhooks();
  $("webhook-secret-value").focus();
  $("webhook-secret-value").select();
}

async function removeEndpoint(endpoint) {
  const yes = await state.confirm(
    t("integ.hooks.deleteTitle"),
    t("integ.hooks.deleteText", { url: endpoint.url }),
    t("integ.delete"),
    t("integ.cancel"),
  );
  if (!yes) return;
  const res = await api("DELETE", `/api/admin/webhooks/${endpoint.id}`);
  if (!res.ok) {
    say("webhooks-status", res.data.error.message, true);
    return;
  }
  if (state.log && state.log.id === endpoint.id) {
    state.log = null;
    $("deliveries").hidden = true;
  }
  say("webhooks-status", t("integ.hooks.deleted"));
  await loadWebhooks();
}

async function showLog(endpoint) {
  state.log = endpoint;
  $("deliveries-title").textContent = t("integ.log.title", { url: endpoint.url });
  $("deliveries").hidden = false;
  await loadLog();
  $("deliveries-title").focus();
}

async function loadLog() {
  const endpoint = state.log;
  if (!endpoint) return;
  const res = await api("GET", `/api/admin/webhooks/${endpoint.id}/deliveries`);
  if (!res.ok) {
    say("webhooks-status", res.data.error.message, true);
    return;
  }
  const rows = res.data.deliveries.map((d) => {
    const error = d.last_error ? `${d.last_status ? `${d.last_status}: ` : ""}${d.last_error}` : "—";
    return el("tr", {},
      el("td", { text: d.event }), el("td", { text: t(`integ.log.${d.status}`) }),
      el("td", { text: String(d.attempts) }), el("td", { text: error }),
      el("td", { text: when(d.created_at) }),
      el("td", { class: "actions-cell" }, el("button", {
        type: "button",
        text: t("integ.log.redeliver"),
        "aria-label": t("integ.log.redeliverLabel", { event: d.event, when: when(d.created_at) }),
        onclick: () => redeliver(endpoint, d),
      })));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "6", text: t("integ.log.none") })));
  $("deliveries-table").tBodies[0].replaceChildren(...rows);
}

async function redeliver(endpoint, delivery) {
  const res = await api("POST", `/api/admin/webhooks/${endpoint.id}/deliveries/${delivery.id}/redeliver`);
  say("webhooks-status", res.ok ? t("integ.log.queued") : res.data.error.message, !res.ok);
  await loadLog();
}

// ------------------------------------------------------------------ start

// --- sites that may embed the help button (/api/admin/embed-origins)

function showOrigins(data) {
  const fixed = data.fixed.map((origin) => el("li", { text: t("integ.embeds.fixed", { origin }) }));
  const managed = data.managed.map((row) => {
    const remove = el("button", {
      type: "button", class: "danger", text: t("integ.embeds.remove"),
      "aria-label": t("integ.embeds.removeNamed", { origin: row.origin }),
      onclick: () => removeOrigin(row.origin),
    });
    const text = t("integ.embeds.addedBy", { origin: row.origin, who: row.added_by, when: when(row.added_at) });
    return el("li", {}, el("span", { text }), " ", remove);
  });
  const none = fixed.length || managed.length ? [] : [el("li", { text: t("integ.embeds.none") })];
  $("embeds-list").replaceChildren(...fixed, ...managed, ...none);
}

async function loadOrigins() {
  const res = await api("GET", "/api/admin/embed-origins");
  if (res.ok) showOrigins(res.data);
  else say("embeds-status", res.data.error.message, true);
}

async function addOrigin(event) {
  event.preventDefault();
  const res = await api("POST", "/api/admin/embed-origins", { origin: $("embed-origin").value });
  if (!res.ok) {
    say("embeds-status", res.data.error.message, true);
    $("embed-origin").focus();
    return;
  }
  const added = res.data.managed.map((row) => row.origin);
  $("embed-origin").value = "";
  showOrigins(res.data);
  say("embeds-status", t("integ.embeds.added", { origin: added[added.length - 1] || "" }));
}

async function removeOrigin(origin) {
  const yes = await state.confirm(
    t("integ.embeds.removeTitle", { origin }),
    t("integ.embeds.removeText"),
    t("integ.embeds.remove"),
    t("integ.cancel"),
  );
  if (!yes) return;
  const res = await api("DELETE", `/api/admin/embed-origins?origin=${encodeURIComponent(origin)}`);
  if (!res.ok) {
    say("embeds-status", res.data.error.message, true);
    return;
  }
  showOrigins(res.data);
  say("embeds-status", t("integ.embeds.removed", { origin }));
  $("embed-origin").focus();
}

// --- customers (/api/admin/customers; docs/privacy.md)

async function findCustomers(event) {
  event.preventDefault();
  const q = $("customer-q").value.trim();
  const res = await api("GET", `/api/admin/customers?q=${encodeURIComponent(q)}`);
  if (!res.ok) {
    say("customers-status", res.data.error.message, true);
    return;
  }
  const found = res.data.customers;
  $("customers-found").replaceChildren(...found.map((c) => {
    const who = c.name || c.ref;
    const open = el("button", {
      type: "button", text: `${who}${c.email ? ` (${c.email})` : ""}`,
      "aria-label": t("integ.cust.open", { who: `${who}${c.email ? ` (${c.email})` : ""}` }),
      onclick: () => openCustomer(c.ref),
    });
    return el("li", {}, open);
  }));
  const counted = res.data.more ? "integ.cust.more" : "integ.cust.count";
  say("customers-status", found.length ? t(counted, { count: found.length }) : t("integ.cust.none"));
}

async function openCustomer(ref) {
  const res = await api("GET", `/api/admin/customers/${encodeURIComponent(ref)}`);
  if (!res.ok) {
    say("customers-status", res.data.error.message, true);
    return;
  }
  const { customer, requests, tutorials } = res.data;
  state.customer = { ref, tutorials };
  $("customer-name").textContent = customer.name || t("integ.cust.anonymous");
  $("customer-facts").textContent = t("integ.cust.facts", {
    ref, email: customer.email || "—",
    first: customer.first_contact ? when(customer.first_contact) : "—",
    last: customer.last_contact ? when(customer.last_contact) : "—",
  });
  $("customer-requests").tBodies[0].replaceChildren(...requests.map((r) => {
    const outcome = r.calls.length
      ? r.calls.map((c) => `${c.disposition || c.end_reason || "—"}`).join(", ")
      : t("integ.cust.noCall", { reason: r.end_reason || r.status });
    const context = Object.entries(r.context).map(([k, v]) => `${k}: ${v}`).join("; ") || "—";
    return el(
      "tr", {},
      el("td", { text: when(r.tapped_at) }),
      el("td", { text: r.topic || t("integ.cust.noTopic") }),
      el("td", { text: outcome }),
      el("td", { text: context }),
      el("td", { text: String(r.recordings.length) }),
    );
  }));
  $("customer-export").href = `/api/admin/customers/${encodeURIComponent(ref)}/export`;
  $("customer-tutorials-field").hidden = tutorials.length === 0;
  $("customer-tutorials").checked = false;
  $("customer-tutorials-text").textContent = t("integ.cust.tutorials", { ids: tutorials.join(", ") });
  $("customer-profile").hidden = false;
  $("customer-profile").focus();
}

async function eraseCustomer() {
  const customer = state.customer;
  if (!customer) return;
  const yes = await state.confirm(
    t("integ.cust.eraseTitle", { ref: customer.ref }),
    t("integ.cust.eraseText"),
    t("integ.cust.erase"),
    t("integ.cancel"),
  );
  if (!yes) return;
  const res = await api("DELETE", `/api/admin/customers/${encodeURIComponent(customer.ref)}`, {
    confirm: customer.ref, with_tutorials: $("customer-tutorials").checked,
  });
  if (!res.ok) {
    say("customers-status", res.data.error.message, true);
    return;
  }
  state.customer = null;
  $("customer-profile").hidden = true;
  $("customers-found").replaceChildren();
  say("customers-status", t("integ.cust.erased", { ref: customer.ref }));
  $("customer-q").focus();
}

export function initIntegrations(confirm) {
  state.confirm = confirm;
  if (!state.ready) {
    state.ready = true;
    state.lang = pickLanguage();
    for (const id of SECTIONS) {
      $(id).lang = state.lang;
      translate($(id));
    }
    $("token-form").addEventListener("submit", createToken);
    $("embed-form").addEventListener("submit", addOrigin);
    $("customer-search").addEventListener("submit", findCustomers);
    $("customer-erase").addEventListener("click", eraseCustomer);
    $("webhook-form").addEventListener("submit", createWebhook);
    $("token-copy").addEventListener("click", () => copy("token-secret-value", "token-form-status"));
    $("webhook-copy").addEventListener("click", () => copy("webhook-secret-value", "webhook-form-status"));
    $("deliveries-refresh").addEventListener("click", loadLog);
  }
  loadTokens();
  loadWebhooks();
  loadOrigins();
}
