// Shared signaling for every page: the socket.io connection and the one peer connection a
// participant has with the server. Our own code is plain ES modules with no build step.
import { io } from "/vendor/socket.io-client/socket.io.esm.min.js";
import { t } from "/static/shared/i18n.js";

// Longer than a change may take on a node that does not lead while the leader fails over: it
// asks the leader again until a new one answers, 18 s at most (cluster/followers.py).
const ACK_TIMEOUT_MS = 20000;

export class AckError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export function openSocket(namespace, auth) {
  return io(namespace, {
    transports: ["websocket"],
    auth,
    reconnection: true,
    reconnectionAttempts: 5,
  });
}

// Emit with an acknowledgement; resolves with the ack, rejects with AckError on an error ack.
export function call(socket, event, data = {}) {
  return new Promise((resolve, reject) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, data, (timeoutError, reply) => {
      if (timeoutError) {
        reject(new AckError("timeout", "The server did not answer in time."));
      } else if (reply && reply.error) {
        reject(new AckError(reply.error.code, reply.error.message));
      } else {
        resolve(reply);
      }
    });
  });
}

// One RTCPeerConnection to the server for a session. We always offer; the server answers with
// every candidate it has, and our own candidates trickle to it as they are found.
export class ServerPeer {
  constructor({ socket, sessionId, iceServers, stream, onTrack, onStateChange }) {
    this.socket = socket;
    this.sessionId = sessionId;
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    this.senders = {};
    for (const kind of ["audio", "video"]) {
      const track = stream ? stream.getTracks().find((t) => t.kind === kind) : null;
      const transceiver = this.pc.addTransceiver(track || kind, {
        direction: "sendrecv",
        streams: stream ? [stream] : [],
      });
      this.senders[kind] = transceiver.sender;
    }
    // A second audio section, received only: a supervisor's voice (whisper reaches the agent,
    // barge both; docs/protocol.md "supervision"). It plays on its own element, so the pages'
    // video of the other party keeps one audio track.
    this.supervisorAudio = this.pc.addTransceiver("audio", { direction: "recvonly" });
    this.supervisorPlayer = null;
    this.pc.ontrack = (ev) => {
      if (ev.transceiver === this.supervisorAudio) {
        this.supervisorPlayer = new Audio();
        this.supervisorPlayer.srcObject = new MediaStream([ev.track]);
        this.supervisorPlayer.play().catch(() => {});
        return;
      }
      if (onTrack) onTrack(ev);
    };
    this.pc.onconnectionstatechange = () => onStateChange && onStateChange(this.pc.connectionState);
    this.pc.onicecandidate = (ev) => {
      if (!ev.candidate) return;
      call(this.socket, "rtc_candidate", {
        session_id: this.sessionId,
        candidate: ev.candidate.candidate,
        sdpMid: ev.candidate.sdpMid,
        sdpMLineIndex: ev.candidate.sdpMLineIndex,
      }).catch(() => {});
    };
  }

  async start() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    const answer = await call(this.socket, "rtc_offer", {
      session_id: this.sessionId,
      type: "offer",
      sdp: this.pc.localDescription.sdp,
    });
    await this.pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
  }

  // Switch what we send (camera <-> screen) without renegotiating.
  replaceVideo(track) {
    return this.senders.video.replaceTrack(track);
  }

  close() {
    if (this.supervisorPlayer) this.supervisorPlayer.srcObject = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.onicecandidate = null;
    this.pc.close();
  }
}

export function stopStream(stream) {
  if (stream) stream.getTracks().forEach((t) => t.stop());
}

// The page's alert box: a message (an error when isError), or hidden when text is empty.
// How long a notice (not an error) stays up: long enough to read twice, short enough not to
// be taken for the current state of things later on.
export const NOTICE_MS = 10000;

// Mute or unmute one kind of a local stream's tracks; the button says what pressing it does.
export function toggleTracks(stream, kind, button, onLabel, offLabel) {
  if (!stream) return;
  const tracks = kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks();
  const enabled = !tracks.every((t) => !t.enabled);
  tracks.forEach((t) => { t.enabled = !enabled; });
  button.textContent = enabled ? offLabel : onLabel;
  button.setAttribute("aria-pressed", String(enabled));
}

// A notice clears itself after NOTICE_MS; an error stays until the next message replaces it.
// (A token rather than the text tells the notice from a later one: a translated notice changes
// its text when the customer switches language.)
export function showMessage(box, text, isError = false) {
  clearTimeout(box.clearTimer);
  const shown = {};
  box.shown = shown;
  box.textContent = text || "";
  box.classList.toggle("error", isError);
  box.hidden = !text;
  if (!text) {
    // A cleared box keeps no translation key (web/shared/i18n.js say()) to re-render.
    delete box.dataset.i18n;
    delete box.dataset.i18nVars;
  }
  if (text && !isError) {
    box.clearTimer = setTimeout(() => {
      if (box.shown === shown) showMessage(box, "");
    }, NOTICE_MS);
  }
}

export function show(id, visible) {
  document.getElementById(id).hidden = !visible;
}

// A wait in the page's language (web/shared/i18n.js; English until a page chooses).
export function formatSeconds(seconds) {
  if (seconds == null) return "";
  if (seconds < 60) return t("wait.underMinute");
  const minutes = Math.round(seconds / 60);
  return minutes === 1 ? t("wait.oneMinute") : t("wait.minutes", { count: minutes });
}
