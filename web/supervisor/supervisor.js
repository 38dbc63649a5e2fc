// Supervisor wallboard: the floor as the server pushes it (`floor`), and the actions a
// supervisor takes on it, each confirmed in a dialog first.
import { MarksLayer } from "/static/shared/marks.js";
import { call, openSocket, show, showMessage } from "/static/shared/signaling.js";
import { logIn } from "/static/shared/session.js";
import { LANGUAGES, TEXTS, pickLanguage, setLanguage, t, translatePage } from "/static/supervisor/texts.js";

const $ = (id) => document.getElementById(id);
const SUPERVISOR_ROLES = ["supervisor", "admin"];
const STATES = ["ready", "away", "offered", "busy", "wrap_up", "queued", "joining"];
const REASONS = ["away", "break", "lunch", "meeting", "training", "missed_offer", "signed_in"];
const stateLabel = (code) => (STATES.includes(code) ? t(`state.${code}`) : code);
const reasonLabel = (code) => (REASONS.includes(code) ? t(`reason.${code}`) : code || "—");
const state = { socket: null, me: null, picture: null, offset: 0, alerts: new Map(), pending: null,
  watch: null, marks: null, feed: null };
// For tests and debugging: the last picture and the page's socket.
window.videoassist = {
  get picture() { return state.picture; },
  get socket() { return state.socket; },
  get watching() { return state.watch; },
  texts: TEXTS,
  languages: LANGUAGES,
};

function message(text, isError = false) {
  showMessage($("message"), text, isError);
}

const topicLabels = new Map();

async function loadTopics() {
  try {
    const res = await fetch("/api/topics");
    if (res.ok) for (const { topic, label } of await res.json()) topicLabels.set(topic, label);
  } catch (err) {
    // Without labels the wallboard shows topic ids, which still say what a call is about.
  }
}

function topicLabel(topic) {
  return topic ? topicLabels.get(topic) || topic : t("topic.general");
}

// Seconds since a moment of the server's clock, as the server's clock reads now.
function since(moment) {
  return Math.max(0, Date.now() / 1000 - state.offset - moment);
}

function duration(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function orDash(value, suffix = "") {
  return value === null || value === undefined ? "—" : `${value}${suffix}`;
}

function secondsOrDash(value) {
  return value === null || value === undefined ? "—" : duration(value);
}

function cell(row, text, { header = false, num = false, sinceAt = null } = {}) {
  const el = document.createElement(header ? "th" : "td");
  if (header) el.scope = "row";
  if (num) el.className = "num";
  if (sinceAt !== null) {
    el.dataset.since = String(sinceAt);
    el.className = "num";
    el.textContent = duration(since(sinceAt));
  } else {
    el.textContent = text;
  }
  row.append(el);
  return el;
}

function button(label, action, id, extra = {}) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = action;
  b.dataset.id = id;
  for (const [k, v] of Object.entries(extra)) b.dataset[k] = v;
  return b;
}

function queueName(id) {
  const q = state.picture && state.picture.queues.find((x) => x.id === id);
  return q ? q.name : id || "—";
}

function agentName(id) {
  const a = state.picture && state.picture.agents.find((x) => x.id === id);
  return a ? a.name : id;
}

// A rebuilt table loses the focused button: put focus back on the same action for the same
// subject, so keyboard users are not thrown to the top of the page by a push.
function keepFocus(rebuild) {
  const focused = document.activeElement;
  const key = focused && focused.dataset && focused.dataset.action
    ? [focused.dataset.action, focused.dataset.id] : null;
  rebuild();
  if (!key) return;
  const again = document.querySelector(`button[data-action="${key[0]}"][data-id="${CSS.escape(key[1])}"]`);
  if (again) again.focus();
}

function render(picture) {
  state.picture = picture;
  state.offset = Date.now() / 1000 - picture.at;
  const day = picture.day;
  $("queues-caption").textContent = t("queues.captionDay", {
    start: day.starts_at, zone: day.time_zone, date: day.date,
  });
  keepFocus(() => {
    renderQueues(picture.queues);
    renderWaiting(picture.waiting);
    renderAgents(picture.agents);
    renderCalls(picture.calls);
  });
  renderAlerts(picture.alerts);
}

function renderQueues(queues) {
  const body = $("queues").tBodies[0];
  body.replaceChildren();
  const formulas = $("formulas");
  formulas.replaceChildren();
  for (const q of queues) {
    const row = body.insertRow();
    cell(row, q.name, { header: true });
    cell(row, String(q.waiting), { num: true });
    if (q.longest_since === null) cell(row, "—", { num: true });
    else cell(row, "", { sinceAt: q.longest_since });
    const sl = cell(row, q.service_level === null
      ? "—" : t("queue.level", { level: q.service_level, target: q.target }), { num: true });
    if (q.service_level !== null && q.service_level < q.target) sl.classList.add("below");
    cell(row, String(q.answered), { num: true });
    cell(row, t("queue.abandoned", { count: q.abandoned, short: q.short_abandoned }), { num: true });
    cell(row, secondsOrDash(q.asa), { num: true });
    cell(row, secondsOrDash(q.aht), { num: true });
    cell(row, orDash(q.occupancy, "%"), { num: true });
    cell(row, expectedWait(q), { num: true });
    for (const key of ["ready", "busy", "wrap_up", "away"]) {
      const count = key === "busy" ? q.agents.busy + q.agents.offered : q.agents[key];
      cell(row, String(count), { num: true });
    }
    const item = document.createElement("li");
    item.textContent = t("formula.line", { queue: q.name, formula: formula(q), target: q.target })
      + (q.wait_alert === null ? "" : t("formula.alert", { seconds: q.wait_alert }));
    formulas.append(item);
  }
}

// The formula a queue's service level follows (the server's `formula`, in the page's language).
function formula(q) {
  const within = t("formula.within", { seconds: q.threshold });
  return q.abandons_count
    ? t("formula.abandonsCount", { within, short: q.short_abandon })
    : t("formula.abandonsOut", { within });
}

// Erlang C for a customer joining now, with what it stands on: a model fed by a handful of
// calls deserves less trust, and the supervisor should see that.
function expectedWait(q) {
  if (q.expected_wait === null) return t("expected.nobody");
  const h = q.history;
  const basis = h.handled >= 10 && h.arrivals >= 10
    ? t("expected.erlang", { calls: h.handled, aht: Math.round(q.handle_time) })
    : t("expected.recent", { calls: h.handled });
  return t("expected.value", { seconds: Math.round(q.expected_wait), basis });
}

function renderWaiting(waiting) {
  const body = $("waiting").tBodies[0];
  body.replaceChildren();
  if (!waiting.length) {
    const row = body.insertRow();
    const td = cell(row, t("waiting.nobody"));
    td.colSpan = 8;
    return;
  }
  for (const w of waiting) {
    const row = body.insertRow();
    cell(row, w.ticket_id.slice(0, 8), { header: true });
    cell(row, queueName(w.queue_id));
    cell(row, String(w.position), { num: true });
    cell(row, topicLabel(w.topic));
    cell(row, "", { sinceAt: w.since });
    cell(row, String(w.priority), { num: true });
    const what = [stateLabel(w.state)];
    if (w.callback) what.push(t("waiting.callback"));
    if (!w.connected && !w.callback) what.push(t("waiting.lost"));
    cell(row, what.join(", "));
    const actions = cell(row, "");
    actions.className = "actions-cell";
    const who = t("waiting.who", { id: w.ticket_id.slice(0, 8) });
    actions.append(
      button(t("action.move"), "move", w.ticket_id, { who, queue: w.queue_id }),
      button(t("action.priority"), "set_priority", w.ticket_id, { who, priority: String(w.priority) }),
    );
    // The visible word first, so that speech commands ("click Move") and the name agree.
    for (const b of actions.querySelectorAll("button")) b.setAttribute("aria-label", `${b.textContent} ${who}`);
  }
}

function renderAgents(agents) {
  const body = $("agents").tBodies[0];
  body.replaceChildren();
  if (!agents.length) {
    const td = cell(body.insertRow(), t("agents.none"));
    td.colSpan = 7;
    return;
  }
  for (const a of agents) {
    const row = body.insertRow();
    cell(row, a.name, { header: true });
    cell(row, stateLabel(a.state));
    cell(row, "", { sinceAt: a.since });
    cell(row, a.state === "away" ? reasonLabel(a.reason) : "—");
    if (a.call) {
      cell(row, t("agents.call", { topic: topicLabel(a.call.topic), queue: queueName(a.call.queue_id) }));
      cell(row, "", { sinceAt: a.call.since });
    } else {
      cell(row, "—");
      cell(row, "—");
    }
    const actions = cell(row, "");
    actions.className = "actions-cell";
    const away = button(t("action.setAway"), "set_away", a.id, { who: a.name });
    away.setAttribute("aria-label", t("action.setAwayWho", { who: a.name }));
    away.disabled = !["ready", "away", "offered"].includes(a.state);
    const out = button(t("action.signOut"), "sign_out", a.id, { who: a.name });
    out.setAttribute("aria-label", t("action.signOutWho", { who: a.name }));
    out.classList.add("danger");
    actions.append(away, out);
  }
}

const RECORDING_STATES = ["recording", "paused", "off"];

// One leg as the server measures it: "RTT 40 ms, loss 0.2%, 850 kb/s, 1 freeze" (and "video
// transcoded" when the server decodes and re-encodes what this party receives).
function legText(leg) {
  if (!leg) return "—";
  const parts = [
    t("quality.rtt", { value: orDash(leg.rtt_ms, " ms") }),
    t("quality.loss", { value: orDash(leg.loss_pct, "%") }),
    `${orDash(leg.kbps, " kb/s")}`,
    t(leg.freezes === 1 ? "quality.freeze" : "quality.freezes", { count: leg.freezes }),
  ];
  // The party's codec differs from the other side's: the server re-encodes its video.
  if (leg.transcoded) parts.push(t("quality.transcoded"));
  return parts.join(", ");
}

function qualityText(quality) {
  if (!quality) return "—";
  return t("quality.both", { customer: legText(quality.customer), agent: legText(quality.agent) });
}

function renderCalls(calls) {
  const body = $("calls").tBodies[0];
  body.replaceChildren();
  if (!calls.length) {
    const td = cell(body.insertRow(), t("calls.none"));
    td.colSpan = 7;
    return;
  }
  for (const c of calls) {
    const row = body.insertRow();
    cell(row, c.agent_name, { header: true });
    cell(row, queueName(c.queue_id));
    cell(row, topicLabel(c.topic));
    cell(row, "", { sinceAt: c.since });
    cell(row, RECORDING_STATES.includes(c.recording) ? t(`recording.${c.recording}`) : "—");
    cell(row, qualityText(c.quality));
    const listen = cell(row, "");
    listen.className = "actions-cell";
    const watching = state.watch && state.watch.sessionId === c.session_id;
    const b = button(t(watching ? "listen.on" : "listen.start"), "watch", c.session_id);
    b.setAttribute("aria-label", t(watching ? "listen.onWho" : "listen.startWho", { agent: c.agent_name }));
    b.disabled = watching;
    listen.append(b);
  }
  if (state.watch && !calls.some((c) => c.session_id === state.watch.sessionId)) {
    stopWatching(t("watch.ended"));
  }
}

// ---------------------------------------------------------------- listening in on a call
// The supervisor's own peer connection (docs/protocol.md "supervise"): four sections, in this
// order: customer audio and video, agent audio and video. Listen only never sends; whisper and
// join send the microphone on the first audio section. A mode change is a new offer.
const KIND_EVENTS = {
  annotate_points: "annotation_points", annotation_remove: "annotation_removed",
  annotations_clear: "annotations_cleared", annotation_moved: "annotation_moved", laser: "laser",
};

// The call's events as the shared marks layer listens to them (the parties' event names).
class CallFeed {
  constructor() { this.handlers = {}; }
  on(name, handler) { this.handlers[name] = handler; }
  emit({ kind, data }) {
    if (kind === "annotate") {
      const { target, ...annotation } = data;
      this.handlers.annotation && this.handlers.annotation({ target, annotation });
    } else if (KIND_EVENTS[kind] && this.handlers[KIND_EVENTS[kind]]) {
      this.handlers[KIND_EVENTS[kind]](data);
    }
  }
}

function watchStatus(text) {
  $("watch-status").textContent = text;
}

async function listenIn(sessionId, mode) {
  const previous = state.watch;
  let mic = null;
  try {
    if (mode !== "monitor") mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    watchStatus(t("watch.noMic", { error: err.message }));
    return;
  }
  if (previous) closePeer(previous);
  const pc = new RTCPeerConnection({ iceServers: [] });
  const watch = { sessionId, mode, pc, mic };
  state.watch = watch;
  const voice = mic ? mic.getAudioTracks()[0] : null;
  pc.addTransceiver(voice || "audio", { direction: voice ? "sendrecv" : "recvonly" });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addTransceiver("video", { direction: "recvonly" });
  const streams = { customer: new MediaStream(), agent: new MediaStream() };
  $("watch-customer").srcObject = streams.customer;
  $("watch-agent").srcObject = streams.agent;
  pc.ontrack = (ev) => {
    const index = pc.getTransceivers().indexOf(ev.transceiver);
    (index < 2 ? streams.customer : streams.agent).addTrack(ev.track);
  };
  pc.onicecandidate = (ev) => {
    if (!ev.candidate || state.watch !== watch) return;
    call(state.socket, "supervise_candidate", {
      session_id: sessionId,
      candidate: ev.candidate.candidate,
      sdpMid: ev.candidate.sdpMid,
      sdpMLineIndex: ev.candidate.sdpMLineIndex,
    }).catch(() => {});
  };
  show("watch", true);
  watchStatus(t("watch.connecting"));
  try {
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await call(state.socket, "supervise", {
      session_id: sessionId, mode, type: "offer", sdp: pc.localDescription.sdp,
    });
    await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    if (!state.marks) {
      state.feed = new CallFeed();
      state.marks = new MarksLayer({ canvas: $("watch-marks"), socket: state.feed });
    }
    state.marks.load((answer.room && answer.room.annotations) || {});
    state.marks.show($("watch-customer"), "live");
  } catch (err) {
    if (state.watch === watch) stopWatching(t("watch.failed", { error: err.message }));
    return;
  }
  for (const m of ["monitor", "whisper", "barge"]) {
    $(`watch-${m}`).setAttribute("aria-pressed", String(m === mode));
  }
  watchStatus(t(`watch.mode.${mode}`));
  if (state.picture) keepFocus(() => renderCalls(state.picture.calls));
}

function closePeer(watch) {
  watch.pc.ontrack = null;
  watch.pc.onicecandidate = null;
  watch.pc.close();
  if (watch.mic) watch.mic.getTracks().forEach((t) => t.stop());
}

function stopWatching(status) {
  const watch = state.watch;
  if (!watch) return;
  state.watch = null;
  closePeer(watch);
  $("watch-customer").srcObject = null;
  $("watch-agent").srcObject = null;
  if (state.marks) state.marks.reset();
  show("watch", false);
  message(status);
  if (state.picture) keepFocus(() => renderCalls(state.picture.calls));
}

async function leave() {
  const watch = state.watch;
  if (!watch) return;
  try {
    await call(state.socket, "leave", { session_id: watch.sessionId });
  } catch (err) {
    // Left already (the call ended): the page just stops.
  }
  stopWatching(t("watch.left"));
}

// Alerts are added to the live region one by one as they appear, so a screen reader announces
// each new one once; alerts that cleared are removed quietly.
function renderAlerts(alerts) {
  const box = $("alerts");
  const now = new Map(alerts.map((a) => [`${a.queue_id}:${a.kind}`, a]));
  for (const [key, el] of state.alerts) {
    if (!now.has(key)) {
      el.remove();
      state.alerts.delete(key);
    }
  }
  for (const [key, alert] of now) {
    const el = state.alerts.get(key);
    const text = alertText(alert);
    if (el) {
      if (el.textContent !== text) el.textContent = text;
      continue;
    }
    const p = document.createElement("p");
    p.textContent = text;
    p.dataset.kind = alert.kind;
    box.append(p);
    state.alerts.set(key, p);
  }
  show("no-alerts", state.alerts.size === 0);
}

// The alert in the page's language from its figures (the server's `message` is English).
function alertText(alert) {
  const queue = queueName(alert.queue_id);
  if (alert.kind === "service_level" && alert.level !== undefined) {
    return t("alert.service_level", { queue, level: alert.level, target: alert.target });
  }
  if (alert.kind === "longest_wait" && alert.seconds !== undefined) {
    return t("alert.longest_wait", { queue, seconds: alert.seconds });
  }
  return alert.message;
}

function tick() {
  for (const el of document.querySelectorAll("[data-since]")) {
    el.textContent = duration(since(Number(el.dataset.since)));
  }
}

// --- Actions, confirmed in a dialog

const ACTIONS = {
  set_away: {
    field: "confirm-reason-field",
    payload: (id) => ({ agent_id: id, reason: $("confirm-reason").value }),
  },
  sign_out: { payload: (id) => ({ agent_id: id }) },
  move: {
    field: "confirm-queue-field",
    payload: (id) => ({ ticket_id: id, queue_id: $("confirm-queue").value }),
  },
  set_priority: {
    field: "confirm-priority-field",
    payload: (id) => ({ ticket_id: id, priority: Number($("confirm-priority").value) }),
  },
};

function openDialog(target) {
  const { action, id, who } = target.dataset;
  const spec = ACTIONS[action];
  state.pending = { action, id, who, opener: target };
  $("confirm-title").textContent = t(`do.${action}.title`);
  $("confirm-text").textContent = t(`do.${action}.text`, { who });
  for (const field of ["confirm-reason-field", "confirm-queue-field", "confirm-priority-field"]) {
    show(field, field === spec.field);
  }
  if (action === "move") {
    const select = $("confirm-queue");
    select.replaceChildren();
    for (const q of state.picture.queues) {
      if (q.id === target.dataset.queue) continue;
      select.append(new Option(q.name, q.id));
    }
  }
  if (action === "set_priority") $("confirm-priority").value = target.dataset.priority;
  $("confirm").returnValue = "";
  $("confirm").showModal();
  const first = spec.field ? $(spec.field).querySelector("select, input") : $("confirm-ok");
  first.focus();
}

async function dialogClosed() {
  const pending = state.pending;
  state.pending = null;
  if (!pending) return;
  const back = document.querySelector(
    `button[data-action="${pending.action}"][data-id="${CSS.escape(pending.id)}"]`,
  );
  (back || $("board")).focus?.();
  if ($("confirm").returnValue !== "ok") return;
  const spec = ACTIONS[pending.action];
  try {
    await call(state.socket, pending.action, spec.payload(pending.id));
    message(t(`do.${pending.action}.done`, { who: pending.who, queue: queueName($("confirm-queue").value) }));
  } catch (err) {
    message(err.message, true);
  }
}

// --- Session

async function boot() {
  await loadTopics();
  const res = await fetch("/api/me");
  if (res.status === 401) {
    show("login", true);
    $("username").focus();
    return;
  }
  state.me = await res.json();
  start();
}

async function login(event) {
  event.preventDefault();
  message("");
  const { ok, data: body } = await logIn($("username").value, $("password").value);
  if (!ok) {
    message(body?.error ? body.error.message : t("login.failed"), true);
    $("password").select();
    return;
  }
  $("password").value = "";
  state.me = body;
  start();
}

async function logout() {
  await fetch("/api/logout", { method: "POST" });
  window.location.reload();
}

function start() {
  show("login", false);
  $("me-name").textContent = state.me.display_name;
  show("me", true);
  if (!SUPERVISOR_ROLES.includes(state.me.role)) {
    message(t("role.supervisors"), true);
    return;
  }
  const socket = openSocket("/supervisor", {});
  state.socket = socket;
  socket.on("connect", async () => {
    $("link-state").textContent = t("link.live");
    try {
      render(await call(socket, "sync"));
      show("board", true);
    } catch (err) {
      message(err.message, true);
    }
  });
  socket.on("connect_error", (err) => {
    const code = err.data && err.data.code;
    if (code === "login_required") {
      socket.disconnect();
      show("me", false);
      show("board", false);
      show("login", true);
      return;
    }
    if (code === "wrong_role") {
      socket.disconnect();
      message(t("role.wrong"), true);
      return;
    }
    message(t("unreachable", { error: err.message }), true);
  });
  socket.on("disconnect", (reason) => {
    $("link-state").textContent = t("link.reconnecting");
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 3000);
  });
  socket.on("floor", render);
  socket.on("call_event", (ev) => {
    if (state.feed && state.watch) state.feed.emit(ev);
  });
  // The server carrying the call's media went away and the call was opened on another: the
  // wallboard's own connection died with it; join again, in the same mode.
  socket.on("media_moved", (data) => {
    const watch = state.watch;
    if (watch && data.session_id === watch.sessionId) listenIn(watch.sessionId, watch.mode);
  });
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("confirm").addEventListener("close", dialogClosed);
document.addEventListener("click", (ev) => {
  const target = ev.target.closest && ev.target.closest("button[data-action]");
  if (target && target.dataset.action === "watch") listenIn(target.dataset.id, "monitor");
  else if (target && ACTIONS[target.dataset.action]) openDialog(target);
});
for (const mode of ["monitor", "whisper", "barge"]) {
  $(`watch-${mode}`).addEventListener("click", () => {
    if (state.watch && state.watch.mode !== mode) listenIn(state.watch.sessionId, mode);
  });
}
$("watch-leave").addEventListener("click", leave);
$("language").addEventListener("change", (ev) => {
  setLanguage(ev.target.value);
  applyLanguage();
});

// Everything on the page in the chosen language: the markup, then what the script drew.
function applyLanguage() {
  translatePage();
  const live = state.socket && state.socket.connected;
  $("link-state").textContent = t(live ? "link.live" : "link.connecting");
  if (state.picture) render(state.picture);
  if (state.watch) watchStatus(t(`watch.mode.${state.watch.mode}`));
}

setLanguage(pickLanguage());
$("language").value = pickLanguage();
applyLanguage();
setInterval(tick, 1000);
boot();
