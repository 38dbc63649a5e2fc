// Routing admin: queues, topics and agent profiles over /api/admin/ (docs/admin.md).
import { initBranding } from "/static/admin/branding.js";
import { initIntegrations } from "/static/admin/integrations.js";
import { initStaff } from "/static/admin/staff.js";
// Every change is checked by the server; its errors name the field, which we mark and focus.

const $ = (id) => document.getElementById(id);
const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const STRATEGY_LABELS = {
  longest_idle: "Longest idle agent",
  least_occupied: "Least occupied agent",
  round_robin: "Round robin",
  best_skill: "Best skilled agent",
};

const state = { config: null, editingQueue: null, editingTopic: null, editingAgent: null };
let uid = 0; // ids for the labels of rows added on the fly

// ------------------------------------------------------------------ helpers

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    return { ok: false, status: 0, data: { error: { code: "network", message: "Cannot reach the server." } } };
  }
  let data = null;
  if (res.status !== 204) {
    try {
      data = await res.json();
    } catch (err) {
      data = { error: { code: "http_error", message: `The server answered ${res.status}.` } };
    }
  }
  return { ok: res.ok, status: res.status, data };
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.startsWith("aria-") || key.startsWith("data-") || key === "for" || key === "list") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function message(text, isError = false) {
  const box = $("message");
  box.textContent = text || "";
  box.classList.toggle("error", isError);
  box.hidden = !text;
}

function say(statusId, text, isError = false) {
  const box = $(statusId);
  box.textContent = text || "";
  box.classList.toggle("error", isError);
}

const skillsText = (skills) =>
  Object.entries(skills).map(([name, level]) => `${name} ${level}`).join(", ") || "—";

function minutesToTime(minutes) {
  const m = minutes % (24 * 60);
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

function timeToMinutes(value) {
  const [h, m] = value.split(":").map(Number);
  return h * 60 + m;
}

function hoursText(hours) {
  if (!hours.windows.length) return `Always open (${hours.timezone})`;
  const parts = hours.windows.map(
    (w) => `${DAYS[w.day] ? DAYS[w.day].slice(0, 3) : w.day} ${minutesToTime(w.start)}–${minutesToTime(w.end)}`,
  );
  return `${parts.join(", ")} (${hours.timezone})`;
}

function numberOrNull(input) {
  return input.value.trim() === "" ? null : Number(input.value);
}

function queueName(id) {
  const queue = state.config.queues.find((q) => q.id === id);
  return queue && queue.name ? `${queue.name} (${id})` : id;
}

// Errors: the API names the field ("skills.vpn", or "queues.vpn.hours.timezone" for a rule
// about the whole configuration). Strip our own prefix, then look for the closest element.
function clearErrors(form) {
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    const described = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.endsWith("-form-status"));
    if (described.length) node.setAttribute("aria-describedby", described.join(" "));
    else node.removeAttribute("aria-describedby");
  }
}

function showError(form, statusId, error, ownPrefix) {
  say(statusId, error.message, true);
  let path = error.field || "";
  if (ownPrefix && path.startsWith(ownPrefix)) path = path.slice(ownPrefix.length);
  const parts = path.split(".");
  for (let n = parts.length; n > 0; n -= 1) {
    const found = form.querySelector(`[data-field="${CSS.escape(parts.slice(0, n).join("."))}"]`);
    if (!found) continue;
    const target = found.matches("input, select, textarea, button")
      ? found
      : found.querySelector("input, select, textarea") || found.querySelector("button");
    if (!target) break;
    // "queues.q.hours.timezone: ..." reads better as "Time zone: ..." when the field is plain.
    const prefix = `${error.field}: `;
    if (found === target && n === parts.length && parts[0] !== "skills" && target.labels.length
        && error.message.startsWith(prefix)) {
      say(statusId, `${target.labels[0].textContent}: ${error.message.slice(prefix.length)}`, true);
    }
    target.setAttribute("aria-invalid", "true");
    const described = target.getAttribute("aria-describedby");
    target.setAttribute("aria-describedby", described ? `${described} ${statusId}` : statusId);
    target.focus();
    return;
  }
}

// ------------------------------------------------------------------ skill and window rows

function skillRow(list, name = "", level = 1) {
  uid += 1;
  const nameId = `skill-name-${uid}`;
  const levelId = `skill-level-${uid}`;
  const levelSelect = el("select", { id: levelId, class: "skill-level" });
  for (let i = 1; i <= (state.config ? state.config.options.max_skill_level : 5); i += 1) {
    levelSelect.append(el("option", { value: String(i), text: String(i) }));
  }
  levelSelect.value = String(level);
  const nameInput = el("input", {
    id: nameId, class: "skill-name", value: name, required: true, maxLength: 32,
    pattern: "[A-Za-z0-9_\\-]{1,32}", autocomplete: "off", list: "known-skills",
  });
  const row = el(
    "div",
    { class: "row item" },
    el("div", {}, el("label", { for: nameId, text: "Skill" }), nameInput),
    el("div", {}, el("label", { for: levelId, text: "Level" }), levelSelect),
  );
  const remove = el("button", {
    type: "button", class: "remove", text: "Remove",
    onclick: () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      (next ? next.querySelector("input") : list.parentElement.querySelector("button")).focus();
    },
  });
  remove.setAttribute("aria-label", "Remove skill");
  nameInput.addEventListener("input", () => remove.setAttribute("aria-label", `Remove skill ${nameInput.value}`));
  if (name) remove.setAttribute("aria-label", `Remove skill ${name}`);
  row.append(remove);
  list.append(row);
  return nameInput;
}

function readSkills(list) {
  const skills = {};
  for (const row of list.children) {
    const name = row.querySelector(".skill-name").value.trim();
    const level = row.querySelector(".skill-level");
    level.dataset.field = `skills.${name}`;
    row.querySelector(".skill-name").dataset.field = `skills.${name}`;
    if (name) skills[name] = Number(level.value);
  }
  return skills;
}

function windowRow(list, w = { day: 0, start: 9 * 60, end: 17 * 60 }) {
  uid += 1;
  const ids = { day: `win-day-${uid}`, start: `win-start-${uid}`, end: `win-end-${uid}` };
  const day = el("select", { id: ids.day, class: "win-day" });
  DAYS.forEach((name, i) => day.append(el("option", { value: String(i), text: name })));
  day.value = String(w.day);
  const start = el("input", { id: ids.start, class: "win-start", type: "time", required: true, value: minutesToTime(w.start) });
  const end = el("input", { id: ids.end, class: "win-end", type: "time", required: true, value: minutesToTime(w.end) });
  const row = el(
    "div",
    { class: "row item" },
    el("div", {}, el("label", { for: ids.day, text: "Day" }), day),
    el("div", {}, el("label", { for: ids.start, text: "Opens" }), start),
    el("div", {}, el("label", { for: ids.end, text: "Closes" }), end),
  );
  const remove = el("button", {
    type: "button", class: "remove", text: "Remove",
    onclick: () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      (next ? next.querySelector("select") : $("queue-add-window")).focus();
    },
  });
  remove.setAttribute("aria-label", "Remove opening window");
  row.append(remove);
  list.append(row);
  return day;
}

function readWindows(list) {
  return [...list.children].map((row, i) => {
    row.querySelector(".win-day").dataset.field = `hours.windows.${i}`;
    const start = timeToMinutes(row.querySelector(".win-start").value);
    let end = timeToMinutes(row.querySelector(".win-end").value);
    if (end === 0) end = 24 * 60; // 00:00 as a closing time is midnight at the end of the day
    return { day: Number(row.querySelector(".win-day").value), start, end };
  });
}

// ------------------------------------------------------------------ queues

// The service-level formula in words, as the wallboard shows it (videoassist/desk/today.py).
function slFormula(q) {
  const within = `answered within ${q.service_level} s`;
  return q.abandons_count
    ? `= ${within} ÷ (answered + abandoned), abandons under ${q.short_abandon} s left out`
    : `= ${within} ÷ answered, abandons left out`;
}

function showFormula() {
  $("queue-sl-formula").textContent = `Service level ${slFormula({
    service_level: $("queue-service-level").value || "?",
    short_abandon: $("queue-short-abandon").value || "?",
    abandons_count: $("queue-abandons-count").checked,
  })}.`;
}

for (const id of ["queue-service-level", "queue-short-abandon", "queue-abandons-count"]) {
  document.getElementById(id).addEventListener("input", showFormula);
}

function renderQueues() {
  const body = $("queues-table").tBodies[0];
  body.replaceChildren();
  for (const q of state.config.queues) {
    const limits = [
      `service level ${slFormula(q)}, target ${q.service_level_target}%`,
      q.max_wait === null ? null : `max wait ${q.max_wait} s`,
      q.max_length === null ? null : `max ${q.max_length} waiting`,
      `ring ${q.ring_timeout === null ? `${state.config.defaults.ring_timeout} s (default)` : `${q.ring_timeout} s`}`,
    ].filter(Boolean).join("; ");
    body.append(
      el(
        "tr",
        {},
        el("td", {}, el("code", { text: q.id })),
        el("td", { text: q.name }),
        el("td", { text: skillsText(q.skills) }),
        el("td", { text: STRATEGY_LABELS[q.strategy] || q.strategy }),
        el("td", { text: limits }),
        el("td", { text: q.overflow_to ? queueName(q.overflow_to) : "—" }),
        el("td", { text: hoursText(q.hours) }),
        el(
          "td",
          { class: "actions-cell" },
          el("button", { type: "button", text: "Edit", "aria-label": `Edit queue ${q.id}`, onclick: () => editQueue(q.id) }),
          el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete queue ${q.id}`, onclick: () => deleteQueue(q.id) }),
        ),
      ),
    );
  }
  // Choices that depend on the list of queues.
  const overflow = $("queue-overflow");
  const keep = overflow.value;
  overflow.replaceChildren(el("option", { value: "", text: "(none)" }));
  for (const q of state.config.queues) overflow.append(el("option", { value: q.id, text: queueName(q.id) }));
  overflow.value = keep;
  const strategy = $("queue-strategy");
  if (!strategy.options.length) {
    for (const s of state.config.options.strategies) strategy.append(el("option", { value: s, text: STRATEGY_LABELS[s] || s }));
  }
  $("queue-ring-timeout").placeholder = `${state.config.defaults.ring_timeout} (server default)`;
}

function fillQueueForm(q) {
  const form = $("queue-form");
  clearErrors(form);
  say("queue-form-status", "");
  state.editingQueue = q ? q.id : null;
  $("queue-form-title").textContent = q ? `Edit queue ${q.id}` : "New queue";
  const v = q || {
    id: "", name: "", skills: {}, strategy: state.config.options.strategies[0], service_level: 15,
    short_abandon: 5, abandons_count: true, service_level_target: 80, wait_alert: 60,
    max_wait: null, overflow_to: null, max_length: null, ring_timeout: null, wrap_up_limit: 120,
    max_missed: 1, priority_aging: 0, hours: { timezone: "UTC", windows: [] },
  };
  $("queue-id").value = v.id;
  $("queue-id").readOnly = Boolean(q);
  $("queue-name").value = v.name;
  $("queue-strategy").value = v.strategy;
  $("queue-service-level").value = v.service_level;
  $("queue-short-abandon").value = v.short_abandon;
  $("queue-abandons-count").checked = v.abandons_count;
  $("queue-sl-target").value = v.service_level_target;
  $("queue-wait-alert").value = v.wait_alert ?? "";
  showFormula();
  $("queue-max-wait").value = v.max_wait ?? "";
  $("queue-overflow").value = v.overflow_to ?? "";
  $("queue-max-length").value = v.max_length ?? "";
  $("queue-ring-timeout").value = v.ring_timeout ?? "";
  $("queue-wrap-up").value = v.wrap_up_limit;
  $("queue-max-missed").value = v.max_missed;
  $("queue-aging").value = v.priority_aging;
  $("queue-timezone").value = v.hours.timezone;
  $("queue-skills").replaceChildren();
  for (const [name, level] of Object.entries(v.skills)) skillRow($("queue-skills"), name, level);
  $("queue-windows").replaceChildren();
  for (const w of v.hours.windows) windowRow($("queue-windows"), w);
}

function editQueue(id) {
  fillQueueForm(state.config.queues.find((q) => q.id === id));
  $("queue-name").focus();
}

async function saveQueue(event) {
  event.preventDefault();
  const form = $("queue-form");
  clearErrors(form);
  const id = $("queue-id").value.trim();
  if (!(await newSkillsConfirmed($("queue-skills"), "queue-form-status"))) return;
  const body = {
    name: $("queue-name").value.trim(),
    skills: readSkills($("queue-skills")),
    strategy: $("queue-strategy").value,
    service_level: Number($("queue-service-level").value),
    short_abandon: Number($("queue-short-abandon").value),
    abandons_count: $("queue-abandons-count").checked,
    service_level_target: Number($("queue-sl-target").value),
    wait_alert: numberOrNull($("queue-wait-alert")),
    max_wait: numberOrNull($("queue-max-wait")),
    overflow_to: $("queue-overflow").value || null,
    max_length: numberOrNull($("queue-max-length")),
    ring_timeout: numberOrNull($("queue-ring-timeout")),
    wrap_up_limit: Number($("queue-wrap-up").value),
    max_missed: Number($("queue-max-missed").value),
    priority_aging: Number($("queue-aging").value),
    hours: { timezone: $("queue-timezone").value.trim(), windows: readWindows($("queue-windows")) },
  };
  say("queue-form-status", "Saving…");
  const res = await api("PUT", `/api/admin/queues/${encodeURIComponent(id)}`, body);
  if (!res.ok) {
    if (await handleAuth(res)) return;
    showError(form, "queue-form-status", res.data.error, `queues.${id}.`);
    return;
  }
  await reload();
  fillQueueForm(state.config.queues.find((q) => q.id === id));
  say("queue-form-status", `Queue ${id} ${res.status === 201 ? "created" : "saved"}.`);
}

// A delete (or a new skill) asks first in a modal dialog, not confirm(): focus starts on
// Cancel, Escape cancels, and focus goes back to what had it.
function confirmDialog(title, text, yesLabel, noLabel = "Cancel") {
  const dialog = $("confirm");
  const opener = document.activeElement;
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yesLabel;
  $("confirm-no").textContent = noLabel;
  return new Promise((resolve) => {
    const done = (answer) => {
      $("confirm-yes").onclick = null;
      $("confirm-no").onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    };
    $("confirm-yes").onclick = () => done(true);
    $("confirm-no").onclick = () => done(false);
    dialog.onclose = () => done(false); // Escape
    dialog.showModal();
    $("confirm-no").focus();
  });
}

function confirmDelete(title, text) {
  return confirmDialog(title, text, "Delete");
}

// --- Skills are chosen from those that exist; a new one is added on purpose, not by a typo.

function knownSkills() {
  const names = new Set();
  if (!state.config) return names;
  for (const q of state.config.queues) Object.keys(q.skills || {}).forEach((n) => names.add(n));
  for (const a of state.config.agents) Object.keys(a.skills || {}).forEach((n) => names.add(n));
  return names;
}

function fillSkillChoices() {
  $("known-skills").replaceChildren(
    ...[...knownSkills()].sort().map((name) => el("option", { value: name })),
  );
}

// True when every skill in ``list`` exists or the admin confirmed each new one.
async function newSkillsConfirmed(list, statusId) {
  const known = knownSkills();
  for (const input of list.querySelectorAll(".skill-name")) {
    const name = input.value.trim();
    if (!name || known.has(name)) continue;
    const closest = [...known].find((k) => k.toLowerCase() === name.toLowerCase());
    const hint = closest ? ` Did you mean ${closest}?` : "";
    input.focus();
    const yes = await confirmDialog(
      `Add the new skill ${name}?`,
      `No queue or agent has a skill named ${name} yet.${hint}`,
      "Add new skill",
    );
    if (!yes) {
      input.setAttribute("aria-invalid", "true");
      say(statusId, `Choose an existing skill instead of ${name}, or confirm it as a new one.`, true);
      input.focus();
      return false;
    }
    known.add(name);
  }
  return true;
}

async function deleteQueue(id) {
  if (!(await confirmDelete(`Delete queue ${id}?`, "Customers can no longer be routed to it. This cannot be undone."))) return;
  const res = await api("DELETE", `/api/admin/queues/${encodeURIComponent(id)}`);
  if (!res.ok) {
    if (await handleAuth(res)) return;
    say("queues-status", res.data.error.message, true);
    $("queues-title").focus();
    return;
  }
  await reload();
  if (state.editingQueue === id) fillQueueForm(null);
  say("queues-status", `Queue ${id} deleted.`);
  $("queues-title").focus();
}

// ------------------------------------------------------------------ topics

function renderTopics() {
  const body = $("topics-table").tBodies[0];
  body.replaceChildren();
  const topics = state.config.topics;
  for (const [index, t] of topics.entries()) {
    body.append(
      el(
        "tr",
        {},
        el("td", {}, el("code", { text: t.topic })),
        el("td", { text: t.label }),
        el("td", { text: queueName(t.queue_id) }),
        el("td", { text: String(t.priority) }),
        el(
          "td",
          { class: "actions-cell" },
          el("button", { type: "button", text: "Up", "aria-label": `Move topic ${t.topic} up`, "data-move": `${t.topic}:-1`, disabled: index === 0, onclick: () => moveTopic(t.topic, -1) }),
          el("button", { type: "button", text: "Down", "aria-label": `Move topic ${t.topic} down`, "data-move": `${t.topic}:1`, disabled: index === topics.length - 1, onclick: () => moveTopic(t.topic, 1) }),
          el("button", { type: "button", text: "Edit", "aria-label": `Edit topic ${t.topic}`, onclick: () => editTopic(t.topic) }),
          el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete topic ${t.topic}`, onclick: () => deleteTopic(t.topic) }),
        ),
      ),
    );
  }
  const select = $("topic-queue");
  const keep = select.value;
  select.replaceChildren(...state.config.queues.map((q) => el("option", { value: q.id, text: queueName(q.id) })));
  if (keep) select.value = keep;
}

// The customer page lists topics in this order (PUT /api/admin/topic-order). Focus stays on
// the button just used, on the row's new place, so a keyboard user can keep moving it.
async function moveTopic(topic, step) {
  const order = state.config.topics.map((t) => t.topic);
  const from = order.indexOf(topic);
  const to = from + step;
  if (from < 0 || to < 0 || to >= order.length) return;
  [order[from], order[to]] = [order[to], order[from]];
  const res = await api("PUT", "/api/admin/topic-order", { topics: order });
  if (!res.ok) {
    if (await handleAuth(res)) return;
    say("topics-status", res.data.error.message, true);
    return;
  }
  await reload();
  say("topics-status", `Topic ${topic} moved ${step < 0 ? "up" : "down"}: number ${to + 1} of ${order.length}.`);
  const same = document.querySelector(`[data-move="${topic}:${step}"]`);
  const other = document.querySelector(`[data-move="${topic}:${-step}"]`);
  (same && !same.disabled ? same : other).focus();
}

function fillTopicForm(t) {
  clearErrors($("topic-form"));
  say("topic-form-status", "");
  state.editingTopic = t ? t.topic : null;
  $("topic-form-title").textContent = t ? `Edit topic ${t.topic}` : "New topic";
  $("topic-id").value = t ? t.topic : "";
  $("topic-id").readOnly = Boolean(t);
  $("topic-label").value = t ? t.label : "";
  $("topic-queue").value = t ? t.queue_id : state.config.default_queue;
  $("topic-priority").value = t ? t.priority : 0;
  $("topic-guide").value = "";
  if (t) loadGuide(t.topic);
}

// --- Guides: the checklist agents tick during a topic's calls, saved with the topic.

async function loadGuide(topic) {
  const res = await api("GET", `/api/admin/topics/${encodeURIComponent(topic)}/guide`);
  if (res.ok && state.editingTopic === topic) {
    $("topic-guide").value = res.data.steps.map((s) => s.text).join("\n");
  }
}

async function saveGuide(topic) {
  const steps = $("topic-guide").value.split("\n").map((l) => l.trim()).filter(Boolean);
  const res = await api("PUT", `/api/admin/topics/${encodeURIComponent(topic)}/guide`, { steps });
  if (!res.ok) {
    const error = res.data.error;
    say("topic-form-status", `The topic is saved, but not its guide: ${error.message}`, true);
    $("topic-guide").setAttribute("aria-invalid", "true");
    $("topic-guide").focus();
    return false;
  }
  $("topic-guide").removeAttribute("aria-invalid");
  return true;
}

function editTopic(topic) {
  fillTopicForm(state.config.topics.find((t) => t.topic === topic));
  $("topic-label").focus();
}

async function saveTopic(event) {
  event.preventDefault();
  const form = $("topic-form");
  clearErrors(form);
  const id = $("topic-id").value.trim();
  const body = {
    label: $("topic-label").value.trim(),
    queue_id: $("topic-queue").value,
    priority: Number($("topic-priority").value),
  };
  say("topic-form-status", "Saving…");
  const res = await api("PUT", `/api/admin/topics/${encodeURIComponent(id)}`, body);
  if (!res.ok) {
    if (await handleAuth(res)) return;
    showError(form, "topic-form-status", res.data.error, `topics.${id}.`);
    return;
  }
  await reload();
  const guide = $("topic-guide").value;
  fillTopicForm(state.config.topics.find((t) => t.topic === id));
  $("topic-guide").value = guide;
  if (!(await saveGuide(id))) return;
  say("topic-form-status", `Topic ${id} ${res.status === 201 ? "created" : "saved"}.`);
}

async function deleteTopic(topic) {
  if (!(await confirmDelete(`Delete topic ${topic}?`, "The help page stops offering it. This cannot be undone."))) return;
  const res = await api("DELETE", `/api/admin/topics/${encodeURIComponent(topic)}`);
  if (!res.ok) {
    if (await handleAuth(res)) return;
    say("topics-status", res.data.error.message, true);
    $("topics-title").focus();
    return;
  }
  await reload();
  if (state.editingTopic === topic) fillTopicForm(null);
  say("topics-status", `Topic ${topic} deleted.`);
  $("topics-title").focus();
}

// ------------------------------------------------------------------ agents

function renderAgents() {
  const body = $("agents-table").tBodies[0];
  body.replaceChildren();
  for (const a of state.config.agents) {
    body.append(
      el(
        "tr",
        {},
        el("td", { text: `${a.display_name} (${a.username})` }),
        el("td", { text: a.role }),
        el("td", { text: skillsText(a.skills) }),
        el("td", { text: a.queues.map(queueName).join(", ") }),
        el(
          "td",
          { class: "actions-cell" },
          el("button", { type: "button", text: "Edit", "aria-label": `Edit agent ${a.username}`, onclick: () => editAgent(a.user_id) }),
        ),
      ),
    );
  }
  $("agents-empty").hidden = state.config.agents.length > 0;
  if (state.editingAgent !== null) {
    const agent = state.config.agents.find((a) => a.user_id === state.editingAgent);
    if (agent) fillAgentForm(agent);
    else closeAgentForm();
  }
}

function fillAgentForm(a) {
  clearErrors($("agent-form"));
  state.editingAgent = a.user_id;
  $("agent-form-title").textContent = `Agent ${a.display_name} (${a.username})`;
  $("agent-skills").replaceChildren();
  for (const [name, level] of Object.entries(a.skills)) skillRow($("agent-skills"), name, level);
  const checks = $("agent-queues");
  checks.replaceChildren();
  for (const q of state.config.queues) {
    uid += 1;
    const id = `agent-queue-${uid}`;
    checks.append(
      el(
        "div",
        { class: "check" },
        el("input", { type: "checkbox", id, value: q.id, checked: a.queues.includes(q.id) }),
        el("label", { for: id, text: queueName(q.id) }),
      ),
    );
  }
  $("agent-form").hidden = false;
}

function editAgent(userId) {
  say("agent-form-status", "");
  fillAgentForm(state.config.agents.find((a) => a.user_id === userId));
  const first = $("agent-skills").querySelector("input") || $("agent-add-skill");
  first.focus();
}

function closeAgentForm() {
  const returnTo = state.editingAgent;
  state.editingAgent = null;
  $("agent-form").hidden = true;
  const button = $("agents-table").querySelector(`button[aria-label="Edit agent ${CSS.escape(
    (state.config.agents.find((a) => a.user_id === returnTo) || {}).username || "",
  )}"]`);
  (button || $("agents-title")).focus();
}

async function saveAgent(event) {
  event.preventDefault();
  const form = $("agent-form");
  clearErrors(form);
  const userId = state.editingAgent;
  if (!(await newSkillsConfirmed($("agent-skills"), "agent-form-status"))) return;
  const body = {
    skills: readSkills($("agent-skills")),
    queues: [...$("agent-queues").querySelectorAll("input:checked")].map((box) => box.value),
  };
  say("agent-form-status", "Saving…");
  const res = await api("PUT", `/api/admin/agents/${userId}`, body);
  if (!res.ok) {
    if (await handleAuth(res)) return;
    const agent = state.config.agents.find((a) => a.user_id === userId);
    showError(form, "agent-form-status", res.data.error, `agents.${agent ? agent.agent_id : ""}.`);
    return;
  }
  await reload();
  say("agent-form-status", `Agent ${res.data.username} saved.`);
}

// ------------------------------------------------------------------ loading and login

// ------------------------------------------------------------------ logins

async function unlockLogin(event) {
  event.preventDefault();
  const form = $("unlock-form");
  clearErrors(form);
  const name = $("unlock-username").value.trim();
  const res = await api("DELETE", `/api/admin/login-throttles/${encodeURIComponent(name)}`);
  if (!res.ok) {
    if (await handleAuth(res)) return;
    showError(form, "unlock-form-status", res.data.error);
    return;
  }
  const released = res.data.released;
  say(
    "unlock-form-status",
    released ? `${name} may log in again (${released} wait${released === 1 ? "" : "s"} lifted).` : `${name} had no login waits.`,
  );
}

async function reload() {
  const res = await api("GET", "/api/admin/config");
  if (!res.ok) {
    await handleAuth(res);
    return false;
  }
  state.config = res.data;
  renderQueues();
  renderTopics();
  renderAgents();
  fillSkillChoices();
  return true;
}

// 401/403 from any call: back to the login form with a word about why.
async function handleAuth(res) {
  if (res.status === 401) {
    showLogin("Your session has ended. Please log in again.");
    return true;
  }
  if (res.status === 403 && res.data && res.data.error.code === "forbidden") {
    showLogin("This page is for admins. Log in with an admin account.");
    return true;
  }
  return false;
}

function showLogin(text) {
  $("admin").hidden = true;
  $("me").hidden = true;
  $("login").hidden = false;
  message(text || "", Boolean(text));
  $("username").focus();
}

function showAdmin(me) {
  $("admin-name").textContent = me ? me.display_name : "";
  $("me").hidden = !me;
  $("login").hidden = true;
  $("admin").hidden = false;
  message("");
  fillQueueForm(null);
  fillTopicForm(null);
  initStaff();
  initBranding();
  initIntegrations(confirmDialog);
  $("queues-title").focus();
}

async function boot() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("timezones").replaceChildren(...["UTC", ...zones].map((z) => el("option", { value: z })));
  const res = await api("GET", "/api/admin/config");
  if (res.status === 401) {
    showLogin("");
    return;
  }
  if (!res.ok) {
    if (!(await handleAuth(res))) message(res.data.error.message, true);
    return;
  }
  state.config = res.data;
  renderQueues();
  renderTopics();
  renderAgents();
  const me = await api("GET", "/api/me");
  showAdmin(me.ok ? me.data : null);
}

async function login(event) {
  event.preventDefault();
  message("");
  const res = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
  if (!res.ok) {
    message(res.data.error.message, true);
    $("password").select();
    return;
  }
  $("password").value = "";
  if (res.data.role !== "admin") {
    message("This page is for admins. Log in with an admin account.", true);
    $("username").select();
    return;
  }
  if (await reload()) showAdmin(res.data);
}

async function logout() {
  await api("POST", "/api/logout");
  state.config = null;
  showLogin("");
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("queue-form").addEventListener("submit", saveQueue);
$("queue-new").addEventListener("click", () => {
  fillQueueForm(null);
  $("queue-id").focus();
});
$("queue-add-skill").addEventListener("click", () => skillRow($("queue-skills")).focus());
$("queue-add-window").addEventListener("click", () => windowRow($("queue-windows")).focus());
$("topic-form").addEventListener("submit", saveTopic);
$("topic-new").addEventListener("click", () => {
  fillTopicForm(null);
  $("topic-id").focus();
});
$("agent-form").addEventListener("submit", saveAgent);
$("agent-add-skill").addEventListener("click", () => skillRow($("agent-skills")).focus());
$("agent-cancel").addEventListener("click", closeAgentForm);
$("unlock-form").addEventListener("submit", unlockLogin);
boot();
