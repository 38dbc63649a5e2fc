// The in-call chat panel, shared by the customer page and the agent console. It doubles as
// real-time text: with the option on, the draft is shown to the other side as it is typed.
// Its own words come from web/shared/i18n.js (English unless the page chose a language).
import { say } from "/static/shared/i18n.js";
import { call } from "/static/shared/signaling.js";

const DRAFT_EVERY_MS = 300;

export class ChatPanel {
  // `describe` turns a refused message (an AckError) into [i18n key, vars]; by default the
  // server's own words.
  constructor({ root, socket, me, describe = (err) => ["server.unknown", { message: err.message }] }) {
    this.socket = socket;
    this.describe = describe;
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
      say(this.draft, data.text ? "chat.typing" : null, { text: data.text });
    });
  }

  start(sessionId, history = []) {
    this.sessionId = sessionId;
    this.log.replaceChildren();
    say(this.draft, null);
    history.forEach((line) => this.add(line));
  }

  add(line) {
    const item = document.createElement("li");
    const who = document.createElement("strong");
    if (line.from === this.me) say(who, "chat.you");
    // The server names every customer "Customer" (in English); staff are named by their names.
    else if (line.from === "customer") say(who, "chat.customer");
    else who.textContent = line.name;
    const said = document.createElement("span");
    say(said, "chat.said", { text: line.text });
    item.append(who, said);
    this.log.append(item);
    this.log.scrollTop = this.log.scrollHeight;
    if (line.from !== this.me) say(this.draft, null);
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
      say(this.draft, ...this.describe(err));
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
