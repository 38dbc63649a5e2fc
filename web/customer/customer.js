// Customer page: tap for help, wait in line (or ask for a callback), then a two-way video call.
import { ChatPanel } from "/static/shared/chat.js";
import { MarksLayer } from "/static/shared/marks.js";
import {
  AckError, ServerPeer, call, formatSeconds, openSocket, show, showMessage, stopStream,
  toggleTracks,
} from "/static/shared/signaling.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "videoassist.ticket";
const state = {
  socket: null, token: null, camera: null, screen: null, peer: null, sessionId: null,
  iceServers: [], callback: false, finished: false, chat: null, facing: "user", pendingSource: null,
  marks: null, frozen: null,
};
// For tests and debugging: the live peer connection.
// For tests and debugging: the live peer connection, and the ids of the marks shown on a target.
window.videoassist = {
  get peer() { return state.peer && state.peer.pc; },
  marks: (target) => (state.marks ? [...state.marks.marks(target).keys()] : []),
};

const END_REASONS = {
  customer_hung_up: "You ended the call.",
  agent_hung_up: "The agent ended the call.",
  agent_disconnected: "The agent's connection was lost.",
  media_failed: "The video connection failed. Please try again.",
  server_shutdown: "The service is restarting. Please try again in a minute.",
  server_restart: "The service restarted during your call. Please try again.",
  callback_not_joined: "We called you back but could not reach you.",
  cancelled: "You left the line.",
  customer_left: "You were away too long and lost your place in line.",
};

function message(text, isError = false) {
  showMessage($("message"), text, isError);
}

function view(name) {
  for (const id of ["start", "waiting", "live", "ended"]) show(id, id === name);
}

async function loadTopics() {
  try {
    const res = await fetch("/api/topics");
    if (!res.ok) return;
    for (const { topic, label } of await res.json()) {
      const option = document.createElement("option");
      option.value = topic;
      option.textContent = label;
      $("topic").append(option);
    }
  } catch (err) {
    // The topic is optional: without the list the customer can still ask for help.
  }
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

async function requestTicket(callback) {
  const res = await fetch("/api/tickets", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ topic: $("topic").value, description: $("description").value, callback }),
  });
  const body = await res.json();
  if (!res.ok) {
    const error = body.error || {};
    if (error.code === "queue_full") {
      show("full", true);
      $("leave-callback").focus();
    }
    throw new Error(error.message || "Help is not available right now.");
  }
  return body;
}

async function tap(event, callback = false) {
  if (event) event.preventDefault();
  message("");
  $("help").disabled = true;
  let ticket = null;
  try {
    // The line first: a customer learns that it is closed or full before being asked for
    // their camera.
    ticket = await requestTicket(callback);
    show("full", false);
    state.iceServers = ticket.ice_servers;
    state.callback = callback;
    remember(ticket.token);
    connect(ticket.token);
    showQueue(ticket);
    view("waiting");
    if (!callback) await startSelfView();
    $("cancel").focus();
  } catch (err) {
    stopSelfView();
    if (ticket && state.socket) {
      // No camera, no video call: give the place in line back rather than keep it unusable.
      const socket = state.socket;
      await call(socket, "cancel").catch(() => {});
      finish("cancelled");
    }
    message(err.message, true);
  } finally {
    $("help").disabled = false;
  }
}

// While waiting the customer sees what the agent will see, and can fix the framing or the
// light before the call starts.
async function startSelfView() {
  show("camera-why", true);
  try {
    state.camera = await getCamera();
  } finally {
    show("camera-why", false);
  }
  $("self-view").srcObject = state.camera;
  show("self-view", true);
}

function stopSelfView() {
  stopStream(state.camera);
  state.camera = null;
  $("self-view").srcObject = null;
  show("self-view", false);
}

// The ticket token lets a reload, or a return within the grace period, keep the place in line.
function remember(token) {
  state.token = token;
  try { localStorage.setItem(TOKEN_KEY, token); } catch (err) { /* private mode */ }
}

function forget() {
  state.token = null;
  try { localStorage.removeItem(TOKEN_KEY); } catch (err) { /* private mode */ }
}

function connect(token) {
  state.finished = false;
  state.replaced = false;
  const socket = openSocket("/customer", { token });
  state.socket = socket;
  socket.on("connect", async () => {
    message("");
    try {
      const now = await call(socket, "sync");
      if (now.ice_servers) state.iceServers = now.ice_servers;
      if (now.state === "live" && now.session_id) startCall(now.session_id);
      else if (now.state === "queued" || now.state === "offered") {
        state.callback = now.callback;
        showCallback();
        showQueue(now);
        view("waiting");
      } else finish(now.state);
    } catch (err) {
      message(err.message, true);
    }
  });
  socket.on("connect_error", (err) => {
    // A refused connection carries a code (docs/protocol.md); the message is for people.
    const code = err.data && err.data.code;
    if (code === "ticket_closed" || code === "invalid_token") {
      forget();
      socket.disconnect();
      view("start");
      return;
    }
    message(`We could not reach the help service: ${err.message}`, true);
  });
  // The same ticket was opened in another tab or window, which has it now.
  socket.on("replaced", () => {
    state.replaced = true;
    message("Your request is open in another tab or window; continue there, or reload this page to continue here.", true);
  });
  socket.on("disconnect", (reason) => {
    if (state.finished || state.replaced) return;
    message("Connection lost. Trying to reconnect; you keep your place in line…", true);
    // socket.io does not retry when the server closed the connection (e.g. a restart).
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 2000);
  });
  socket.on("queue", showQueue);
  socket.on("matched", (data) => {
    if (data.ice_servers) state.iceServers = data.ice_servers;
    $("agent-name").textContent = data.agent_name || "an agent";
    startCall(data.session_id);
  });
  socket.on("agent_changed", (data) => {
    $("agent-name").textContent = data.agent_name || "an agent";
    $("live-status").textContent = `You are now talking to ${data.agent_name}.`;
  });
  socket.on("transferred", () => {
    endCall();
    view("waiting");
    message("You are being transferred to another team. Please stay in line.");
  });
  socket.on("moved", () => message("We moved you to another team that can help sooner."));
  socket.on("callback_suggested", () => {
    message("This is taking longer than usual. You can ask us to call you back and keep your place.");
    $("callback").focus();
  });
  socket.on("callback_confirmed", () => {
    state.callback = true;
    showCallback();
  });
  socket.on("session_ended", (data) => finish(data.reason));
  socket.on("closed", (data) => finish(data.reason));
  socket.on("frozen", (data) => { state.frozen = data.still_id; showStill(data.url); });
  socket.on("unfrozen", () => { state.frozen = null; showStill(null); });
  socket.on("source_requested", askSource);
  socket.on("recording_consent_requested", () => {
    $("recording-prompt").hidden = false;
    $("recording-accept").focus();
  });
  socket.on("recording_state", showRecording);
  state.chat = new ChatPanel({ root: $("chat"), socket, me: "customer" });
  if (state.marks) state.marks.reset();
  else state.marks = new MarksLayer({ canvas: $("marks"), socket });
  state.marks.show($("preview"), "live");
}

const RECORDING_TEXT = {
  recording: "This call is being recorded.",
  paused: "Recording is paused.",
  off: "This call is not recorded.",
};

function showRecording(data) {
  const indicator = $("recording-indicator");
  indicator.textContent = RECORDING_TEXT[data.state] || "";
  indicator.hidden = data.state === "off" && data.consent !== "refused";
  if (data.consent !== "pending") $("recording-prompt").hidden = true;
}

async function answerRecording(accept) {
  $("recording-prompt").hidden = true;
  if (!state.socket || !state.sessionId) return;
  try {
    showRecording(await call(state.socket, "recording_consent", { session_id: state.sessionId, accept }));
  } catch (e) {
    message(e.message, true);
  }
}

function showStill(url) {
  const still = $("still");
  if (url) still.src = url;
  else still.removeAttribute("src");
  still.hidden = !url;
  $("live-status").textContent = url ? "The agent froze the picture to point something out." : "Live video.";
  if (state.marks) {
    state.marks.show(url ? still : $("preview"), url && state.frozen ? state.frozen : "live");
  }
}

const SOURCE_PROMPTS = {
  screen: "The agent asks you to share your screen.",
  camera: "The agent asks you to switch back to your camera.",
  camera_back: "The agent asks you to use your back camera.",
  camera_front: "The agent asks you to use your front camera.",
};

function askSource(data) {
  state.pendingSource = data.source;
  $("source-prompt-text").textContent = SOURCE_PROMPTS[data.source] || "The agent asks you to change what you share.";
  show("source-prompt", true);
  $("source-accept").focus();
}

async function acceptSource() {
  const source = state.pendingSource;
  show("source-prompt", false);
  state.pendingSource = null;
  if (source === "screen") await shareScreen();
  else if (source === "camera") await useCamera();
  else await useFacing(source === "camera_back" ? "environment" : "user");
  $("hangup").focus();
}

function declineSource() {
  const source = state.pendingSource;
  show("source-prompt", false);
  state.pendingSource = null;
  if (source && state.socket && state.sessionId) {
    call(state.socket, "source_declined", { session_id: state.sessionId, source }).catch(() => {});
  }
  $("hangup").focus();
}

function reportSource(source) {
  if (state.socket && state.sessionId) {
    call(state.socket, "source_changed", { session_id: state.sessionId, source }).catch(() => {});
  }
}

async function useFacing(facing) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing } });
    const track = stream.getVideoTracks()[0];
    if (state.camera) {
      state.camera.getVideoTracks().forEach((t) => { t.stop(); state.camera.removeTrack(t); });
      state.camera.addTrack(track);
    }
    state.facing = facing;
    if (!state.screen && state.peer) await state.peer.replaceVideo(track);
    reportSource(facing === "environment" ? "camera_back" : "camera_front");
  } catch (err) {
    message("That camera could not be started.", true);
  }
}

async function sendPhoto() {
  const file = $("photo-file").files[0];
  $("photo-file").value = "";
  if (!file || !state.sessionId) return;
  try {
    const res = await fetch(`/api/calls/${state.sessionId}/photos`, {
      method: "POST",
      headers: { Authorization: `Bearer ${state.token}`, "Content-Type": file.type },
      body: file,
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.message : "The photo could not be sent.");
    $("live-status").textContent = "Photo sent to the agent.";
  } catch (err) {
    message(err.message, true);
  }
}

function showCallback() {
  show("callback", !state.callback);
  const note = $("callback-note");
  note.hidden = !state.callback;
  note.textContent = state.callback
    ? `We will call you back when it is your turn. Keep this page open, or come back later with this link: ${location.origin}/#t=${encodeURIComponent(state.token || "")}`
    : "";
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

// Front/back only makes sense on a device with two cameras.
async function showFlipWhereTwoCameras() {
  let cameras = 0;
  try {
    cameras = (await navigator.mediaDevices.enumerateDevices())
      .filter((d) => d.kind === "videoinput").length;
  } catch (err) {
    cameras = 0;
  }
  show("flip-camera", cameras >= 2);
}

async function startCall(sessionId) {
  if (state.sessionId === sessionId) return;
  state.sessionId = sessionId;
  view("live");
  $("live-status").textContent = "Connecting video…";
  if (!state.camera) {
    try {
      state.camera = await getCamera();
    } catch (err) {
      message(err.message, true);
    }
  }
  $("preview").srcObject = state.camera;
  showFlipWhereTwoCameras();
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
  try {
    const room = await call(state.socket, "room", { session_id: sessionId });
    state.chat.start(sessionId, room.chat);
    state.marks.load(room.annotations);
    state.frozen = room.frozen;
    if (room.frozen && room.items[room.frozen]) showStill(room.items[room.frozen].url);
  } catch (err) {
    state.chat.start(sessionId);
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
  reportSource("screen");
  show("share-screen", false);
  show("use-camera", true);
  $("use-camera").focus();
}

async function useCamera() {
  if (!state.screen) return;
  stopStream(state.screen);
  state.screen = null;
  if (state.peer && state.camera) await state.peer.replaceVideo(state.camera.getVideoTracks()[0]);
  $("preview").srcObject = state.camera;
  reportSource(state.facing === "environment" ? "camera_back" : "camera");
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
  const socket = state.socket;
  try {
    await call(socket, "cancel");
  } catch (err) {
    // Leaving closes the ticket; the page closes its socket on "closed" before the
    // acknowledgement can come back. That is the success the customer asked for, not an error.
    if (state.socket === socket && !state.finished) message(err.message, true);
  }
}

async function askCallback() {
  try {
    await call(state.socket, "callback");
  } catch (err) {
    message(err.message, true);
  }
}

function endCall() {
  if (state.peer) state.peer.close();
  state.peer = null;
  state.sessionId = null;
  stopStream(state.screen);
  state.screen = null;
  $("remote").srcObject = null;
  showStill(null);
  show("source-prompt", false);
  show("use-camera", false);
  show("share-screen", true);
}

function finish(reason) {
  state.finished = true;
  endCall();
  stopSelfView();
  $("preview").srcObject = null;
  forget();
  if (state.socket) state.socket.disconnect();
  state.socket = null;
  $("ended-reason").textContent = END_REASONS[reason] || "The call has ended.";
  view(reason === "cancelled" ? "start" : "ended");
  if (reason === "cancelled") message("You left the line.");
  $(reason === "cancelled" ? "help" : "again").focus();
}

$("tap-form").addEventListener("submit", (ev) => tap(ev, false));
$("leave-callback").addEventListener("click", () => tap(null, true));
$("recording-accept").addEventListener("click", () => answerRecording(true));
$("recording-decline").addEventListener("click", () => answerRecording(false));
$("callback").addEventListener("click", askCallback);
$("cancel").addEventListener("click", cancel);
$("share-screen").addEventListener("click", shareScreen);
$("use-camera").addEventListener("click", useCamera);
$("hangup").addEventListener("click", hangup);
$("mute-audio").addEventListener("click", (ev) => toggleTracks(state.camera, "audio", ev.currentTarget, "Mute mic", "Unmute mic"));
$("mute-video").addEventListener("click", (ev) => toggleTracks(state.camera, "video", ev.currentTarget, "Stop my video", "Start my video"));
$("flip-camera").addEventListener("click", () => useFacing(state.facing === "user" ? "environment" : "user"));
$("send-photo").addEventListener("click", () => $("photo-file").click());
$("photo-file").addEventListener("change", sendPhoto);
$("source-accept").addEventListener("click", acceptSource);
$("source-decline").addEventListener("click", declineSource);
$("again").addEventListener("click", () => { message(""); view("start"); $("help").focus(); });

loadTopics();
// Resume a ticket after a reload or a dropped connection (the server keeps the place a while).
// A resume link (/#t=<token>, handed out with every ticket) opens the ticket on this device.
const linked = location.hash.startsWith("#t=") ? decodeURIComponent(location.hash.slice(3)) : null;
if (linked) history.replaceState(null, "", location.pathname);
try {
  const saved = linked || localStorage.getItem(TOKEN_KEY);
  if (saved) {
    remember(saved);
    connect(saved);
  }
} catch (err) { /* storage unavailable */ }
