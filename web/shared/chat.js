// The in-call chat panel, shared by the customer page and the agent console. It doubles as
// real-time text: with the option on, the draft is shown to the other side as it is typed.
import { call } from "/static/shared/signaling.js";

const DRAFT_EVERY_MS = 300;

export class ChatPanel {
  constructor({ root, socket, me }) {
    this.socket = socket;
    this.me = me; // "customer" or "agent"
    this.sessionId = null;
    this.log = root.querySelector(".chat-log");
    this.form = root.querySelector("form");
    this.input = root.querySelector(".chat-input");
    this.rtt = root.querySelector(".chat-rtt");
    this.draft = root.querySelector(".chat-draft");
    this.lastDraft = 0;
    this.draftTimer = null;
    this.form.addEventListener("submit", (ev) => this.send(ev));
    this.input.addEventListener("input", () => this.typed());
    socket.on("chat", (line) => this.add(line));
    socket.on("typing", (data) => {
      this.draft.textContent = data.text ? `Typing: ${data.text}` : "";
    });
  }

  start(sessionId, history = []) {
    this.sessionId = sessionId;
    this.log.replaceChildren();
    this.draft.textContent = "";
    history.forEach((line) => this.add(line));
  }

  add(line) {
    const item = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = line.from === this.me ? "You" : line.name;
    item.append(who, document.createTextNode(`: ${line.text}`));
    this.log.append(item);
    this.log.scrollTop = this.log.scrollHeight;
    if (line.from !== this.me) this.draft.textContent = "";
  }

  async send(event) {
    event.preventDefault();
    const text = this.input.value.trim();
    if (!text || !this.sessionId) return;
    try {
      await call(this.socket, "chat", { session_id: this.sessionId, text });
      this.input.value = "";
      this.sendDraft("");
    } catch (err) {
      this.draft.textContent = err.message;
    }
  }

  typed() {
    if (!this.rtt || !this.rtt.checked || !this.sessionId) return;
    clearTimeout(this.draftTimer);
    const wait = Math.max(0, DRAFT_EVERY_MS - (Date.now() - this.lastDraft));
    this.draftTimer = setTimeout(() => this.sendDraft(this.input.value), wait);
  }

  sendDraft(text) {
    if (!this.sessionId) return;
    this.lastDraft = Date.now();
    call(this.socket, "typing", { session_id: this.sessionId, text: text.slice(0, 1000) }).catch(() => {});
  }
}
