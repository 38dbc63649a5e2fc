// Customer page: tap for help, wait in line, then a two-way video call with an agent.
import {
  AckError, ServerPeer, call, formatSeconds, openSocket, show, stopStream,
} from "/static/shared/signaling.js";

const $ = (id) => document.getElementById(id);
const state = { socket: null, camera: null, screen: null, peer: null, sessionId: null, iceServers: [] };
// For tests and debugging: the live peer connection.
window.videoassist = { get peer() { return state.peer && state.peer.pc; } };

const END_REASONS = {
  customer_hung_up: "You ended the call.",
  agent_hung_up: "The agent ended the call.",
  agent_disconnected: "The agent's connection was lost.",
  media_failed: "The video connection failed. Please try again.",
  server_shutdown: "The service is restarting. Please try again in a minute.",
  cancelled: "You left the line.",
  customer_left: "You left the line.",
};

function message(text, isError = false) {
  const box = $("message");
  box.textContent = text || "";
  box.classList.toggle("error", isError);
  box.hidden = !text;
}

function view(name) {
  for (const id of ["start", "waiting", "live", "ended"]) show(id, id === name);
}

async function getCamera() {
  try {
    return await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch (err) {
    if (err.name === "NotAllowedError" || err.name === "SecurityError") {
      throw new Error("Camera and microphone access is blocked. Allow it for this site in your browser settings, then tap Get help again.");
    }
    if (err.name === "NotFoundError") {
      throw new Error("No camera or microphone was found on this device.");
    }
    throw new Error(`Your camera could not be started (${err.name}).`);
  }
}

async function tap(event) {
  event.preventDefault();
  message("");
  $("help").disabled = true;
  try {
    state.camera = await getCamera();
    const res = await fetch("/api/tickets", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ topic: $("topic").value, description: $("description").value }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.message : "Help is not available right now.");
    state.iceServers = body.ice_servers;
    connect(body.token);
    $("position").textContent = "…";
    $("eta").textContent = "";
    view("waiting");
    $("cancel").focus();
  } catch (err) {
    stopStream(state.camera);
    state.camera = null;
    message(err.message, true);
  } finally {
    $("help").disabled = false;
  }
}

function connect(token) {
  const socket = openSocket("/customer", { token });
  state.socket = socket;
  socket.on("connect", async () => {
    try {
      const now = await call(socket, "sync");
      if (now.state === "live" && now.session_id) startCall(now.session_id);
      else showQueue(now);
    } catch (err) {
      message(err.message, true);
    }
  });
  socket.on("connect_error", (err) => {
    message(`We could not reach the help service: ${err.message}`, true);
  });
  socket.on("queue", showQueue);
  socket.on("matched", (data) => {
    $("agent-name").textContent = data.agent_name || "an agent";
    startCall(data.session_id);
  });
  socket.on("session_ended", (data) => finish(data.reason));
  socket.on("closed", (data) => finish(data.reason));
}

function showQueue(data) {
  if (data.position == null) return;
  $("position").textContent = String(data.position);
  if (!data.agents_available) {
    $("eta").textContent = "No agents are available right now. Stay in line and we'll connect you as soon as one is.";
  } else {
    $("eta").textContent = `Estimated wait: ${formatSeconds(data.estimated_wait)}.`;
  }
}

async function startCall(sessionId) {
  if (state.sessionId === sessionId) return;
  state.sessionId = sessionId;
  view("live");
  $("live-status").textContent = "Connecting video…";
  $("preview").srcObject = state.camera;
  state.peer = new ServerPeer({
    socket: state.socket,
    sessionId,
    iceServers: state.iceServers,
    stream: state.camera,
    onTrack: (ev) => {
      const remote = $("remote");
      if (!remote.srcObject) remote.srcObject = new MediaStream();
      remote.srcObject.addTrack(ev.track);
    },
    onStateChange: (s) => {
      if (s === "connected") $("live-status").textContent = "Connected.";
      if (s === "failed") {
        $("live-status").textContent = "";
        message("The video connection failed. Check your network and try again.", true);
      }
    },
  });
  try {
    await state.peer.start();
  } catch (err) {
    message(err instanceof AckError ? err.message : "The video connection could not be set up.", true);
  }
  $("hangup").focus();
}

async function shareScreen() {
  try {
    state.screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
  } catch (err) {
    message("Screen sharing was not started.", false);
    return;
  }
  const track = state.screen.getVideoTracks()[0];
  track.onended = () => useCamera();
  await state.peer.replaceVideo(track);
  $("preview").srcObject = state.screen;
  show("share-screen", false);
  show("use-camera", true);
  $("use-camera").focus();
}

async function useCamera() {
  if (!state.screen) return;
  stopStream(state.screen);
  state.screen = null;
  if (state.peer) await state.peer.replaceVideo(state.camera.getVideoTracks()[0]);
  $("preview").srcObject = state.camera;
  show("share-screen", true);
  show("use-camera", false);
}

async function hangup() {
  try {
    await call(state.socket, "hangup", { session_id: state.sessionId });
  } catch (err) {
    finish("customer_hung_up");
  }
}

async function cancel() {
  try {
    await call(state.socket, "cancel");
  } catch (err) {
    message(err.message, true);
  }
}

function finish(reason) {
  if (state.peer) state.peer.close();
  state.peer = null;
  stopStream(state.screen);
  stopStream(state.camera);
  state.screen = state.camera = null;
  state.sessionId = null;
  if (state.socket) state.socket.disconnect();
  state.socket = null;
  $("remote").srcObject = null;
  $("preview").srcObject = null;
  $("ended-reason").textContent = END_REASONS[reason] || "The call has ended.";
  show("use-camera", false);
  show("share-screen", true);
  view(reason === "cancelled" ? "start" : "ended");
  if (reason === "cancelled") message("You left the line.");
  $(reason === "cancelled" ? "help" : "again").focus();
}

$("tap-form").addEventListener("submit", tap);
$("cancel").addEventListener("click", cancel);
$("share-screen").addEventListener("click", shareScreen);
$("use-camera").addEventListener("click", useCamera);
$("hangup").addEventListener("click", hangup);
$("again").addEventListener("click", () => { message(""); view("start"); $("help").focus(); });
