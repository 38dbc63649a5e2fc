// The tutorial editor on the trainer page: buttons that act at the player's current moment
// (start, end, cuts, chapters, poster), the marks to keep, blur rectangles drawn over the
// picture, and the texts. The draft itself is web/trainer/edit.js; saving goes through
// `save(tutorialId | undefined, recordingId, edit)`, which the page gives (the tutorials API)
// and which answers with the tutorial; `onSaved(tutorial)` follows.
import { normalize } from "/static/shared/annotations.js";
import { say, t } from "/static/shared/i18n.js";
import { clock } from "/static/shared/recording-player.js";
import * as edit from "/static/trainer/edit.js";

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

export class Editor {
  constructor({ player, save, onSaved = null }) {
    this.player = player;
    this.save = save;
    this.onSaved = onSaved;
    this.draft = null;
    this.marks = [];
    this.cutFrom = null;
    this.drag = null;
    this.bind();
    player.overlay = (ctx, size, now) => this.drawBlurs(ctx, size, now);
  }

  now() {
    return this.player.mediaTime();
  }

  // row: the recording; lines: its sidecar; draft: a saved draft to go on with, if any.
  open(row, lines, draft = null) {
    this.row = row;
    this.tutorial = null;
    this.draft = draft ? edit.fromServer(draft, row) : edit.emptyDraft(row);
    this.marks = edit.marksOf(lines);
    this.cutFrom = null;
    $("edit-name").value = this.draft.title;
    $("edit-description").value = this.draft.description;
    $("edit-topic").value = this.draft.topic || "";
    $("edit-tags").value = this.draft.tags.join(", ");
    this.status(null);
    $("editor").hidden = false;
    this.render();
  }

  close() {
    this.draft = null;
    $("editor").hidden = true;
    this.blurMode(false);
  }

  // Runs `change` on the draft; a refusal is shown and leaves the draft as it was.
  act(change) {
    const before = structuredClone(this.draft);
    try {
      change(this.draft);
    } catch (err) {
      this.draft = before;
      if (err instanceof edit.EditError) this.status(err.key, err.vars, true);
      else throw err;
      return false;
    }
    this.status(null);
    this.render();
    this.player.draw();
    return true;
  }

  status(key, vars = {}, isError = false) {
    const box = $("edit-status");
    box.classList.toggle("error", isError);
    box.hidden = !key;
    say(box, key, vars);
  }

  bind() {
    $("edit-in").addEventListener("click", () => this.act((d) => edit.setIn(d, this.now())));
    $("edit-out").addEventListener("click", () => this.act((d) => edit.setOut(d, this.now())));
    $("edit-cut-from").addEventListener("click", () => {
      this.cutFrom = this.now();
      this.render();
    });
    $("edit-cut-to").addEventListener("click", () => {
      if (this.cutFrom !== null && this.act((d) => edit.addCut(d, this.cutFrom, this.now()))) {
        this.cutFrom = null;
        this.render();
      }
    });
    $("edit-chapter-add").addEventListener("click", () => {
      if (this.act((d) => edit.addChapter(d, $("edit-chapter-name").value, this.now()))) {
        $("edit-chapter-name").value = "";
      }
    });
    $("edit-chapter-name").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        $("edit-chapter-add").click();
      }
    });
    $("edit-poster-set").addEventListener("click", () => this.act((d) => edit.setPoster(d, this.now())));
    $("edit-blur-draw").addEventListener("click", () =>
      this.blurMode($("edit-blur-draw").getAttribute("aria-pressed") !== "true"));
    $("edit-blur-center").addEventListener("click", () =>
      this.act((d) => edit.addBlur(d, this.now(), this.now() + this.blurSeconds(), [0.35, 0.35], [0.65, 0.65])));
    const canvas = this.player.canvas;
    canvas.addEventListener("pointerdown", (event) => {
      if (!canvas.classList.contains("blurring")) return;
      canvas.setPointerCapture(event.pointerId);
      const p = normalize(event, this.player.main);
      this.drag = { from: p, to: p };
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!this.drag) return;
      this.drag.to = normalize(event, this.player.main);
      this.player.draw();
    });
    canvas.addEventListener("pointerup", (event) => {
      if (!this.drag) return;
      const { from } = this.drag;
      const to = normalize(event, this.player.main);
      this.drag = null;
      const at = this.now();
      if (this.act((d) => edit.addBlur(d, at, at + this.blurSeconds(), from, to))) this.blurMode(false);
    });
    $("edit-save").addEventListener("click", () => this.submit());
    this.player.main.addEventListener("timeupdate", () => this.tick());
    this.player.main.addEventListener("seeked", () => this.tick());
  }

  blurSeconds() {
    const value = Number($("edit-blur-seconds").value);
    return Number.isFinite(value) && value > 0 ? value : 2;
  }

  blurMode(on) {
    $("edit-blur-draw").setAttribute("aria-pressed", String(on));
    this.player.canvas.classList.toggle("blurring", on);
    if (on) this.status("trainer.edit.blur_drag");
  }

  tick() {
    if (!this.draft) return;
    const at = this.now();
    const inside = edit.toTutorialTime(this.draft, at);
    say($("edit-now"), inside === null ? "trainer.edit.now_cut" : "trainer.edit.now", {
      at: clock(at),
      tutorial: inside === null ? "" : clock(inside),
    });
  }

  texts() {
    return this.act((d) =>
      edit.setTexts(d, {
        title: $("edit-name").value,
        description: $("edit-description").value,
        topic: $("edit-topic").value,
        tags: $("edit-tags").value,
      }));
  }

  async submit() {
    if (!this.texts()) return;
    if (!this.draft.title) {
      this.status("trainer.edit.error.title", {}, true);
      $("edit-name").focus();
      return;
    }
    try {
      this.tutorial = await this.save(this.tutorial?.id, this.row.id, structuredClone(this.draft));
      this.status("trainer.edit.saved");
      if (this.onSaved) this.onSaved(this.tutorial);
    } catch (err) {
      this.status("trainer.edit.error.save", { message: err.message }, true);
    }
  }

  render() {
    const d = this.draft;
    if (!d) return;
    say($("edit-trim"), "trainer.edit.trim_is", {
      in: clock(d.trim.in), out: clock(d.trim.out), length: clock(edit.keptSeconds(d)),
    });
    $("edit-cut-to").disabled = this.cutFrom === null;
    $("edit-cut-from").setAttribute("aria-pressed", String(this.cutFrom !== null));
    const removable = (key, vars, onRemove, removeKey) => {
      const button = el("button", { type: "button", text: t(removeKey) });
      button.setAttribute("aria-label", `${t(removeKey)}: ${t(key, vars)}`);
      button.addEventListener("click", () => this.act(onRemove));
      return el("li", {}, el("span", { text: t(key, vars) }), button);
    };
    $("edit-cuts").replaceChildren(...d.cuts.map(([start, end], i) =>
      removable("trainer.edit.cut_is", { from: clock(start), to: clock(end) }, (x) => edit.removeCut(x, i), "trainer.edit.remove")));
    $("edit-chapters").replaceChildren(...d.chapters.map((c, i) => {
      const item = removable("trainer.edit.chapter_is", { at: clock(c.at), title: c.title }, (x) => edit.removeChapter(x, i), "trainer.edit.remove");
      const seek = el("button", { type: "button", text: t("trainer.edit.go") });
      seek.setAttribute("aria-label", `${t("trainer.edit.go")}: ${c.title}`);
      seek.addEventListener("click", () => this.player.seekMedia(c.at));
      item.append(seek);
      return item;
    }));
    $("edit-blurs").replaceChildren(...d.blurs.map((b, i) =>
      removable("trainer.edit.blur_is", { from: clock(b.start), to: clock(b.end) }, (x) => edit.removeBlur(x, i), "trainer.edit.remove")));
    const all = this.marks.map((m) => m.id);
    const kept = new Set(d.keep_annotations === "all" ? all : d.keep_annotations);
    $("edit-marks").replaceChildren(...this.marks.map((m) => {
      const box = el("input", { type: "checkbox", id: `keep-${m.id}`, checked: kept.has(m.id) });
      box.addEventListener("change", () => this.act((x) => edit.keepAnnotation(x, m.id, box.checked, all)));
      const label = el("label", { className: "checkbox", htmlFor: box.id }, box,
        el("span", { text: t("trainer.edit.mark_is", { at: clock(m.at), kind: m.kind, text: m.text }) }));
      return el("li", {}, label);
    }));
    $("edit-no-marks").hidden = this.marks.length > 0;
    if (d.poster === null) say($("edit-poster"), "trainer.edit.poster_none");
    else say($("edit-poster"), "trainer.edit.poster_is", { at: clock(d.poster) });
    this.tick();
  }

  drawBlurs(ctx, { width, height }, now) {
    if (!this.draft) return;
    const rects = edit.blursAt(this.draft, now).map((b) => [b.x, b.y, b.w, b.h]);
    if (this.drag) {
      const [a, b] = [this.drag.from, this.drag.to];
      rects.push([Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1])]);
    }
    ctx.save();
    ctx.fillStyle = "rgba(128, 128, 128, 0.6)";
    ctx.strokeStyle = "#ffcc00";
    ctx.lineWidth = 2;
    for (const [x, y, w, h] of rects) {
      ctx.fillRect(x * width, y * height, w * width, h * height);
      ctx.strokeRect(x * width, y * height, w * width, h * height);
    }
    ctx.restore();
  }
}
