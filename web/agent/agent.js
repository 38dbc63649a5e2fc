// Agent console: log in, go Ready, answer offers, talk over video, wrap up.
import { ServerPeer, call, openSocket, show, stopStream } from "/static/shared/signaling.js";

const $ = (id) => document.getElementById(id);
const state = {
  socket: null, me: null, offer: null, countdown: null, ringer: null,
  sessionId: null, peer: null, camera: null, wrapSession: null,
};
window.videoassist = { get peer() { return state.peer && state.peer.pc; } };

const STATE_LABELS = {
  ready: "Ready", away: "Away", offered: "Ringing", busy: "In session", wrap_up: "Wrap-up", offline: "Offline",
};
const END_REASONS = {
  customer_hung_up: "The customer hung up.",
  agent_hung_up: "You ended the session.",
  customer_disconnected: "The customer's connection was lost.",
  media_failed: "The video connection failed.",
  server_shutdown: "The server is restarting.",
};

function message(text, isError = false) {
  const box = $("message");
  box.textContent = text || "";
  box.classList.toggle("error", isError);
  box.hidden = !text;
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

async function boot() {
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
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  const body = await res.json();
  if (!res.ok) {
    message(body.error ? body.error.message : "Login failed.", true);
    $("password").select();
    return;
  }
  $("password").value = "";
  state.me = body;
  start();
}

function start() {
  $("agent-name").textContent = state.me.display_name;
  show("me", true);
  panel("idle");
  const socket = openSocket("/agent", {});
  state.socket = socket;
  socket.on("connect", async () => {
    message("");
    const now = await call(socket, "sync");
    setState(now);
    $("waiting-count").textContent = `${now.waiting} waiting`;
    $("ready").focus();
  });
  socket.on("connect_error", (err) => message(`Cannot reach the server: ${err.message}`, true));
  socket.on("disconnect", () => message("Disconnected from the server. Reconnecting…", true));
  socket.on("agent_state", setState);
  socket.on("offer", showOffer);
  socket.on("offer_withdrawn", () => {
    clearOffer();
    message("The customer left before you answered.");
    panel("idle");
  });
  socket.on("session_started", (data) => startSession(data));
  socket.on("session_ended", (data) => endSession(data));
}

function showOffer(data) {
  state.offer = data;
  $("offer-topic").textContent = data.topic || "General help";
  $("offer-description").textContent = data.description || "";
  $("offer-waited").textContent = `${Math.round(data.waited)} s`;
  let left = Math.round(data.ring_timeout);
  $("offer-countdown").textContent = String(left);
  clearInterval(state.countdown);
  state.countdown = setInterval(() => {
    left = Math.max(0, left - 1);
    $("offer-countdown").textContent = String(left);
  }, 1000);
  panel("offer");
  startRinging();
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
  state.sessionId = data.session_id;
  $("live-topic").textContent = data.topic ? `— ${data.topic}` : "";
  $("live-status").textContent = "Connecting video…";
  panel("live");
  $("hangup").focus();
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
    iceServers: state.me.ice_servers,
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
  try {
    await state.peer.start();
  } catch (err) {
    message(err.message, true);
  }
}

function endSession(data) {
  if (state.peer) state.peer.close();
  state.peer = null;
  stopStream(state.camera);
  state.camera = null;
  $("remote").srcObject = null;
  $("preview").srcObject = null;
  state.wrapSession = data.session_id;
  state.sessionId = null;
  $("wrapup-reason").textContent = END_REASONS[data.reason] || "The session has ended.";
  $("note").value = "";
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
    panel("idle");
    $("away").focus();
  } catch (err) {
    message(err.message, true);
  }
}

async function logout() {
  if (state.socket) state.socket.disconnect();
  await fetch("/api/logout", { method: "POST" });
  window.location.reload();
}

$("login-form").addEventListener("submit", login);
$("ready").addEventListener("click", () => call(state.socket, "ready").catch((e) => message(e.message, true)));
$("away").addEventListener("click", () => call(state.socket, "away", { reason: $("away-reason").value }).catch((e) => message(e.message, true)));
$("accept").addEventListener("click", accept);
$("decline").addEventListener("click", decline);
$("hangup").addEventListener("click", hangup);
$("wrapup-form").addEventListener("submit", wrapUp);
$("logout").addEventListener("click", logout);
boot();
