// Agent console: log in, go Ready, answer offers, talk over video, wrap up.
import { TutorialPanel } from "/static/agent/tutorials.js";
import { StrokeBatcher, isOverPicture, normalize } from "/static/shared/annotations.js";
import { ChatPanel } from "/static/shared/chat.js";
import { MarksLayer } from "/static/shared/marks.js";
import { QualityMeter } from "/static/shared/quality.js";
import { CallContext } from "/static/agent/context.js";
import {
  ServerPeer, call, openSocket, show, showMessage, stopStream, toggleTracks,
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

const STATE_LABELS = {
  ready: "Ready", away: "Away", offered: "Ringing", busy: "In session", wrap_up: "Wrap-up", offline: "Offline",
};
const END_REASONS = {
  transferred: "You transferred the customer.",
  callback_not_joined: "The customer did not join the callback.",
  server_restart: "The server restarted during the session.",
  customer_hung_up: "The customer hung up.",
  agent_hung_up: "You ended the session.",
  customer_disconnected: "The customer's connection was lost.",
  media_failed: "The video connection failed.",
  agent_signed_out: "A supervisor signed you out, which ended the session.",
  server_shutdown: "The server is restarting.",
};

function message(text, isError = false) {
  showMessage($("message"), text, isError);
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
  badge.textContent = STATE_LABELS[data.state] || data.state;
  $("ready").disabled = data.state !== "away";
  $("away").disabled = !["ready", "away", "offered"].includes(data.state);
  if (data.state === "away") {
    $("idle-text").textContent = data.reason === "missed_offer"
      ? "You missed an offer, so you were set to Away. Press Ready to take calls again."
      : "You are away. Press Ready to take calls.";
    if (!state.sessionId && !state.wrapSession) panel("idle");
  } else if (data.state === "ready") {
    $("idle-text").textContent = "Ready. Waiting for the next customer…";
    if (!state.sessionId && !state.wrapSession) panel("idle");
  }
}

// Trainers and admins have pages of their own; this console would only look live to them.
function notForThisRole() {
  show("me", false);
  panel("idle");
  const text = $("idle-text");
  text.textContent = "This console is for agents and supervisors, so it has no calls for you. ";
  if (state.me && state.me.role === "admin") {
    const link = document.createElement("a");
    link.href = "/admin";
    link.textContent = "Go to the admin page";
    text.append(link, ".");
  }
  const out = document.createElement("button");
  out.type = "button";
  out.textContent = "Log out";
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

function topicLabel(topic) {
  if (!topic) return "General help";
  return topicLabels.get(topic) || topic;
}

async function boot() {
  if (!window.isSecureContext) {
    // Plain HTTP to a network address: the browser will not give this page camera or
    // microphone, whatever the agent allows. Say so before anything fails more obscurely.
    message("This console was opened over plain HTTP, so the browser will not let it use your camera or microphone. Open it with https:// (ask whoever runs the server; see docs/deploy.md).", true);
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
  message("");
  const { ok, data: body } = await logIn($("username").value, $("password").value);
  if (!ok) {
    message(body?.error ? body.error.message : "Login failed.", true);
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
    message("");
    try {
      const now = await call(socket, "sync");
      restore(now);
      state.context.refreshQueues();
    } catch (err) {
      message(err.message, true);
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
    message(`Cannot reach the server: ${err.message}`, true);
  });
  // Another tab or window took the console over: say so, and do not take it back.
  socket.on("replaced", () => {
    state.replaced = true;
    message("The console is open in another tab or window, so this one has stopped. Close it, or reload it to use the console here.", true);
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io client disconnect" || state.replaced) return;
    if (state.sessionId) {
      // The call waits for this console (CALL_RESUME_WINDOW): once back, sync says it is
      // busy in it and startSession offers media anew (the server may have restarted).
      dropCall();
      message("Disconnected from the server. Reconnecting; the call waits for you…", true);
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 3000);
      return;
    }
    message("Disconnected from the server. Reconnecting…", true);
    // socket.io does not retry when the server closed the connection (restart, other tab).
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 3000);
  });
  socket.on("agent_state", (data) => {
    if (data.by) {
      // A supervisor's doing: a ringing offer went back to the line, and the agent hears why.
      clearOffer();
      message(`${data.by} (supervisor) set you to Away.`);
    }
    setState(data);
  });
  // A supervisor signed this console out: say so, and do not sign straight back in.
  socket.on("signed_out", (data) => {
    state.replaced = true;
    clearOffer();
    message(`${data.by} (supervisor) signed you out. Reload the page to sign in again.`, true);
  });
  socket.on("waiting", (data) => {
    $("waiting-count").textContent = `${data.waiting} waiting`;
    state.context.refreshQueues();
  });
  socket.on("offer", showOffer);
  socket.on("offer_withdrawn", () => {
    clearOffer();
    message("The customer left before you answered.");
    panel("idle");
  });
  socket.on("offer_missed", (data) => {
    clearOffer();
    panel("idle");
    message(data.missed > 1 ? `You missed ${data.missed} offers in a row.` : "You missed an offer.");
  });
  socket.on("transfer_failed", (data) => {
    message(data.reason === "declined" ? "Your colleague declined the transfer." : "The transfer did not go through.", true);
  });
  socket.on("wrap_up_expired", () => {
    state.wrapSession = null;
    panel("idle");
    message("Wrap-up time ran out; you are Ready again.");
  });
  socket.on("session_started", (data) => startSession(data));
  socket.on("peer_dropped", (data) => {
    $("live-status").textContent =
      `The customer's connection dropped. Waiting up to ${Math.round(data.seconds)} s for them to come back…`;
  });
  socket.on("peer_returned", () => {
    $("live-status").textContent = "The customer is back. Reconnecting the video…";
  });
  state.tutorials = (state.tutorials || new TutorialPanel()).attach(socket);
  socket.on("session_ended", (data) => endSession(data));
  socket.on("frozen", (data) => { state.frozen = data.still_id; showStill(data.url); });
  socket.on("unfrozen", () => { state.frozen = null; showStill(null); });
  socket.on("photo", addPhoto);
  socket.on("recording_state", showRecording);
  socket.on("supervision", (data) => {
    const texts = {
      whisper: "A supervisor is whispering to you: the customer does not hear them.",
      barge: "A supervisor joined the call: you and the customer hear them.",
    };
    $("live-status").textContent = texts[data.mode] || "The supervisor left the call.";
  });
  socket.on("source_declined", (data) => {
    const what = data.source === "screen" ? "share their screen" : "switch camera";
    $("live-status").textContent = `The customer chose not to ${what} for now.`;
  });
  socket.on("customer_media", showCustomerMedia);
  socket.on("source_changed", (data) => {
    $("customer-source").textContent = data.source === "screen" ? "Customer is sharing their screen" : "Customer is on camera";
  });
  state.chat = new ChatPanel({ root: $("chat"), socket, me: "agent" });
  state.marks = new MarksLayer({ canvas: $("marks"), socket });
  // The tracker found a lost sticky mark's object again: the mark follows it once more.
  socket.on("annotation_moved", (data) => {
    if (data.found) message("A sticky mark found its object again and follows it once more.");
  });
  socket.on("annotation_lost", () => {
    message("A sticky mark lost track of its object (the camera moved away); it is shown greyed.");
  });
  state.marks.show($("remote"), "live");
}

// The customer turned their microphone or camera off (customer_media): their tracks still flow
// as silence and black frames, so say it rather than leave the agent wondering.
function showCustomerMedia(media) {
  const off = [];
  if (media && media.audio === false) off.push("Customer muted");
  if (media && media.video === false) off.push("customer's camera is off");
  const text = off.join("; ");
  $("customer-media").textContent = text ? `${text}.` : "";
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
    message(err.message, true);
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
    }).catch((err) => message(err.message, true));
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
      message("Type the label text first, then click where it goes.");
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
    message(err.message, true);
  }
}

async function clearMarks() {
  try {
    await call(state.socket, "annotations_clear", { session_id: state.sessionId, target: state.marks.target });
    state.mine = state.mine.filter((m) => m.target !== state.marks.target);
  } catch (err) {
    message(err.message, true);
  }
}

const RECORDING_TEXT = {
  recording: "Recording",
  paused: "Recording paused",
  off: "Not recorded",
};

function showRecording(data) {
  const indicator = $("recording-indicator");
  const text = data.consent === "pending" ? "Waiting for the customer's answer about recording" : RECORDING_TEXT[data.state];
  indicator.textContent = data.consent === "refused" ? "The customer declined recording" : text || "";
  indicator.hidden = false;
  const pause = $("recording-pause");
  pause.hidden = data.state === "off";
  pause.setAttribute("aria-pressed", String(data.state === "paused"));
  pause.textContent = data.state === "paused" ? "Resume recording" : "Pause recording";
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
  $("freeze").textContent = state.frozen ? "Unfreeze" : "Freeze";
  $("freeze").setAttribute("aria-pressed", String(Boolean(state.frozen)));
}

async function toggleFreeze() {
  try {
    await call(state.socket, state.frozen ? "unfreeze" : "freeze", { session_id: state.sessionId });
  } catch (err) {
    message(err.message, true);
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
  img.alt = "Photo from the customer";
  button.append(img);
  button.addEventListener("click", () => {
    const open = $("still").src.endsWith(item.url) && !$("still").hidden;
    showStill(open ? null : item.url);
  });
  $("photos").append(button);
  message("The customer sent a photo.");
}

async function requestSource(source) {
  try {
    await call(state.socket, "request_source", { session_id: state.sessionId, source });
    $("live-status").textContent = "Asked the customer; waiting for them to accept.";
  } catch (err) {
    message(err.message, true);
  }
}

function toggleTrack(kind, button, onLabel, offLabel) {
  toggleTracks(state.camera, kind, button, onLabel, offLabel);
}

// After (re)connecting: show whatever the server says we are in the middle of.
function restore(now) {
  setState(now);
  $("waiting-count").textContent = `${now.waiting} waiting`;
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
  $("offer-topic").textContent = topicLabel(data.topic);
  $("offer-description").textContent = data.description || "";
  $("offer-waited").textContent = `${Math.round(data.waited)} s`;
  const kind = data.transfer ? "Transfer from a colleague" : data.callback ? "Callback" : "";
  $("offer-kind").textContent = kind;
  $("offer-kind").hidden = !kind;
  let left = Math.round(data.ring_timeout);
  $("offer-countdown").textContent = String(left);
  clearInterval(state.countdown);
  state.countdown = setInterval(() => {
    left = Math.max(0, left - 1);
    $("offer-countdown").textContent = String(left);
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
    message(err.message, true);
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
    message(err.message, true);
  }
}

async function startSession(data) {
  $("recording-indicator").hidden = true;
  $("recording-pause").hidden = true;
  clearOffer();
  state.sessionId = data.session_id;
  state.tutorials?.start(data.session_id, data.topic);
  $("live-topic").textContent = data.topic ? `— ${topicLabel(data.topic)}` : "";
  $("live-status").textContent = data.callback
    ? "Calling the customer back… waiting for them to join."
    : "Connecting video…";
  show("transfer", false);
  panel("live");
  $("hangup").focus();
  state.context.open(data.session_id);
  try {
    state.camera = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch (err) {
    state.camera = null;
    message("Your camera is not available; the customer will not see you.", true);
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
      if (s === "connected") $("live-status").textContent = "Connected.";
      if (s === "failed") message("The video connection failed.", true);
    },
  });
  startTimer(data.elapsed || 0);
  state.quality = new QualityMeter(state.peer.pc, showQuality);
  state.quality.start();
  try {
    await state.peer.start();
  } catch (err) {
    message(err.message, true);
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
    box.textContent = "";
    return;
  }
  const ends = performance.now() + seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((ends - performance.now()) / 1000));
    box.textContent = `Ready again in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} unless you finish sooner.`;
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

const QUALITY_WORDS = {
  good: "Connection: good", fair: "Connection: fair", poor: "Connection: poor", unknown: "Connection: checking…",
};

function showQuality(level, { rtt, loss }) {
  const box = $("quality");
  box.className = `quality ${level}`;
  const details = [];
  if (rtt !== null) details.push(`${Math.round(rtt * 1000)} ms round trip`);
  if (loss !== null) details.push(`${(loss * 100).toFixed(1)}% video loss`);
  box.textContent = QUALITY_WORDS[level] + (details.length ? ` (${details.join(", ")})` : "");
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
      message("Type the label text first, then press Enter where it goes.");
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
    $("live-status").textContent = "Start placed: move to the end and press Enter.";
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
  const note = new Notification("Incoming help request", {
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
    for (const q of dir.queues) {
      const option = new Option(`Queue: ${q.name}`, `queue:${q.id}`);
      select.append(option);
    }
    for (const a of dir.agents) {
      select.append(new Option(`Agent: ${a.name}`, `agent:${a.id}`));
    }
    form.hidden = false;
    $("transfer-open").setAttribute("aria-expanded", "true");
    select.focus();
  } catch (err) {
    message(err.message, true);
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
    if (kind === "agent") $("live-status").textContent = "Waiting for your colleague to accept…";
  } catch (err) {
    message(err.message, true);
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
  $("customer-source").textContent = "";
  showCustomerMedia(null);
  stopStream(state.camera);
  state.camera = null;
  $("remote").srcObject = null;
  $("preview").srcObject = null;
  state.wrapSession = data.session_id;
  state.sessionId = null;
  state.tutorials?.stop();
  $("wrapup-reason").textContent = END_REASONS[data.reason] || "The session has ended.";
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
    message(err.message, true);
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
    message(err.message, true);
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
    message(e.message, true);
  }
});
$("login-form").addEventListener("submit", login);
$("ready").addEventListener("click", () => {
  askToNotify();
  call(state.socket, "ready").catch((e) => message(e.message, true));
});
document.addEventListener("keydown", onShortcut);
$("marks").addEventListener("keydown", marksKey);
$("marks").addEventListener("focus", () => { if (state.sessionId) { state.cursor = state.cursor || [0.5, 0.5]; showCursor(); } });
$("marks").addEventListener("blur", () => { state.keyStart = null; state.marks.preview = null; });
$("away").addEventListener("click", () => call(state.socket, "away", { reason: $("away-reason").value }).catch((e) => message(e.message, true)));
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
$("mute-audio").addEventListener("click", (ev) => toggleTrack("audio", ev.currentTarget, "Mute mic", "Unmute mic"));
$("mute-video").addEventListener("click", (ev) => toggleTrack("video", ev.currentTarget, "Stop my video", "Start my video"));
$("transfer").addEventListener("submit", transfer);
$("transfer-cancel").addEventListener("click", () => { $("transfer").hidden = true; $("transfer-open").focus(); });
boot();
