// Agent console: log in, go Ready, answer offers, talk over video, wrap up. Its words are in
// web/shared/i18n-agent.js (English and French), in the browser's language unless the agent
// picks one; what the script shows goes through say() so that a switch rewords it.
import { TutorialPanel } from "/static/agent/tutorials.js";
import { StrokeBatcher, isOverPicture, normalize } from "/static/shared/annotations.js";
import { ChatPanel } from "/static/shared/chat.js";
import { MarksLayer } from "/static/shared/marks.js";
import { QualityMeter } from "/static/shared/quality.js";
import { CallContext } from "/static/agent/context.js";
import {
  LANGUAGES, has, language, pickLanguage, say, setLanguage, t,
} from "/static/shared/i18n.js";
import {
  AckError, ServerPeer, call, openSocket, show, showMessage, stopStream, toggleTracks,
} from "/static/shared/signaling.js";
import { logIn } from "/static/shared/session.js";

const $ = (id) => document.getElementById(id);
const state = {
  socket: null, me: null, offer: null, countdown: null, ringer: null,
  sessionId: null, peer: null, camera: null, wrapSession: null, chat: null, frozen: null,
  marks: null, tool: "arrow", drawing: null, mine: [], shown: null, markSeq: 0, lastLaser: 0,
  callTimer: null, quality: null, cursor: null, keyStart: null,
};
// For tests and debugging: the live peer connection and the console's socket.
window.videoassist = {
  get peer() { return state.peer && state.peer.pc; },
  get socket() { return state.socket; },
};

// The alert box: a text by its key, kept on the box so that a switch of language rewords it;
// no key clears it.
function message(key, vars = {}, isError = false) {
  const box = $("message");
  if (!key) {
    showMessage(box, "");
    return;
  }
  showMessage(box, t(key, vars), isError);
  say(box, key, vars);
}

// [key, vars] for a failure: a refusal worded by its code, for the kind of request `where`
// ("chat", "mark") first (agent.server.<where>.<code>, then agent.server.<code>), else the
// server's own words; a failure in this browser (setting up the video) in the browser's words.
function explain(err, where = null) {
  if (!(err instanceof AckError)) return ["agent.browser.failed", { message: err.message }];
  const keys = [`agent.server.${err.code}`];
  if (where) keys.unshift(`agent.server.${where}.${err.code}`);
  const key = keys.find(has);
  return key ? [key, {}] : ["agent.server.unknown", { message: err.message }];
}

function failed(err, where = null) {
  const [key, vars] = explain(err, where);
  message(key, vars, true);
}

const markFailed = (err) => failed(err, "mark");

// ------------------------------------------------------------------ language

// The same switch as the other staff pages: the remembered choice, else the browser's.
function showLanguages() {
  const select = $("language");
  for (const [code, { name }] of Object.entries(LANGUAGES)) {
    const option = new Option(name, code);
    option.lang = code;
    select.append(option);
  }
  const lang = pickLanguage();
  select.value = lang;
  setLanguage(lang);
  select.addEventListener("change", () => {
    setLanguage(select.value, { remember: true });
    // What is drawn from data rather than marked with say(): drawn again in the new words.
    if (state.lastQuality) showQuality(...state.lastQuality);
    if (state.context) state.context.relabel();
    if (state.tutorials) state.tutorials.relabel();
  });
}

function panel(name) {
  for (const id of ["login", "idle", "offer", "live", "wrapup"]) show(id, id === name);
}

// An audible ring made with Web Audio, so no media file is needed.
function startRinging() {
  stopRinging();
  try {
    const ctx = new AudioContext();
    const beep = () => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.4);
    };
    beep();
    state.ringer = { ctx, timer: setInterval(beep, 1500) };
  } catch (err) {
    state.ringer = null;
  }
}

function stopRinging() {
  if (!state.ringer) return;
  clearInterval(state.ringer.timer);
  state.ringer.ctx.close();
  state.ringer = null;
}

function setState(data) {
  const badge = $("state");
  badge.className = `badge ${data.state}`;
  if (has(`agent.state.${data.state}`)) say(badge, `agent.state.${data.state}`);
  else {
    say(badge, null);
    badge.textContent = data.state;
  }
  $("ready").disabled = data.state !== "away";
  $("away").disabled = !["ready", "away", "offered"].includes(data.state);
  if (data.state === "away") {
    say($("idle-text"), data.reason === "missed_offer" ? "agent.idle.missed" : "agent.idle.away");
    if (!state.sessionId && !state.wrapSession) panel("idle");
  } else if (data.state === "ready") {
    say($("idle-text"), "agent.idle.ready");
    if (!state.sessionId && !state.wrapSession) panel("idle");
  }
}

// Trainers and admins have pages of their own; this console would only look live to them.
function notForThisRole() {
  show("me", false);
  panel("idle");
  const text = $("idle-text");
  say(text, null); // its parts carry the texts, so that a switch keeps the link and the button
  const why = document.createElement("span");
  say(why, "agent.role.notAgent");
  text.append(why, " ");
  if (state.me && state.me.role === "admin") {
    const link = document.createElement("a");
    link.href = "/admin";
    say(link, "agent.role.admin");
    text.append(link, ".");
  }
  const out = document.createElement("button");
  out.type = "button";
  say(out, "agent.logout");
  out.addEventListener("click", logout);
  text.append(" ", out);
}

// Topic labels as customers see them; offers name topics by id.
const topicLabels = new Map();

async function loadTopics() {
  try {
    const res = await fetch("/api/topics");
    if (res.ok) for (const { topic, label } of await res.json()) topicLabels.set(topic, label);
  } catch (err) {
    // Without labels the console shows the topic ids, which still say what the call is about.
  }
}

// A topic's label (the operator's words) in `el`, or "General help" in the agent's language.
function showTopic(el, topic) {
  if (!topic) {
    say(el, "agent.generalHelp");
    return;
  }
  say(el, null);
  el.textContent = topicLabels.get(topic) || topic;
}

function topicLabel(topic) {
  return topic ? topicLabels.get(topic) || topic : t("agent.generalHelp");
}

async function boot() {
  if (!window.isSecureContext) {
    // Plain HTTP to a network address: the browser will not give this page camera or
    // microphone, whatever the agent allows. Say so before anything fails more obscurely.
    message("agent.insecure", {}, true);
  }
  await loadTopics();
  const res = await fetch("/api/me");
  if (res.status === 401) {
    panel("login");
    $("username").focus();
    return;
  }
  state.me = await res.json();
  start();
}

async function login(event) {
  event.preventDefault();
  message(null);
  const { ok, status, retryAfter, data: body } = await logIn($("username").value, $("password").value);
  if (!ok) {
    if (status === 401) message("agent.login.wrong", {}, true);
    else if (status === 429 && retryAfter) message("agent.login.throttled", { seconds: retryAfter }, true);
    else if (body?.error) failed(new AckError(body.error.code, body.error.message));
    else message("agent.login.failed", {}, true);
    $("password").select();
    return;
  }
  $("password").value = "";
  state.me = body;
  start();
}

function start() {
  state.context = new CallContext();
  $("agent-name").textContent = state.me.display_name;
  show("me", true);
  panel("idle");
  const socket = openSocket("/agent", {});
  state.socket = socket;
  socket.on("connect", async () => {
    message(null);
    try {
      const now = await call(socket, "sync");
      restore(now);
      state.context.refreshQueues();
    } catch (err) {
      failed(err);
    }
  });
  socket.on("connect_error", (err) => {
    const code = err.data && err.data.code;
    if (code === "login_required") {
      socket.disconnect();
      show("me", false);
      panel("login");
      return;
    }
    if (code === "wrong_role") {
      socket.disconnect();
      notForThisRole();
      return;
    }
    message("agent.unreachable", { message: err.message }, true);
  });
  // Another tab or window took the console over: say so, and do not take it back.
  socket.on("replaced", () => {
    state.replaced = true;
    message("agent.replaced", {}, true);
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io client disconnect" || state.replaced) return;
    if (state.sessionId) {
      // The call waits for this console (CALL_RESUME_WINDOW): once back, sync says it is
      // busy in it and startSession offers media anew (the server may have restarted).
      dropCall();
      message("agent.disconnectedInCall", {}, true);
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 3000);
      return;
    }
    message("agent.disconnected", {}, true);
    // socket.io does not retry when the server closed the connection (restart, other tab).
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 3000);
  });
  socket.on("agent_state", (data) => {
    if (data.by) {
      // A supervisor's doing: a ringing offer went back to the line, and the agent hears why.
      clearOffer();
      message("agent.setAwayBy", { name: data.by });
    }
    setState(data);
  });
  // A supervisor signed this console out: say so, and do not sign straight back in.
  socket.on("signed_out", (data) => {
    state.replaced = true;
    clearOffer();
    message("agent.signedOutBy", { name: data.by }, true);
  });
  socket.on("waiting", (data) => {
    say($("waiting-count"), "agent.waiting", { count: data.waiting });
    state.context.refreshQueues();
  });
  socket.on("offer", showOffer);
  socket.on("offer_withdrawn", () => {
    clearOffer();
    message("agent.offer.withdrawn");
    panel("idle");
  });
  socket.on("offer_missed", (data) => {
    clearOffer();
    panel("idle");
    if (data.missed > 1) message("agent.offer.missedMany", { count: data.missed });
    else message("agent.offer.missed");
  });
  socket.on("transfer_failed", (data) => {
    message(data.reason === "declined" ? "agent.transfer.declined" : "agent.transfer.failed", {}, true);
  });
  socket.on("wrap_up_expired", () => {
    state.wrapSession = null;
    panel("idle");
    message("agent.wrapup.expired");
  });
  socket.on("session_started", (data) => startSession(data));
  socket.on("peer_dropped", (data) => {
    say($("live-status"), "agent.peer.dropped", { seconds: Math.round(data.seconds) });
  });
  socket.on("peer_returned", () => {
    say($("live-status"), "agent.peer.returned");
  });
  // The server that carried the call's media went away and the call was opened on another:
  // the same call, a new peer connection, built as after a reconnection (sync, then media).
  socket.on("media_moved", async (data) => {
    if (!state.sessionId || data.session_id !== state.sessionId) return;
    dropCall();
    message("agent.mediaMoved");
    try {
      restore(await call(socket, "sync"));
    } catch (err) {
      failed(err);
    }
  });
  state.tutorials = (state.tutorials || new TutorialPanel()).attach(socket);
  socket.on("session_ended", (data) => endSession(data));
  socket.on("frozen", (data) => { state.frozen = data.still_id; showStill(data.url); });
  socket.on("unfrozen", () => { state.frozen = null; showStill(null); });
  socket.on("photo", addPhoto);
  socket.on("recording_state", showRecording);
  socket.on("supervision", (data) => {
    const keys = { whisper: "agent.supervision.whisper", barge: "agent.supervision.barge" };
    say($("live-status"), keys[data.mode] || "agent.supervision.left");
  });
  socket.on("source_declined", (data) => {
    say($("live-status"), data.source === "screen" ? "agent.source.declinedScreen" : "agent.source.declinedCamera");
  });
  socket.on("customer_media", showCustomerMedia);
  socket.on("source_changed", (data) => {
    say($("customer-source"), data.source === "screen" ? "agent.source.screen" : "agent.source.camera");
  });
  state.chat = new ChatPanel({ root: $("chat"), socket, me: "agent", describe: (err) => explain(err, "chat") });
  state.marks = new MarksLayer({ canvas: $("marks"), socket });
  // The tracker found a lost sticky mark's object again: the mark follows it once more.
  socket.on("annotation_moved", (data) => {
    if (data.found) message("agent.mark.found");
  });
  socket.on("annotation_lost", () => {
    message("agent.mark.lost");
  });
  state.marks.show($("remote"), "live");
}

// The customer turned their microphone or camera off (customer_media): their tracks still flow
// as silence and black frames, so say it rather than leave the agent wondering.
function showCustomerMedia(media) {
  const muted = Boolean(media && media.audio === false);
  const dark = Boolean(media && media.video === false);
  const key = muted && dark ? "agent.media.both" : muted ? "agent.media.muted" : dark ? "agent.media.cameraOff" : null;
  say($("customer-media"), key);
}

// --- Drawing on the customer's picture

function markId() {
  state.markSeq += 1;
  return `m${Date.now().toString(36)}${state.markSeq}`;
}

function picture() {
  return $("still").hidden ? $("remote") : $("still");
}

function style() {
  const sticky = $("mark-sticky").checked && state.marks.target === "live";
  return { color: $("mark-color").value, width: Number($("mark-width").value), sticky };
}

async function sendMark(annotation) {
  try {
    await call(state.socket, "annotate", {
      session_id: state.sessionId, target: state.marks.target, annotation,
    });
    if (annotation.kind !== "laser") state.mine.push({ target: state.marks.target, id: annotation.id });
  } catch (err) {
    markFailed(err);
  }
}

function shapeFrom(kind, a, b, extra) {
  const [x0, y0] = a;
  const [x1, y1] = b;
  if (kind === "arrow") return { kind, from: a, to: b, ...extra };
  if (kind === "rect") {
    return { kind, x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0), h: Math.abs(y1 - y0), ...extra };
  }
  return {
    kind: "ellipse",
    center: [(x0 + x1) / 2, (y0 + y1) / 2],
    radii: [Math.max(0.002, Math.abs(x1 - x0) / 2), Math.max(0.002, Math.abs(y1 - y0) / 2)],
    ...extra,
  };
}

const batcher = new StrokeBatcher(({ points, first }) => {
  if (!state.sessionId || !points.length) return;
  if (first) {
    state.drawing = { id: markId() };
    sendMark({ kind: "pen", id: state.drawing.id, points, ...style() });
  } else if (state.drawing) {
    call(state.socket, "annotate_points", {
      session_id: state.sessionId, target: state.marks.target, id: state.drawing.id, points,
    }).catch(markFailed);
  }
});

function pointerDown(ev) {
  if (!state.sessionId || !isOverPicture(ev, picture())) return;
  ev.preventDefault();
  $("marks").setPointerCapture(ev.pointerId);
  const at = normalize(ev, picture());
  if (state.tool === "pen") batcher.begin(at);
  else if (state.tool === "text") {
    const text = $("mark-text").value.trim();
    if (!text) {
      message("agent.mark.labelFirst");
      $("mark-text").focus();
      return;
    }
    const { color, sticky } = style();
    sendMark({ kind: "text", id: markId(), at, text, color, sticky });
  } else if (state.tool !== "laser") state.drawing = { start: at };
}

function pointerMove(ev) {
  if (!state.sessionId) return;
  const at = normalize(ev, picture());
  if (state.tool === "laser") {
    const now = performance.now();
    if (now - state.lastLaser > 100 && isOverPicture(ev, picture())) {
      state.lastLaser = now;
      sendMark({ kind: "laser", id: markId(), at, color: style().color });
    }
    return;
  }
  if (state.tool === "pen") batcher.add(at);
  else if (state.drawing && state.drawing.start) {
    state.marks.preview = { ...shapeFrom(state.tool, state.drawing.start, at, style()), id: "preview" };
  }
}

function pointerUp(ev) {
  if (!state.sessionId) return;
  const at = normalize(ev, picture());
  if (state.tool === "pen") batcher.end(at);
  else if (state.drawing && state.drawing.start) {
    const [x0, y0] = state.drawing.start;
    if (Math.hypot(at[0] - x0, at[1] - y0) > 0.005) {
      sendMark({ ...shapeFrom(state.tool, state.drawing.start, at, style()), id: markId() });
    }
  }
  state.drawing = null;
  state.marks.preview = null;
}

function pickTool(ev) {
  state.tool = ev.currentTarget.dataset.tool;
  for (const b of document.querySelectorAll(".tool")) b.setAttribute("aria-pressed", String(b === ev.currentTarget));
}

async function undo() {
  const last = state.mine.pop();
  if (!last) return;
  try {
    await call(state.socket, "annotation_remove", { session_id: state.sessionId, ...last });
  } catch (err) {
    failed(err);
  }
}

async function clearMarks() {
  try {
    await call(state.socket, "annotations_clear", { session_id: state.sessionId, target: state.marks.target });
    state.mine = state.mine.filter((m) => m.target !== state.marks.target);
  } catch (err) {
    failed(err);
  }
}

const RECORDING_TEXT = {
  recording: "agent.recording.on",
  paused: "agent.recording.paused",
  off: "agent.recording.off",
};

function showRecording(data) {
  const indicator = $("recording-indicator");
  const key = data.consent === "refused" ? "agent.recording.refused"
    : data.consent === "pending" ? "agent.recording.pending" : RECORDING_TEXT[data.state];
  say(indicator, key || null);
  indicator.hidden = false;
  const pause = $("recording-pause");
  pause.hidden = data.state === "off";
  pause.setAttribute("aria-pressed", String(data.state === "paused"));
  say(pause, data.state === "paused" ? "agent.recording.resume" : "agent.recording.pause");
}

function showStill(url) {
  const still = $("still");
  if (url) still.src = url;
  else still.removeAttribute("src");
  still.hidden = !url;
  state.shown = url;
  if (state.marks) {
    const target = url ? (state.frozen && url.includes(state.frozen) ? state.frozen : photoId(url)) : "live";
    state.marks.show(url ? still : $("remote"), target);
  }
  say($("freeze"), state.frozen ? "agent.unfreeze" : "agent.freeze");
  $("freeze").setAttribute("aria-pressed", String(Boolean(state.frozen)));
}

async function toggleFreeze() {
  try {
    await call(state.socket, state.frozen ? "unfreeze" : "freeze", { session_id: state.sessionId });
  } catch (err) {
    failed(err);
  }
}

function photoId(url) {
  const match = /\/items\/([0-9a-f]{16})/.exec(url);
  return match ? match[1] : "live";
}

function addPhoto(item) {
  const button = document.createElement("button");
  button.type = "button";
  const img = document.createElement("img");
  img.src = item.url;
  img.alt = t("agent.photo");
  img.dataset.i18nAlt = "agent.photo";
  button.append(img);
  button.addEventListener("click", () => {
    const open = $("still").src.endsWith(item.url) && !$("still").hidden;
    showStill(open ? null : item.url);
  });
  $("photos").append(button);
  message("agent.photo.received");
}

async function requestSource(source) {
  try {
    await call(state.socket, "request_source", { session_id: state.sessionId, source });
    say($("live-status"), "agent.source.asked");
  } catch (err) {
    failed(err);
  }
}

// Mute or unmute; the button keeps the key of its text (toggleTracks words it once).
function toggleTrack(kind, button, onKey, offKey) {
  if (!state.camera) return;
  toggleTracks(state.camera, kind, button, t(onKey), t(offKey));
  button.dataset.i18n = button.getAttribute("aria-pressed") === "true" ? offKey : onKey;
}

// After (re)connecting: show whatever the server says we are in the middle of.
function restore(now) {
  setState(now);
  say($("waiting-count"), "agent.waiting", { count: now.waiting });
  if (now.offer) showOffer(now.offer);
  else if (now.state === "busy" && now.session && state.sessionId !== now.session.session_id) {
    startSession(now.session);
  } else if (now.state === "wrap_up" && now.session) {
    endSession({ session_id: now.session.session_id, reason: null });
  } else if (!["busy", "wrap_up", "offered"].includes(now.state)) {
    $("ready").focus();
  }
}

function showOffer(data) {
  state.offer = data;
  showTopic($("offer-topic"), data.topic);
  $("offer-description").textContent = data.description || "";
  say($("offer-waited"), "agent.offer.waited", { seconds: Math.round(data.waited) });
  const kind = data.transfer ? "agent.offer.transfer" : data.callback ? "agent.offer.callback" : null;
  say($("offer-kind"), kind);
  $("offer-kind").hidden = !kind;
  let left = Math.round(data.ring_timeout);
  say($("offer-countdown"), "agent.offer.answerWithin", { seconds: left });
  clearInterval(state.countdown);
  state.countdown = setInterval(() => {
    left = Math.max(0, left - 1);
    say($("offer-countdown"), "agent.offer.answerWithin", { seconds: left });
  }, 1000);
  panel("offer");
  startRinging();
  notifyOffer(data);
  $("accept").focus();
}

function clearOffer() {
  clearInterval(state.countdown);
  stopRinging();
  state.offer = null;
}

async function accept() {
  if (!state.offer) return;
  const ticketId = state.offer.ticket_id;
  clearOffer();
  try {
    await call(state.socket, "accept", { ticket_id: ticketId });
  } catch (err) {
    failed(err);
    panel("idle");
  }
}

async function decline() {
  if (!state.offer) return;
  const ticketId = state.offer.ticket_id;
  clearOffer();
  panel("idle");
  try {
    await call(state.socket, "decline", { ticket_id: ticketId });
  } catch (err) {
    failed(err);
  }
}

async function startSession(data) {
  $("recording-indicator").hidden = true;
  $("recording-pause").hidden = true;
  clearOffer();
  state.sessionId = data.session_id;
  state.tutorials?.start(data.session_id, data.topic);
  $("live-topic").textContent = data.topic ? `— ${topicLabel(data.topic)}` : "";
  say($("live-status"), data.callback ? "agent.live.callingBack" : "agent.live.connecting");
  show("transfer", false);
  panel("live");
  $("hangup").focus();
  state.context.open(data.session_id);
  try {
    state.camera = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch (err) {
    state.camera = null;
    message("agent.noCamera", {}, true);
  }
  $("preview").srcObject = state.camera;
  state.peer = new ServerPeer({
    socket: state.socket,
    sessionId: data.session_id,
    iceServers: data.ice_servers || state.me.ice_servers,
    stream: state.camera,
    onTrack: (ev) => {
      const remote = $("remote");
      if (!remote.srcObject) remote.srcObject = new MediaStream();
      remote.srcObject.addTrack(ev.track);
    },
    onStateChange: (s) => {
      if (s === "connected") say($("live-status"), "agent.live.connected");
      if (s === "failed") message("agent.videoFailed", {}, true);
    },
  });
  startTimer(data.elapsed || 0);
  state.quality = new QualityMeter(state.peer.pc, showQuality);
  state.quality.start();
  try {
    await state.peer.start();
  } catch (err) {
    failed(err);
  }
  try {
    const room = await call(state.socket, "room", { session_id: data.session_id });
    state.chat.start(data.session_id, room.chat);
    state.marks.load(room.annotations);
    state.frozen = room.frozen;
    showCustomerMedia(room.customer_media);
    const recording = room.recording;
    if (recording && (recording.state !== "off" || recording.consent !== "not_asked")) showRecording(recording);
    showStill(room.frozen && room.items[room.frozen] ? room.items[room.frozen].url : null);
    $("photos").replaceChildren();
    for (const [id, item] of Object.entries(room.items)) {
      if (item.kind === "photo") addPhoto({ id, ...item });
    }
  } catch (err) {
    state.chat.start(data.session_id);
  }
}

// --- Wrap-up: how long is left before the desk makes the agent Ready without an outcome

function startWrapUpCountdown(seconds) {
  clearInterval(state.wrapTimer);
  const box = $("wrapup-countdown");
  if (typeof seconds !== "number" || seconds <= 0) {
    say(box, null);
    return;
  }
  const ends = performance.now() + seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((ends - performance.now()) / 1000));
    const time = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    say(box, "agent.wrapup.countdown", { time });
    if (!left) clearInterval(state.wrapTimer);
  };
  tick();
  state.wrapTimer = setInterval(tick, 1000);
}

// --- Call facts: how long the call has run, how its connection is doing

// The call's length; back in a call after a reload or a restart, it goes on from `elapsed`.
function startTimer(elapsed = 0) {
  stopTimer();
  const started = performance.now() - elapsed * 1000;
  const tick = () => {
    const seconds = Math.floor((performance.now() - started) / 1000);
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    $("call-timer").textContent = h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  };
  tick();
  state.callTimer = setInterval(tick, 1000);
}

function stopTimer() {
  clearInterval(state.callTimer);
  state.callTimer = null;
}

// Redrawn by the meter every few seconds and on a switch of language, so written with t().
function showQuality(level, figures) {
  state.lastQuality = [level, figures];
  const { rtt, loss } = figures;
  const box = $("quality");
  box.className = `quality ${level}`;
  const words = t(has(`agent.quality.${level}`) ? `agent.quality.${level}` : "agent.quality.unknown");
  const details = [];
  if (rtt !== null) details.push(t("agent.quality.rtt", { ms: Math.round(rtt * 1000) }));
  if (loss !== null) {
    const percent = (loss * 100).toLocaleString(language(), { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    details.push(t("agent.quality.loss", { percent }));
  }
  say(box, null);
  box.textContent = details.length ? t("agent.quality.details", { level: words, details: details.join(", ") }) : words;
}

// --- Keyboard: shortcuts, and marks placed without a pointer

const SHORTCUTS = {
  a: () => !$("offer").hidden && accept(),
  d: () => !$("offer").hidden && decline(),
  h: () => state.sessionId && hangup(),
  m: () => state.sessionId && $("mute-audio").click(),
  v: () => state.sessionId && $("mute-video").click(),
  f: () => state.sessionId && toggleFreeze(),
  z: () => state.sessionId && undo(),
};

function onShortcut(ev) {
  if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
  const action = SHORTCUTS[ev.key.toLowerCase()];
  if (!action) return;
  ev.preventDefault();
  action();
}

const CURSOR_STEP = 0.02;
const CURSOR_FINE = 0.005;

function cursorMark(at) {
  return { kind: "ellipse", id: "cursor", center: at, radii: [0.012, 0.012], ...style(), sticky: false };
}

function showCursor() {
  const at = state.cursor;
  if (state.keyStart && state.tool !== "pen") {
    state.marks.preview = { ...shapeFrom(state.tool, state.keyStart, at, style()), id: "preview" };
  } else {
    state.marks.preview = cursorMark(at);
  }
}

function marksKey(ev) {
  if (!state.sessionId) return;
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  if (!state.cursor) state.cursor = [0.5, 0.5];
  if (moves[ev.key]) {
    ev.preventDefault();
    const step = ev.shiftKey ? CURSOR_FINE : CURSOR_STEP;
    const [dx, dy] = moves[ev.key];
    const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
    state.cursor = [clamp(state.cursor[0] + dx * step), clamp(state.cursor[1] + dy * step)];
    if (state.tool === "pen" && state.keyStart) batcher.add(state.cursor);
    showCursor();
  } else if (ev.key === "Enter") {
    ev.preventDefault();
    placeWithKeyboard();
  } else if (ev.key === "Escape") {
    if (state.keyStart && state.tool === "pen") batcher.cancel();
    state.keyStart = null;
    showCursor();
  }
}

function placeWithKeyboard() {
  const at = state.cursor;
  if (state.tool === "laser") {
    sendMark({ kind: "laser", id: markId(), at, color: style().color });
  } else if (state.tool === "text") {
    const text = $("mark-text").value.trim();
    if (!text) {
      message("agent.mark.labelFirstKeys");
      return;
    }
    const { color, sticky } = style();
    sendMark({ kind: "text", id: markId(), at, text, color, sticky });
  } else if (state.tool === "pen") {
    if (state.keyStart) {
      batcher.end(at);
      state.keyStart = null;
    } else {
      state.keyStart = at;
      batcher.begin(at);
    }
  } else if (!state.keyStart) {
    state.keyStart = at;
    say($("live-status"), "agent.mark.startPlaced");
  } else {
    const [x0, y0] = state.keyStart;
    if (Math.hypot(at[0] - x0, at[1] - y0) > 0.005) {
      sendMark({ ...shapeFrom(state.tool, state.keyStart, at, style()), id: markId() });
    }
    state.keyStart = null;
  }
  showCursor();
}

// --- A ringing request while the console is in another tab

async function askToNotify() {
  if ("Notification" in window && Notification.permission === "default") {
    try { await Notification.requestPermission(); } catch (err) { /* the browser said no */ }
  }
}

function notifyOffer(data) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  const note = new Notification(t("agent.offer.title"), {
    body: topicLabel(data.topic), tag: "videoassist-offer", requireInteraction: true,
  });
  note.onclick = () => { window.focus(); $("accept").focus(); note.close(); };
}

async function openTransfer() {
  const form = $("transfer");
  if (!form.hidden) {
    form.hidden = true;
    $("transfer-open").setAttribute("aria-expanded", "false");
    return;
  }
  try {
    const dir = await call(state.socket, "directory");
    const select = $("transfer-target");
    select.replaceChildren();
    const option = (key, name, value) => {
      const node = new Option("", value);
      say(node, key, { name });
      return node;
    };
    for (const q of dir.queues) select.append(option("agent.transfer.queue", q.name, `queue:${q.id}`));
    for (const a of dir.agents) select.append(option("agent.transfer.agent", a.name, `agent:${a.id}`));
    form.hidden = false;
    $("transfer-open").setAttribute("aria-expanded", "true");
    select.focus();
  } catch (err) {
    failed(err);
  }
}

async function transfer(event) {
  event.preventDefault();
  const [kind, id] = $("transfer-target").value.split(":");
  const data = { session_id: state.sessionId };
  data[kind === "queue" ? "queue_id" : "agent_id"] = id;
  try {
    await call(state.socket, "transfer", data);
    $("transfer").hidden = true;
    if (kind === "agent") say($("live-status"), "agent.transfer.waiting");
  } catch (err) {
    failed(err);
  }
}

// The connection to the server dropped mid-call: the media goes with it; the call itself
// waits on the server. What the call showed stays until startSession builds it again.
function dropCall() {
  stopTimer();
  if (state.quality) state.quality.stop();
  state.quality = null;
  if (state.peer) state.peer.close();
  state.peer = null;
  stopStream(state.camera);
  state.camera = null;
  $("remote").srcObject = null;
  state.sessionId = null;
}

function endSession(data) {
  stopTimer();
  if (state.quality) state.quality.stop();
  state.quality = null;
  if (state.peer) state.peer.close();
  state.peer = null;
  state.frozen = null;
  showStill(null);
  state.marks.reset();
  state.mine = [];
  $("photos").replaceChildren();
  say($("customer-source"), null);
  showCustomerMedia(null);
  stopStream(state.camera);
  state.camera = null;
  $("remote").srcObject = null;
  $("preview").srcObject = null;
  state.wrapSession = data.session_id;
  state.sessionId = null;
  state.tutorials?.stop();
  say($("wrapup-reason"), has(`agent.end.${data.reason}`) ? `agent.end.${data.reason}` : "agent.end.other");
  $("note").value = "";
  state.context.wrapUp(data.session_id, $("note"));
  startWrapUpCountdown(data.wrap_up_seconds);
  panel("wrapup");
  $("disposition").focus();
}

async function hangup() {
  try {
    await call(state.socket, "hangup", { session_id: state.sessionId });
  } catch (err) {
    failed(err);
  }
}

async function wrapUp(event) {
  event.preventDefault();
  try {
    await call(state.socket, "wrap_up", {
      session_id: state.wrapSession,
      disposition: $("disposition").value,
      note: $("note").value,
    });
    state.wrapSession = null;
    clearInterval(state.wrapTimer);
    panel("idle");
    // On the status, not on a button: Enter right after wrapping up must not set Away.
    $("idle-text").focus();
  } catch (err) {
    failed(err);
  }
}

async function logout() {
  if (state.socket) state.socket.disconnect();
  await fetch("/api/logout", { method: "POST" });
  window.location.reload();
}

$("recording-pause").addEventListener("click", async () => {
  const paused = $("recording-pause").getAttribute("aria-pressed") === "true";
  try {
    const reply = await call(state.socket, paused ? "recording_resume" : "recording_pause", { session_id: state.sessionId });
    showRecording(reply);
  } catch (e) {
    failed(e);
  }
});
$("login-form").addEventListener("submit", login);
$("ready").addEventListener("click", () => {
  askToNotify();
  call(state.socket, "ready").catch(failed);
});
document.addEventListener("keydown", onShortcut);
$("marks").addEventListener("keydown", marksKey);
$("marks").addEventListener("focus", () => { if (state.sessionId) { state.cursor = state.cursor || [0.5, 0.5]; showCursor(); } });
$("marks").addEventListener("blur", () => { state.keyStart = null; state.marks.preview = null; });
$("away").addEventListener("click", () => call(state.socket, "away", { reason: $("away-reason").value }).catch(failed));
$("accept").addEventListener("click", accept);
$("decline").addEventListener("click", decline);
$("hangup").addEventListener("click", hangup);
$("wrapup-form").addEventListener("submit", wrapUp);
$("logout").addEventListener("click", logout);
$("transfer-open").addEventListener("click", openTransfer);
$("freeze").addEventListener("click", toggleFreeze);
$("marks").addEventListener("pointerdown", pointerDown);
$("marks").addEventListener("pointermove", pointerMove);
$("marks").addEventListener("pointerup", pointerUp);
$("marks").addEventListener("pointercancel", () => { batcher.cancel(); state.drawing = null; state.marks.preview = null; });
for (const b of document.querySelectorAll(".tool")) b.addEventListener("click", pickTool);
$("undo").addEventListener("click", undo);
$("clear-marks").addEventListener("click", clearMarks);
$("ask-screen").addEventListener("click", () => requestSource("screen"));
$("ask-back").addEventListener("click", () => requestSource("camera_back"));
$("mute-audio").addEventListener("click", (ev) => toggleTrack("audio", ev.currentTarget, "agent.muteMic", "agent.unmuteMic"));
$("mute-video").addEventListener("click", (ev) => toggleTrack("video", ev.currentTarget, "agent.stopVideo", "agent.startVideo"));
$("transfer").addEventListener("submit", transfer);
$("transfer-cancel").addEventListener("click", () => { $("transfer").hidden = true; $("transfer-open").focus(); });
showLanguages();
boot();
