// A saved tutorial's workflow on the trainer page: publish, revert the draft, versions, render
// (live percentage and time left, cancel, the reason of a failure), the stable link with its QR
// code, and the public link (make public, revoke).
import { say, t } from "/static/shared/i18n.js";
import { clock } from "/static/shared/recording-player.js";
import * as api from "/static/trainer/tutorials-api.js";

export const POLL_MS = 500; // render progress refresh

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "i18n") say(node, v);
    else if (k in node && k !== "role") node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

export class Workflow {
  constructor(container) {
    this.box = container;
    this.tutorial = null;
    this.job = null;
    this.poll = null;
  }

  show(tutorial) {
    this.tutorial = tutorial;
    this.render();
  }

  close() {
    this.stopPolling();
    this.tutorial = null;
    this.job = null;
    this.box.replaceChildren();
  }

  async run(action, doneKey) {
    try {
      const answer = await action();
      if (answer && answer.id === this.tutorial.id) this.tutorial = answer;
      else this.tutorial = await api.getTutorial(this.tutorial.id);
      this.render();
      say(this.status, doneKey);
    } catch (err) {
      say(this.status, "trainer.flow.failed", { message: err.message });
    }
  }

  render() {
    const tut = this.tutorial;
    if (!tut) return;
    const published = tut.published;
    const heading = el("h3", { id: "flow-title", i18n: "trainer.flow.title" });
    const state = el("p", { id: "flow-state" });
    if (published) {
      say(state, tut.has_draft ? "trainer.flow.published_draft" : "trainer.flow.published", { version: published.version });
    } else {
      say(state, "trainer.flow.draft");
    }
    this.status = el("p", { id: "flow-status", role: "status", className: "muted" });
    this.status.setAttribute("aria-live", "polite");

    const publish = el("button", { type: "button", className: "primary", i18n: "trainer.flow.publish" });
    publish.disabled = Boolean(published) && !tut.has_draft;
    publish.addEventListener("click", () => this.run(() => api.publish(tut.id), "trainer.flow.published_now"));
    const revert = el("button", { type: "button", i18n: "trainer.flow.revert" });
    revert.hidden = !(published && tut.has_draft);
    revert.addEventListener("click", () => this.run(() => api.revertDraft(tut.id), "trainer.flow.reverted"));
    const showVersions = el("button", { type: "button", i18n: "trainer.flow.versions" });
    showVersions.hidden = !published;
    const versionList = el("ol", { id: "flow-versions", className: "plain" });
    versionList.setAttribute("aria-label", t("trainer.flow.versions"));
    showVersions.addEventListener("click", async () => {
      try {
        const { versions } = await api.versions(tut.id);
        versionList.replaceChildren(...versions.map((v) => el("li", {
          text: t("trainer.flow.version_is", {
            version: v.version,
            when: new Date(v.published_at * 1000).toLocaleString(document.documentElement.lang),
            who: v.published_by,
          }),
        })));
      } catch (err) {
        say(this.status, "trainer.flow.failed", { message: err.message });
      }
    });

    this.box.replaceChildren(
      heading, state, this.status,
      el("div", { className: "row" }, publish, revert, showVersions),
      versionList,
      this.renderSection(),
      this.linkSection(),
    );
  }

  renderSection() {
    const tut = this.tutorial;
    const format = el("select", { id: "flow-format" },
      el("option", { value: "mp4", text: "MP4 (H.264 + AAC)" }),
      el("option", { value: "webm", text: "WebM (VP9 + Opus)" }));
    const start = el("button", { type: "button", id: "flow-render", i18n: "trainer.flow.render" });
    start.disabled = !tut.published && !tut.draft;
    start.addEventListener("click", async () => {
      try {
        this.follow(await api.startRender(tut.id, format.value, tut.published ? "published" : "draft"));
      } catch (err) {
        say(this.status, "trainer.flow.failed", { message: err.message });
      }
    });
    this.progress = el("progress", { id: "flow-progress", max: 1, value: 0, hidden: true });
    this.progress.setAttribute("aria-labelledby", "flow-render-title");
    this.progressText = el("p", { id: "flow-progress-text", role: "status" });
    this.progressText.setAttribute("aria-live", "polite");
    this.cancel = el("button", { type: "button", id: "flow-cancel", i18n: "trainer.flow.cancel", hidden: true });
    this.cancel.addEventListener("click", async () => {
      if (!this.job) return;
      try {
        this.showJob(await api.cancelRender(this.job.id));
      } catch (err) {
        say(this.status, "trainer.flow.failed", { message: err.message });
      }
    });
    return el("div", {},
      el("h4", { id: "flow-render-title", i18n: "trainer.flow.render_title" }),
      el("div", { className: "row" },
        el("label", { htmlFor: "flow-format", className: "inline", i18n: "trainer.flow.format" }), format, start),
      this.progress, this.progressText, this.cancel);
  }

  linkSection() {
    const tut = this.tutorial;
    const section = el("div", {}, el("h4", { i18n: "trainer.flow.links" }));
    if (!tut.published) {
      section.append(el("p", { className: "muted", i18n: "trainer.flow.links_after_publish" }));
      return section;
    }
    const stable = el("a", { href: tut.link, text: new URL(tut.link, location.href).href });
    section.append(el("p", {}, el("span", { i18n: "trainer.flow.stable" }), " ", stable));
    section.append(el("img", { src: api.qrUrl(tut.id), alt: t("trainer.flow.qr_alt", { title: tut.published.title }), width: 160, height: 160 }));
    const pub = el("p", { id: "flow-public" });
    if (tut.public_url) {
      const url = new URL(tut.public_url, location.href).href;
      pub.append(el("span", { i18n: "trainer.flow.public_is" }), " ", el("a", { href: url, text: url }));
      const revoke = el("button", { type: "button", className: "danger", i18n: "trainer.flow.revoke" });
      revoke.addEventListener("click", () => this.run(() => api.revokePublic(tut.id), "trainer.flow.revoked"));
      section.append(pub, revoke);
    } else {
      pub.append(el("span", { i18n: "trainer.flow.not_public" }));
      const make = el("button", { type: "button", i18n: "trainer.flow.make_public" });
      make.addEventListener("click", () => this.run(() => api.makePublic(tut.id), "trainer.flow.public_now"));
      section.append(pub, make);
    }
    return section;
  }

  follow(job) {
    this.showJob(job);
    this.stopPolling();
    const tick = async () => {
      if (!this.job || ["done", "failed", "cancelled"].includes(this.job.state)) return;
      try {
        this.showJob(await api.renderJob(this.job.id));
      } catch (err) {
        say(this.status, "trainer.flow.failed", { message: err.message });
        return;
      }
      this.poll = setTimeout(tick, POLL_MS);
    };
    this.poll = setTimeout(tick, POLL_MS);
  }

  stopPolling() {
    clearTimeout(this.poll);
    this.poll = null;
  }

  showJob(job) {
    this.job = job;
    const running = job.state === "queued" || job.state === "running";
    this.progress.hidden = false;
    this.progress.value = job.progress;
    this.cancel.hidden = !running;
    const percent = Math.round(job.progress * 100);
    if (running) {
      if (job.eta === null || job.eta === undefined) say(this.progressText, "trainer.flow.rendering", { percent });
      else say(this.progressText, "trainer.flow.rendering_eta", { percent, left: clock(job.eta) });
    } else if (job.state === "done") {
      say(this.progressText, "trainer.flow.rendered");
    } else if (job.state === "failed") {
      say(this.progressText, "trainer.flow.render_failed", { reason: job.error || "" });
    } else {
      say(this.progressText, "trainer.flow.render_cancelled");
    }
  }
}
