// Customer page: tap for help, wait in line (or ask for a callback), then a two-way video call.
// Every text it shows is in the customer's language (web/shared/i18n.js): the markup names its
// texts with data-i18n attributes, the script shows texts with say() or message().
import { attachTutorials, closeTutorial, showSuggestions } from "/static/customer/tutorials.js";
import { ChatPanel } from "/static/shared/chat.js";
import {
  LANGUAGES, has, pickLanguage, say, serverError, setLanguage, t,
} from "/static/shared/i18n.js";
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
  marks: null, frozen: null, queue: null,
};
// For tests and debugging: the live peer connection, and the ids of the marks shown on a target.
window.videoassist = {
  get peer() { return state.peer && state.peer.pc; },
  marks: (target) => (state.marks ? [...state.marks.marks(target).keys()] : []),
};

// An error the page can put in words: an i18n key and its variables.
class Explained extends Error {
  constructor(key, vars = {}) {
    super(key);
    this.key = key;
    this.vars = vars;
  }
}

// [key, vars] for any error; `where` says what was asked of the server (see serverError).
function explain(err, where = "ack") {
  if (err instanceof Explained) return [err.key, err.vars];
  if (err instanceof AckError) return serverError(where, { code: err.code, message: err.message });
  return ["error.unexpected", { message: err.message }];
}

// The page's alert box; `text` is [key, vars], or nothing to hide it.
function message(text, isError = false) {
  const box = $("message");
  showMessage(box, text ? t(...text) : "", isError);
  if (text) say(box, ...text);
}

// End reasons (docs/protocol.md, "Session end reasons" and "Other reasons") and the states
// `sync` answers for a closed ticket.
function endText(reason) {
  return has(`end.${reason}`) ? `end.${reason}` : "end.other";
}

// The switch lists each language under its own name, in its own language.
function showLanguages() {
  // An embedding site may ask for a language (web/sdk/help.js's `language` setting).
  const asked = new URLSearchParams(location.search).get("lang");
  const lang = asked && Object.hasOwn(LANGUAGES, asked) ? asked : pickLanguage();
  for (const [code, { name }] of Object.entries(LANGUAGES)) {
    const option = new Option(name, code, false, code === lang);
    option.lang = code;
    $("language").append(option);
  }
  setLanguage(lang);
}

// Mute or unmute; the button's text follows the language (toggleTracks words it once). The
// agent is told (media_state): the tracks keep flowing as silence and black frames.
function toggle(kind, button, onKey, offKey) {
  if (!state.camera) return;
  toggleTracks(state.camera, kind, button, t(onKey), t(offKey));
  button.dataset.i18n = button.getAttribute("aria-pressed") === "true" ? offKey : onKey;
  reportMedia();
}

function reportMedia() {
  if (!state.socket || !state.sessionId) return;
  call(state.socket, "media_state", {
    session_id: state.sessionId,
    audio: $("mute-audio").getAttribute("aria-pressed") !== "true",
    video: $("mute-video").getAttribute("aria-pressed") !== "true",
  }).catch(() => {});
}

function resetToggles() {
  for (const [id, key] of [["mute-audio", "call.muteMic"], ["mute-video", "call.stopVideo"]]) {
    $(id).setAttribute("aria-pressed", "false");
    say($(id), key);
  }
}

// "The agent's camera is off" rather than a black box: told from the agent's video track
// itself (no track yet, ended, muted because nothing arrives, no new frame for a while), or
// from its pictures (a camera turned off sends black frames). Sampled once a second, 16x12.
const agentVideo = { timer: null, lastFrame: 0, dark: 0, canvas: null };

function watchAgentVideo() {
  stopWatchingAgentVideo();
  const remote = $("remote");
  agentVideo.lastFrame = performance.now();
  agentVideo.dark = 0;
  const onFrame = () => {
    agentVideo.lastFrame = performance.now();
    if (agentVideo.timer) remote.requestVideoFrameCallback(onFrame);
  };
  if (remote.requestVideoFrameCallback) remote.requestVideoFrameCallback(onFrame);
  agentVideo.timer = setInterval(() => showAgentCamera(agentCameraOff(remote)), 1000);
}

function stopWatchingAgentVideo() {
  clearInterval(agentVideo.timer);
  agentVideo.timer = null;
  show("agent-camera-off", false);
}

function agentCameraOff(remote) {
  const stream = remote.srcObject;
  const track = stream && stream.getVideoTracks()[0];
  if (!track || track.readyState === "ended" || track.muted) return true;
  if (performance.now() - agentVideo.lastFrame > 3000) return true;
  if (!remote.videoWidth) return true;
  agentVideo.canvas = agentVideo.canvas || document.createElement("canvas");
  const canvas = agentVideo.canvas;
  canvas.width = 16;
  canvas.height = 12;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(remote, 0, 0, 16, 12);
  const pixels = context.getImageData(0, 0, 16, 12).data;
  let brightest = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    brightest = Math.max(brightest, pixels[i], pixels[i + 1], pixels[i + 2]);
  }
  agentVideo.dark = brightest < 12 ? agentVideo.dark + 1 : 0;
  return agentVideo.dark >= 2;
}

function showAgentCamera(off) {
  show("agent-camera-off", off);
  $("remote").classList.toggle("off", off);
}

function view(name) {
  for (const id of ["start", "waiting", "live", "ended"]) show(id, id === name);
  tellHost({ type: "state", state: name });
}

// --- Embedded in another site's page (web/sdk/help.js): /embed?host=<that page's origin>. The
// server serves /embed only for an allowed host, with that host alone as frame ancestor, so the
// host named here is the page around us. Messages go to it alone, and only its messages count.

const embed = {
  host: new URLSearchParams(location.search).get("host"), identity: null, topic: "", context: null,
};

function tellHost(message) {
  if (embed.host && window.parent !== window) {
    window.parent.postMessage({ videoassist: 1, ...message }, embed.host);
  }
}

function fromHost(event) {
  if (!embed.host || event.origin !== embed.host || event.source !== window.parent) return;
  const data = event.data;
  if (!data || data.videoassist !== 1) return;
  if (data.type === "configure") {
    embed.identity = typeof data.user === "string" ? data.user : null;
    embed.topic = typeof data.topic === "string" ? data.topic : "";
    embed.context = data.context && typeof data.context === "object" ? data.context : null;
    chooseTopic();
  } else if (data.type === "reset") {
    // The host's user logged out: this browser forgets the request (and leaves the line).
    if (state.socket && !state.finished) {
      call(state.socket, "cancel").catch(() => {});
      finish("cancelled");
    } else {
      forget();
    }
    embed.identity = null;
    embed.context = null;
  }
}

function chooseTopic() {
  const select = $("topic");
  if (embed.topic && [...select.options].some((o) => o.value === embed.topic)) select.value = embed.topic;
}

// The topics in the admin's order, each with its queue's opening hours: a closed one says
// when it opens before the customer taps.
const topicHours = new Map();

async function loadTopics() {
  try {
    const res = await fetch("/api/topics");
    if (!res.ok) return;
    for (const { topic, label, open, hours } of await res.json()) {
      const option = document.createElement("option");
      option.value = topic;
      option.textContent = label;
      $("topic").append(option);
      if (open === false && hours) topicHours.set(topic, hours);
    }
    chooseTopic();
    showHours();
  } catch (err) {
    // The topic is optional: without the list the customer can still ask for help.
  }
}

function showHours(hours = topicHours.get($("topic").value)) {
  const box = $("hours");
  box.hidden = !hours;
  say(box, hours ? "hours.closed" : null, hours ? hoursVars(hours) : {});
}

// Kept as data, worded by t() in the language of the moment (see formatHours in i18n.js).
function hoursVars(hours) {
  return { hours: { windows: hours.windows || [] }, timezone: hours.timezone || "UTC" };
}

async function getCamera() {
  try {
    return await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch (err) {
    if (err.name === "NotAllowedError" || err.name === "SecurityError") {
      throw new Explained("camera.blocked");
    }
    if (err.name === "NotFoundError") throw new Explained("camera.notFound");
    throw new Explained("camera.failed", { name: err.name });
  }
}

// A tap whose answer is lost (a phone's network, a node failing over) is sent again with the
// same Idempotency-Key: the server answers with the ticket the first one made, never a second.
// The waits before each new try, in ms: about 15 s in all, five tries.
const TAP_RETRIES = [1000, 2000, 4000, 8000];

// What did not settle the tap, and is safe to send again with its key: no answer, an answer
// that could not be read (cut off, or a proxy's error page while a node fails over), the
// server unavailable or failing. Not a refusal that says what to do (closed, full, ...).
function worthResending(res, body) {
  if (!res) return true;
  if (!body) return res.ok || res.status >= 500;
  const code = (body.error || {}).code;
  return res.status >= 500 && (code === "unavailable" || code === "internal");
}

function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs https
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function requestTicket(callback) {
  const key = idempotencyKey();
  const request = JSON.stringify({
    topic: $("topic").value, description: $("description").value, callback,
    ...(embed.identity ? { identity: embed.identity } : {}),
    ...(embed.context ? { context: embed.context } : {}),
  });
  for (let attempt = 0; ; attempt += 1) {
    let res = null;
    let body = null;
    // A node failing over can take 18 s to answer (a follower asks the leader again until a
    // new one answers); a connection that never answers is given up after 25 s and tried again.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 25000);
    try {
      res = await fetch("/api/tickets", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": key },
        body: request,
        signal: abort.signal,
      });
      body = await res.json();
    } catch (err) {
      // No answer, or none that could be read: worthResending says what to do.
    } finally {
      clearTimeout(timer);
    }
    if (worthResending(res, body) && attempt < TAP_RETRIES.length) {
      message(["tap.retrying"]);
      await new Promise((resolve) => setTimeout(resolve, TAP_RETRIES[attempt]));
      continue;
    }
    message(null);
    if (!res) throw new Explained("tap.offline");
    if (!body) throw new Explained("tap.failed");
    if (!res.ok) {
      const error = body.error || {};
      if (error.code === "closed" && error.hours) showHours(error.hours);
      if (error.code === "queue_full" && error.callback_available !== false) {
        show("full", true);
        $("leave-callback").focus();
      }
      throw new Explained(...tapRefusal(error, res));
    }
    return body;
  }
}

// The refusals of POST /api/tickets (docs/openapi.yaml), with what the answer tells besides
// the code: the field at fault, how long to wait.
function tapRefusal(error, res) {
  if (!error.code) return ["tap.failed", {}];
  if (error.code === "rate_limited") {
    const seconds = Number(res.headers.get("Retry-After"))
      || Number((/(\d+) s\b/.exec(error.message || "") || [])[1]);
    if (seconds) return serverError("tap", error, { seconds }, "wait");
  }
  if (error.code === "invalid") {
    const field = error.field || String(error.message || "").split(":")[0];
    if (field === "topic" || field === "description" || field === "context") {
      return serverError("tap", error, {}, field);
    }
  }
  return serverError("tap", error);
}

async function tap(event, callback = false) {
  if (event) event.preventDefault();
  message(null);
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
    $("cancel").focus();
  } catch (err) {
    message(explain(err, "tap"), true);
  } finally {
    $("help").disabled = false;
  }
}

// The camera and microphone stay off while the customer waits (nobody is watching yet, and
// a long wait with the camera light on worries people). A customer who wants to check the
// framing or the light turns a preview on; the call then starts with that camera, unasked.
async function toggleSelfView() {
  const button = $("self-view-toggle");
  if (state.camera) {
    stopSelfView();
    return;
  }
  try {
    state.camera = await getCamera();
  } catch (err) {
    message(explain(err), true);
    return;
  }
  $("self-view").srcObject = state.camera;
  show("self-view", true);
  say(button, "waiting.hideCamera");
  button.setAttribute("aria-pressed", "true");
}

function stopSelfView() {
  stopStream(state.camera);
  state.camera = null;
  $("self-view").srcObject = null;
  show("self-view", false);
  say($("self-view-toggle"), "waiting.checkCamera");
  $("self-view-toggle").setAttribute("aria-pressed", "false");
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
  attachTutorials(socket);
  socket.on("connect", async () => {
    message(null);
    try {
      const now = await call(socket, "sync");
      if (now.ice_servers) state.iceServers = now.ice_servers;
      if (now.state === "live" && now.session_id) startCall(now.session_id);
      else if (now.state === "queued" || now.state === "offered") {
        state.callback = now.callback;
        showCallback();
        showQueue(now);
        view("waiting");
        showSuggestions();
      } else finish(now.state);
    } catch (err) {
      message(explain(err), true);
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
    if (code) message(serverError("connect", { code, message: err.message }), true);
    else message(["msg.unreachable", { message: err.message }], true);
  });
  // The same ticket was opened in another tab or window, which has it now.
  socket.on("replaced", () => {
    state.replaced = true;
    message(["msg.replaced"], true);
  });
  socket.on("disconnect", (reason) => {
    if (state.finished || state.replaced) return;
    if (state.sessionId) {
      // The call waits for us on the server (CALL_RESUME_WINDOW): once back, sync says it is
      // live and startCall offers media anew (the server may have restarted: the old peer
      // connection is no use). The camera is kept.
      endCall();
      message(["msg.reconnectingCall"], true);
    } else message(["msg.reconnecting"], true);
    // socket.io does not retry when the server closed the connection (e.g. a restart).
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 2000);
  });
  socket.on("queue", showQueue);
  socket.on("matched", (data) => {
    if (data.ice_servers) state.iceServers = data.ice_servers;
    showAgent(data.agent_name);
    startCall(data.session_id);
  });
  socket.on("peer_dropped", (data) => {
    say($("live-status"), "status.agentDropped", { seconds: Math.round(data.seconds) });
  });
  socket.on("peer_returned", () => say($("live-status"), "status.agentBack"));
  // The server that carried the call's media went away and the call was opened on another:
  // the same call with a new peer connection (the camera, the chat and the marks stay).
  socket.on("media_moved", (data) => {
    if (!state.sessionId || data.session_id !== state.sessionId) return;
    endCall();
    startCall(data.session_id);
    say($("live-status"), "status.mediaMoved");
  });
  socket.on("agent_changed", (data) => {
    showAgent(data.agent_name);
    if (data.agent_name) say($("live-status"), "status.agentChanged", { name: data.agent_name });
  });
  socket.on("transferred", () => {
    endCall();
    stopSelfView(); // back in line: the camera goes off again until the next agent answers
    view("waiting");
    message(["msg.transferred"]);
  });
  socket.on("moved", () => message(["msg.moved"]));
  socket.on("callback_suggested", () => {
    message(["msg.callbackSuggested"]);
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
  socket.on("recording_consent_requested", askRecording);
  socket.on("recording_state", showRecording);
  socket.on("supervision", showSupervision);
  state.chat = new ChatPanel({ root: $("chat"), socket, me: "customer", describe: explain });
  if (state.marks) state.marks.reset();
  else state.marks = new MarksLayer({ canvas: $("marks"), socket });
  state.marks.show($("preview"), "live");
}

function showAgent(name) {
  if (name) {
    say($("agent-name"), null);
    $("agent-name").textContent = name;
  } else say($("agent-name"), "live.anAgent");
}

const RECORDING_KEYS = { recording: "recording.on", paused: "recording.paused", off: "recording.off" };

function askRecording() {
  $("recording-prompt").hidden = false;
  $("recording-accept").focus();
}

function showRecording(data) {
  const indicator = $("recording-indicator");
  say(indicator, RECORDING_KEYS[data.state] || null);
  indicator.hidden = data.state === "off" && data.consent !== "refused";
  if (data.consent !== "pending") $("recording-prompt").hidden = true;
}

// A supervisor barged in (their voice plays on its own track, web/shared/signaling.js), or left.
function showSupervision(data) {
  const indicator = $("supervision-indicator");
  const joined = data.mode === "barge";
  if (!joined && indicator.hidden) return;
  say(indicator, joined ? "supervision.joined" : "supervision.left");
  indicator.hidden = false;
}

async function answerRecording(accept) {
  $("recording-prompt").hidden = true;
  $("hangup").focus(); // the answered question took the focus: give it back to the call
  if (!state.socket || !state.sessionId) return;
  try {
    showRecording(await call(state.socket, "recording_consent", { session_id: state.sessionId, accept }));
  } catch (err) {
    message(explain(err), true);
  }
}

function showStill(url) {
  const still = $("still");
  if (url) still.src = url;
  else still.removeAttribute("src");
  still.hidden = !url;
  say($("live-status"), url ? "status.frozen" : "status.live");
  if (state.marks) {
    state.marks.show(url ? still : $("preview"), url && state.frozen ? state.frozen : "live");
  }
}

function askSource(data) {
  state.pendingSource = data.source;
  // The sources the agent can ask for (docs/protocol.md, request_source).
  const key = has(`source.${data.source}`) ? `source.${data.source}` : "source.other";
  say($("source-prompt-text"), key);
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
    message(["camera.switchFailed"], true);
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
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Explained(...photoRefusal(body.error));
    say($("live-status"), "status.photoSent");
  } catch (err) {
    message(err instanceof Explained ? explain(err) : ["photo.failed"], true);
  }
}

// The refusals of POST /api/calls/{id}/photos (docs/protocol.md); the size limit is only in
// the message ("photos are limited to 8192 KiB").
function photoRefusal(error) {
  if (!error) return ["photo.failed"];
  const kib = Number((/(\d+) KiB/.exec(error.message || "") || [])[1]);
  if (error.code === "too_large" && kib) {
    return serverError("photo", error, { megabytes: Math.round((kib / 1024) * 10) / 10 }, "limit");
  }
  return serverError("photo", error);
}

function showCallback() {
  show("callback", !state.callback);
  const note = $("callback-note");
  note.hidden = !state.callback;
  const link = `${location.origin}/#t=${encodeURIComponent(state.token || "")}`;
  say(note, state.callback ? "callback.note" : null, { link });
}

function showQueue(data) {
  if (data.position == null) return;
  state.queue = data;
  $("position").textContent = data.position.toLocaleString(document.documentElement.lang);
  const [key, vars] = waitWords(data);
  // The line sits in a polite live region: only a change a customer would notice (another
  // minute, an agent ringing) is written, so a screen reader is not told the same thing again.
  const eta = $("eta");
  const next = key ? JSON.stringify([key, vars]) : "";
  if (eta.dataset.said === next) return;
  eta.dataset.said = next;
  say(eta, key, vars);
}

// What the desk's `wait` (docs/protocol.md, `queue`) says, in whole minutes: the low end
// rounded down and the high end up, so the words never promise less than the range does.
function waitWords(data) {
  const wait = data.wait;
  if (!wait) {  // a server from before ranges: its single number
    if (data.ringing) return ["queue.answering", {}];
    if (!data.agents_available) return ["queue.noAgents", {}];
    if (data.estimated_wait == null) return [null, {}];
    return ["queue.estimate", { wait: formatSeconds(data.estimated_wait) }];
  }
  if (wait.kind === "ringing") return ["queue.answering", {}];
  if (wait.kind === "free") return ["queue.free", {}];
  if (wait.kind === "unstaffed") return ["queue.noAgents", {}];
  const high = Math.max(1, Math.ceil(wait.high / 60));
  const low = Math.floor(wait.low / 60);
  if (wait.high <= 60) return ["queue.underMinute", {}];
  if (low === 0) return ["queue.upTo", { high }];
  if (low >= high) return ["queue.about", { count: high }];
  return ["queue.range", { low, high }];
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
  state.hadCall = true;
  view("live");
  say($("live-status"), "status.connecting");
  resetToggles();
  if (!state.camera) {
    // Asked now, when an agent is there to see and hear, with one sentence saying why.
    show("camera-why", true);
    try {
      state.camera = await getCamera();
    } catch (err) {
      message(explain(err), true);
    } finally {
      show("camera-why", false);
    }
    if (state.sessionId !== sessionId) {  // the call ended while the browser asked
      stopStream(state.camera);
      state.camera = null;
      return;
    }
  }
  $("self-view").srcObject = null;
  show("self-view", false);
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
      if (s === "connected") say($("live-status"), "status.connected");
      if (s === "failed") {
        say($("live-status"), null);
        message(["media.failed"], true);
      }
    },
  });
  watchAgentVideo();
  try {
    await state.peer.start();
  } catch (err) {
    message(err instanceof AckError ? explain(err) : ["media.setupFailed"], true);
  }
  try {
    const room = await call(state.socket, "room", { session_id: sessionId });
    state.chat.start(sessionId, room.chat);
    state.marks.load(room.annotations);
    state.frozen = room.frozen;
    if (room.frozen && room.items[room.frozen]) showStill(room.items[room.frozen].url);
    // Back after a reload or a restart: the recording as it stands, an open question again.
    if (room.recording) {
      showRecording(room.recording);
      if (room.recording.consent === "pending") askRecording();
    }
  } catch (err) {
    state.chat.start(sessionId);
  }
  // A question asked meanwhile (recording consent comes with the match) keeps the focus.
  if (!document.activeElement?.closest("[role=alertdialog]")) $("hangup").focus();
}

async function shareScreen() {
  try {
    state.screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
  } catch (err) {
    message(["screen.notStarted"], false);
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
    if (state.socket === socket && !state.finished) message(explain(err), true);
  }
}

async function askCallback() {
  try {
    await call(state.socket, "callback");
  } catch (err) {
    message(explain(err), true);
  }
}

function endCall() {
  stopWatchingAgentVideo();
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
  // The rating is asked with the ticket's token, which forget() drops below.
  const rateWith = state.hadCall && reason !== "cancelled" ? state.token : null;
  state.hadCall = false;
  closeTutorial();
  endCall();
  stopSelfView();
  $("preview").srcObject = null;
  forget();
  if (state.socket) state.socket.disconnect();
  state.socket = null;
  say($("ended-reason"), endText(reason));
  view(reason === "cancelled" ? "start" : "ended");
  if (reason === "cancelled") message(["msg.left"]);
  askRating(rateWith);
  $(reason === "cancelled" ? "help" : "again").focus();
}

// CSAT: after a call, 1-5 and an optional comment; skipping sends nothing.
function askRating(token) {
  state.rateWith = token;
  $("csat").reset();
  say($("csat-status"), null);
  show("csat", Boolean(token));
}

async function sendRating(ev) {
  ev.preventDefault();
  const picked = $("csat").querySelector("input[name=score]:checked");
  if (!picked) {
    say($("csat-status"), "csat.pick");
    $("csat").querySelector("input[name=score]").focus();
    return;
  }
  const comment = $("csat-comment").value.trim();
  $("csat-send").disabled = true;
  try {
    const response = await fetch("/api/csat", {
      method: "POST",
      headers: { Authorization: `Bearer ${state.rateWith}`, "Content-Type": "application/json" },
      body: JSON.stringify({ score: Number(picked.value), comment: comment || null }),
    });
    // 409: already rated (another tab); either way the question is answered.
    say($("csat-status"), response.ok || response.status === 409 ? "csat.thanks" : "csat.failed");
    if (response.ok || response.status === 409) closeRating();
  } catch (err) {
    say($("csat-status"), "csat.failed");
  } finally {
    $("csat-send").disabled = false;
  }
}

function closeRating() {
  state.rateWith = null;
  show("csat", false);
  $("again").focus();
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
$("mute-audio").addEventListener("click", (ev) => toggle("audio", ev.currentTarget, "call.muteMic", "call.unmuteMic"));
$("mute-video").addEventListener("click", (ev) => toggle("video", ev.currentTarget, "call.stopVideo", "call.startVideo"));
$("self-view-toggle").addEventListener("click", toggleSelfView);
$("flip-camera").addEventListener("click", () => useFacing(state.facing === "user" ? "environment" : "user"));
$("send-photo").addEventListener("click", () => $("photo-file").click());
$("photo-file").addEventListener("change", sendPhoto);
$("source-accept").addEventListener("click", acceptSource);
$("source-decline").addEventListener("click", declineSource);
$("csat").addEventListener("submit", sendRating);
$("csat-skip").addEventListener("click", () => { say($("csat-status"), null); closeRating(); });
$("again").addEventListener("click", () => { message(null); view("start"); $("help").focus(); });
$("language").addEventListener("change", (ev) => {
  setLanguage(ev.currentTarget.value, { remember: true });
  titleWithBrand();
  if (state.queue) showQueue(state.queue); // the estimate is worded by formatSeconds
});

$("topic").addEventListener("change", () => showHours());

// The page's title in the current language, after the operator's name.
function titleWithBrand() {
  if (state.brandName) document.title = `${state.brandName} – ${t("page.title")}`;
}

// The operator's name, logo and accent colour (GET /api/branding; the server has checked
// that white text on the accent reads at 4.5:1).
async function loadBranding() {
  try {
    const res = await fetch("/api/branding");
    if (!res.ok) return;
    const brand = await res.json();
    if (brand.name) {
      state.brandName = brand.name;
      $("brand-name").textContent = brand.name;
      $("brand-name").hidden = false;
      titleWithBrand();
    }
    if (brand.logo_url) {
      const logo = $("brand-logo");
      logo.src = brand.logo_url;
      // Beside the name the logo says nothing more; alone, it names the company's logo.
      if (!brand.name) {
        logo.dataset.i18nAlt = "brand.logo";
        logo.alt = t("brand.logo");
      }
      logo.hidden = false;
    }
    if (brand.accent && /^#[0-9a-f]{6}$/i.test(brand.accent)) {
      document.documentElement.style.setProperty("--accent", brand.accent);
    }
  } catch (err) {
    // Without branding the page still works, in its own colours.
  }
}

window.addEventListener("message", fromHost);
loadBranding();
showLanguages();
if (!window.isSecureContext) {
  // Plain HTTP to a network address: the browser will refuse the camera whatever the customer
  // allows. Say so now, not as an obscure camera error after they tap.
  message(["camera.insecure"], true);
}
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
