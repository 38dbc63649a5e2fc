// A tutorial pushed by the agent (or picked while waiting), played beside the call on the
// customer page. The customer chooses what the call's sound does meanwhile: lowered ("duck")
// or paused (muted until the tutorial stops). What they do is reported through `report(kind,
// data)`: "opened" once, "position" at most every REPORT_EVERY seconds of play and on pause
// and seek, "finished" at the end; the page sends those to the server.
//
// Texts come from web/shared/i18n.js (tutorial.* keys), in the customer's language.
import { say, t } from "/static/shared/i18n.js";
import { clock } from "/static/shared/recording-player.js";

export const REPORT_EVERY = 5; // seconds of play between position reports
export const DUCKED_VOLUME = 0.2;

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

export class TutorialPlayer {
  // container: an empty element the player fills (it is shown while a tutorial is open).
  // callAudio: the media element that plays the call's sound. report(kind, data).
  // standalone: a page of its own (a tutorial's link), with no call: no sound choice, no close.
  constructor({ container, callAudio = null, report = () => {}, standalone = false }) {
    this.container = container;
    this.standalone = standalone;
    this.callAudio = callAudio;
    this.report = report;
    this.tutorial = null;
    this.mode = "duck";
    this.lastReport = -Infinity;
    this.build();
    container.hidden = true;
  }

  build() {
    const id = (name) => `tutorial-${name}`;
    this.heading = el(this.standalone ? "h1" : "h2", { id: id("title"), tabIndex: -1 });
    this.video = el("video", { id: id("video"), controls: true, playsInline: true, preload: "metadata" });
    this.video.setAttribute("aria-labelledby", id("title"));
    this.chapters = el("ol", { id: id("chapters"), className: "tutorial-chapters" });
    this.chaptersTitle = el("h3", { id: id("chapters-title"), i18n: "tutorial.chapters" });
    this.chapters.setAttribute("aria-labelledby", id("chapters-title"));
    const legend = el("legend", { i18n: "tutorial.callSound" });
    const choice = (value, key) => {
      const input = el("input", { type: "radio", name: id("sound"), value, id: id(`sound-${value}`) });
      input.checked = value === this.mode;
      input.addEventListener("change", () => {
        if (input.checked) this.setMode(value);
      });
      return el("label", { className: "checkbox", htmlFor: input.id }, input, el("span", { i18n: key }));
    };
    const sound = el("fieldset", { className: "tutorial-sound" }, legend,
      choice("duck", "tutorial.duck"), choice("pause", "tutorial.pause"));
    this.status = el("p", { id: id("status"), className: "muted", role: "status" });
    this.status.setAttribute("aria-live", "polite");
    this.closeButton = el("button", { type: "button", id: id("close"), i18n: "tutorial.close" });
    this.closeButton.addEventListener("click", () => this.close());
    this.container.replaceChildren(this.heading, this.video, this.chaptersTitle, this.chapters);
    if (!this.standalone) {
      this.container.append(sound, this.status, el("div", { className: "row actions" }, this.closeButton));
    }
    this.video.addEventListener("play", () => this.quiet());
    this.video.addEventListener("pause", () => {
      this.restore();
      if (!this.video.ended) this.position(true);
    });
    this.video.addEventListener("seeked", () => this.position(true));
    this.video.addEventListener("timeupdate", () => this.position(false));
    this.video.addEventListener("ended", () => {
      this.restore();
      say(this.status, "tutorial.finished");
      this.report("finished", this.where());
    });
  }

  // tutorial: {id, title, url, chapters: [{title, at}], start (seconds), poster}.
  open(tutorial) {
    if (this.tutorial) this.close({ silent: true });
    this.tutorial = tutorial;
    this.lastReport = -Infinity;
    this.heading.textContent = tutorial.title;
    this.video.poster = tutorial.poster || "";
    this.video.src = tutorial.url;
    const start = Math.max(0, tutorial.start || 0);
    this.video.addEventListener("loadedmetadata", () => {
      if (start) this.video.currentTime = start;
      this.report("opened", this.where());
    }, { once: true });
    this.chapters.replaceChildren(
      ...(tutorial.chapters || []).map((chapter) => {
        const button = el("button", { type: "button" }, el("time", { text: clock(chapter.at) }), ` ${chapter.title}`);
        button.addEventListener("click", () => {
          this.video.currentTime = chapter.at;
          this.video.play().catch(() => {});
        });
        return el("li", {}, button);
      }),
    );
    this.chaptersTitle.hidden = this.chapters.hidden = !(tutorial.chapters || []).length;
    say(this.status, "tutorial.opened");
    this.container.hidden = false;
    this.heading.focus();
  }

  setMode(mode) {
    this.mode = mode === "pause" ? "pause" : "duck";
    if (!this.video.paused) this.quiet();
  }

  // The call's sound while the tutorial plays: lowered, or muted.
  quiet() {
    const audio = this.callAudio;
    if (!audio) return;
    if (this.saved === undefined) this.saved = { volume: audio.volume, muted: audio.muted };
    audio.volume = this.mode === "duck" ? DUCKED_VOLUME : this.saved.volume;
    audio.muted = this.mode === "pause" ? true : this.saved.muted;
  }

  restore() {
    const audio = this.callAudio;
    if (!audio || this.saved === undefined) return;
    audio.volume = this.saved.volume;
    audio.muted = this.saved.muted;
    this.saved = undefined;
  }

  where() {
    return {
      tutorial_id: this.tutorial?.id,
      position: Math.round(this.video.currentTime * 10) / 10,
      duration: Number.isFinite(this.video.duration) ? Math.round(this.video.duration * 10) / 10 : null,
    };
  }

  position(now) {
    if (!this.tutorial || this.video.seeking) return;
    const at = this.video.currentTime;
    if (!now && Math.abs(at - this.lastReport) < REPORT_EVERY) return;
    this.lastReport = at;
    say(this.status, "tutorial.position", { position: clock(at) });
    this.report("position", this.where());
  }

  close({ silent = false } = {}) {
    if (!this.tutorial) return;
    const where = this.where();
    this.video.pause();
    this.restore();
    this.video.removeAttribute("src");
    this.video.load();
    this.tutorial = null;
    this.container.hidden = true;
    if (!silent) this.report("closed", where);
  }
}

// The waiting view's "this may solve it": tutorials for the customer's topic, each a button
// that opens it in `player`.
export function renderSuggestions(list, tutorials, player) {
  list.replaceChildren(
    ...tutorials.map((tutorial) => {
      const button = el("button", { type: "button", text: tutorial.title });
      button.addEventListener("click", () => player.open(tutorial));
      const item = el("li", {}, button);
      if (tutorial.poster) {
        // A picture of the tutorial beside its title: decoration (the title says what it is).
        item.prepend(el("img", { src: tutorial.poster, alt: "", className: "tutorial-thumb", width: 96, height: 54 }));
      }
      if (tutorial.description) item.append(el("p", { className: "muted", text: tutorial.description }));
      return item;
    }),
  );
  list.hidden = tutorials.length === 0;
}
