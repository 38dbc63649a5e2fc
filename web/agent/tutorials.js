// Tutorials in the agent console: suggestions for the call's topic, a search box, a button to
// send a tutorial (from its start, or from the chapter a hit names) to the customer, and what
// the customer's player reports (opened, position, finished). docs/protocol.md, "Tutorials".
import { has, say, t } from "/static/shared/i18n.js";
import { AckError, call } from "/static/shared/signaling.js";
import { clock } from "/static/shared/recording-player.js";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

// A failure in the panel's status line: a refusal worded by its code where the console has
// words for it, else the server's or the browser's own.
function sayFailure(err) {
  const key = err instanceof AckError ? `agent.server.${err.code}` : null;
  if (key && has(key)) say($("tutorials-status"), key);
  else say($("tutorials-status"), "tutorial.agent.failed", { message: err.message });
}

async function search(params) {
  const res = await fetch(`/api/tutorials?${new URLSearchParams(params)}`, { credentials: "same-origin" });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message || `HTTP ${res.status}`);
  return data.tutorials;
}

export class TutorialPanel {
  constructor() {
    this.socket = null;
    this.sessionId = null;
    this.pushes = new Map(); // push_id -> {title, item}
    $("tutorials-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.find($("tutorials-query").value.trim());
    });
  }

  // Each new connection of the console (a new login) brings its socket.
  attach(socket) {
    this.socket = socket;
    socket.on("tutorial_progress", (data) => this.progress(data));
    return this;
  }

  async start(sessionId, topic) {
    this.sessionId = sessionId;
    this.pushes.clear();
    $("tutorials-sent").replaceChildren();
    $("tutorials-query").value = "";
    $("tutorials-panel").hidden = false;
    this.topic = topic || "";
    await this.find("");
  }

  stop() {
    this.sessionId = null;
    $("tutorials-panel").hidden = true;
  }

  async find(q) {
    const params = { state: "published" };
    if (q) params.q = q;
    else if (this.topic) params.topic = this.topic;
    // The newest request wins: the call's first suggestions may come back after a search.
    const asked = (this.asked = (this.asked || 0) + 1);
    say($("tutorials-heading"), q ? "tutorial.agent.results" : "tutorial.agent.suggested");
    try {
      const hits = await search(params);
      if (asked === this.asked) this.show(hits);
    } catch (err) {
      if (asked === this.asked) sayFailure(err);
    }
  }

  // After a switch of language: the hits again, their labels in the new words.
  relabel() {
    if (this.hits && this.sessionId) this.show(this.hits);
  }

  show(hits) {
    this.hits = hits;
    $("tutorials-hits").replaceChildren(...hits.map((hit) => {
      const send = el("button", { type: "button", text: t("tutorial.agent.send") });
      send.setAttribute("aria-label", t("tutorial.agent.send_named", { title: hit.title }));
      send.addEventListener("click", () => this.push(hit, null));
      const item = el("li", {}, el("span", { text: hit.title }), " ", send);
      if (hit.chapter !== null && hit.chapter !== undefined) {
        const from = el("button", { type: "button", text: t("tutorial.agent.send_from", { at: clock(hit.at || 0) }) });
        from.addEventListener("click", () => this.push(hit, hit.chapter));
        item.append(" ", from);
      }
      const pick = el("button", { type: "button", text: t("tutorial.agent.chapters") });
      pick.setAttribute("aria-label", t("tutorial.agent.chapters_named", { title: hit.title }));
      pick.setAttribute("aria-expanded", "false");
      pick.addEventListener("click", () => this.chapters(hit, item, pick));
      item.append(" ", pick);
      if (hit.snippet) item.append(el("p", { className: "muted", text: hit.snippet }));
      return item;
    }));
    say($("tutorials-status"), hits.length ? null : "tutorial.agent.none");
  }

  // The chapter picker: the tutorial's chapters (as viewers see them, times on the output),
  // a choice among them and a button sending the tutorial from the chosen one.
  async chapters(hit, item, pick) {
    const open = item.querySelector(".chapter-picker");
    if (open) {
      open.remove();
      pick.setAttribute("aria-expanded", "false");
      return;
    }
    let chapters;
    try {
      const res = await fetch(`/api/tutorials/${encodeURIComponent(hit.id)}`, { credentials: "same-origin" });
      const data = await res.json().catch(() => null);
      if (!res.ok) throw new Error(data?.error?.message || `HTTP ${res.status}`);
      chapters = data.published?.chapters || [];
    } catch (err) {
      sayFailure(err);
      return;
    }
    if (!item.isConnected) return; // the list was redrawn meanwhile
    if (!chapters.length) {
      say($("tutorials-status"), "tutorial.agent.no_chapters", { title: hit.title });
      return;
    }
    const id = `chapters-${hit.id}`;
    const label = el("label", { htmlFor: id, text: t("tutorial.agent.chapter_label", { title: hit.title }) });
    const select = el("select", { id });
    chapters.forEach((chapter, index) => {
      select.append(new Option(`${clock(chapter.at)} · ${chapter.title}`, String(index)));
    });
    const send = el("button", { type: "button", text: t("tutorial.agent.send_chapter") });
    send.addEventListener("click", () => this.push(hit, Number(select.value)));
    const box = el("div", { className: "chapter-picker row" }, label, select, send);
    pick.after(box);
    pick.setAttribute("aria-expanded", "true");
    select.focus();
  }

  async push(hit, chapter) {
    if (!this.sessionId) return;
    try {
      const answer = await call(this.socket, "tutorial_push", {
        session_id: this.sessionId, tutorial_id: hit.id, chapter, at: null,
      });
      const item = el("li", { id: `push-${answer.push_id}` });
      say(item, "tutorial.agent.sent", { title: hit.title });
      this.pushes.set(answer.push_id, { title: hit.title, item });
      $("tutorials-sent").prepend(item);
    } catch (err) {
      sayFailure(err);
    }
  }

  progress({ push_id: pushId, state, position }) {
    const push = this.pushes.get(pushId);
    if (!push) return;
    const key = { opened: "tutorial.agent.opened", position: "tutorial.agent.position", finished: "tutorial.agent.finished" }[state];
    if (key) say(push.item, key, { title: push.title, position: clock(position) });
    push.item.dataset.state = state;
  }
}
