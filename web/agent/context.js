// The context panel beside a call: who the customer is, their earlier calls, the agent's notes
// (saved a moment after they stop typing), and a small panel of the lines in the agent's queues.
// The console calls open() when a call starts, wrapUp() when it ends and refreshQueues() when
// the number waiting changes, and relabel() when the agent switches language; everything else
// stays in here. Texts are in web/shared/i18n-agent.js.
import { has, language, say, t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const SAVE_AFTER_MS = 800;

async function getJson(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (!r.ok) throw new Error(`${r.status}`);
  return r.json();
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}:${String(s % 60).padStart(2, "0")}`;
  return t("agent.duration.hours", { hours: Math.floor(m / 60), minutes: m % 60 });
}

function when(epoch) {
  return new Date(epoch * 1000).toLocaleString(language(), { dateStyle: "medium", timeStyle: "short" });
}

// "Jane Doe (jane@example.com) · ref cust-7": the signed identity's claims, as the embedding
// app gave them; an anonymous customer has none.
function showCustomer(el, customer) {
  if (!customer.ref) {
    say(el, "agent.customer.anonymous");
    return;
  }
  // A missing name is said in the agent's words; a given one is kept as it is.
  const name = customer.name || t("agent.customer.noName");
  const vars = { name, ref: customer.ref };
  if (customer.email) say(el, "agent.customer.lineEmail", { ...vars, email: customer.email });
  else say(el, "agent.customer.line", vars);
}

export class CallContext {
  constructor() {
    this.sessionId = null;
    this.saveTimer = null;
    this.saving = Promise.resolve();
    this.saved = "";
    this.queues = [];
    this.skew = 0; // server clock minus this browser's, from the last answer
    this.queueTimer = null;
    this.body = null; // the last context read, drawn again on a switch of language
    $("call-notes").addEventListener("input", () => this.typed());
  }

  async open(sessionId) {
    this.sessionId = sessionId;
    $("call-notes").value = "";
    this.saved = "";
    this.body = null;
    say($("notes-status"), null);
    say($("customer-ref"), null);
    $("customer-ref").textContent = "…";
    this.showAppContext({});
    say($("context-topic"), null);
    say($("context-description"), null);
    $("previous-calls").replaceChildren();
    $("previous-empty").hidden = true;
    $("guide").hidden = true;
    $("guide-steps").replaceChildren();
    say($("guide-status"), null);
    let body;
    try {
      body = await getJson(`/api/agent/sessions/${encodeURIComponent(sessionId)}/context`);
    } catch (err) {
      say($("customer-ref"), "agent.context.unavailable");
      return;
    }
    if (this.sessionId !== sessionId) return; // a newer call started meanwhile
    this.body = body;
    this.showFacts(body);
    if (!$("call-notes").value) {
      $("call-notes").value = body.note;
      this.saved = body.note;
    }
    this.showGuide(body.guide);
    this.showPrevious(body.previous);
    this.showQueues(body.queues, body.at);
  }

  // Who calls and about what: the operator's and the customer's words as they are, the
  // console's own in the agent's language.
  showFacts(body) {
    showCustomer($("customer-ref"), body.customer);
    this.showAppContext(body.context || {});
    const text = (el, value, fallback) => {
      if (value) {
        say(el, null);
        el.textContent = value;
      } else say(el, fallback);
    };
    text($("context-topic"), body.topic.label, "agent.context.noTopic");
    text($("context-description"), body.topic.description, "agent.context.noDescription");
  }

  // After a switch of language: what is drawn from data, drawn again.
  relabel() {
    if (this.body) {
      showCustomer($("customer-ref"), this.body.customer);
      this.showAppContext(this.body.context || {});
      this.showPrevious(this.body.previous);
    }
    this.drawQueues();
  }

  // What the embedding app said of this request (its setContext): key: value, as plain text.
  showAppContext(context) {
    const entries = Object.entries(context);
    $("app-context-term").hidden = entries.length === 0;
    $("app-context").hidden = entries.length === 0;
    $("app-context").replaceChildren(...entries.map(([key, value]) => {
      const line = document.createElement("div");
      const name = document.createElement("span");
      name.className = "muted";
      name.textContent = t("agent.context.entry", { key });
      line.append(name, document.createTextNode(value));
      return line;
    }));
  }

  // The topic's checklist; each tick is kept with the session at once.
  showGuide(guide) {
    $("guide").hidden = guide.steps.length === 0;
    const ticked = new Set(guide.ticked);
    $("guide-steps").replaceChildren(...guide.steps.map((step, i) => {
      const li = document.createElement("li");
      const label = document.createElement("label");
      label.className = "checkbox";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.id = `guide-step-${i}`;
      box.checked = ticked.has(step.id);
      box.addEventListener("change", () => this.tick(step, box));
      label.append(box, ` ${step.text}`);
      li.append(label);
      return li;
    }));
  }

  async tick(step, box) {
    const sessionId = this.sessionId;
    if (!sessionId) return;
    try {
      const r = await fetch(`/api/agent/sessions/${encodeURIComponent(sessionId)}/ticks`, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ step_id: step.id, done: box.checked }),
      });
      if (!r.ok) throw new Error(`${r.status}`);
      say($("guide-status"), box.checked ? "agent.guide.done" : "agent.guide.notDone", { step: step.text });
    } catch (err) {
      box.checked = !box.checked;
      say($("guide-status"), "agent.guide.failed", { step: step.text });
    }
  }

  showPrevious(rows) {
    $("previous-empty").hidden = rows.length > 0;
    $("previous-calls").replaceChildren(...rows.map((row) => {
      const li = document.createElement("li");
      const head = document.createElement("p");
      const key = `agent.disposition.${row.disposition}`;
      const outcome = t(row.disposition && has(key) ? key : "agent.previous.noOutcome");
      const topic = row.topic || t("agent.previous.noTopic");
      head.textContent = `${when(row.answered_at)} · ${row.agent} · ${topic} · ${outcome}`;
      li.append(head);
      if (row.note) {
        const note = document.createElement("p");
        note.className = "muted";
        note.textContent = row.note;
        li.append(note);
      }
      (row.recordings || []).forEach((url, i) => {
        const a = document.createElement("a");
        a.href = url;
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = t("agent.previous.recording", { number: i + 1, when: when(row.answered_at) });
        li.append(a, " ");
      });
      return li;
    }));
  }

  typed() {
    clearTimeout(this.saveTimer);
    say($("notes-status"), null);
    this.saveTimer = setTimeout(() => this.save(), SAVE_AFTER_MS);
  }

  save() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const sessionId = this.sessionId;
    const note = $("call-notes").value;
    if (!sessionId || note === this.saved) return this.saving;
    this.saving = this.saving.then(async () => {
      try {
        const r = await fetch(`/api/agent/sessions/${encodeURIComponent(sessionId)}/note`, {
          method: "PUT",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ note }),
        });
        if (!r.ok) throw new Error(`${r.status}`);
        this.saved = note;
        if (this.sessionId === sessionId) say($("notes-status"), "agent.notes.saved");
      } catch (err) {
        if (this.sessionId === sessionId) say($("notes-status"), "agent.notes.failed");
      }
    });
    return this.saving;
  }

  // The call ended: the notes become the wrap-up note (the agent may still edit it there).
  async wrapUp(sessionId, noteField) {
    if (this.sessionId === sessionId) {
      noteField.value = $("call-notes").value;
      await this.save();
      this.sessionId = null;
      return;
    }
    // After a reload in wrap-up: the notes saved during the call.
    try {
      const body = await getJson(`/api/agent/sessions/${encodeURIComponent(sessionId)}/context`);
      if (!noteField.value) noteField.value = body.note;
    } catch (err) {
      // Nothing saved, or the wrap-up is over: the field stays as it is.
    }
  }

  async refreshQueues() {
    try {
      const body = await getJson("/api/agent/queues");
      this.showQueues(body.queues, body.at);
    } catch (err) {
      // Not signed in any more: the console says so itself.
    }
  }

  showQueues(queues, at) {
    this.queues = queues;
    this.skew = at - Date.now() / 1000;
    $("queue-lines").hidden = queues.length === 0;
    this.drawQueues();
    clearInterval(this.queueTimer);
    if (queues.some((q) => q.longest_since !== null)) {
      this.queueTimer = setInterval(() => this.drawQueues(), 5000);
    }
  }

  drawQueues() {
    const now = Date.now() / 1000 + this.skew;
    $("queue-lines").replaceChildren(...this.queues.map((q) => {
      const li = document.createElement("li");
      li.textContent = q.longest_since === null
        ? t("agent.queue.line", { name: q.name, count: q.waiting })
        : t("agent.queue.longest", { name: q.name, count: q.waiting, longest: clock(now - q.longest_since) });
      return li;
    }));
  }
}
