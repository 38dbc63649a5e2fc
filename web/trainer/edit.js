// The tutorial editor's model, with no DOM: what a trainer decides about a recording (trim,
// cuts, chapters, texts, marks to keep, blur rectangles over time, poster frame) as one plain
// object, the draft the server stores: the edit model of docs/tutorials.md (`TutorialEdit` in
// docs/openapi.yaml). Times are media times of the recording (the sidecar's clock), in
// seconds; the server remaps them onto the tutorial's own time line when it renders.
//
// Rules kept here so that the page never sends a draft the server would refuse for its shape:
// in < out; cuts inside [in, out], not overlapping (touching cuts merge); chapters inside the
// kept time, not inside a cut, sorted; a blur lasts at least MIN_BLUR seconds and covers a
// rectangle inside the frame.

export const MAX_TITLE = 200;
export const MAX_DESCRIPTION = 5000;
export const MAX_TAGS = 20;
export const MAX_TAG = 40;
export const MAX_CHAPTERS = 50;
export const MAX_BLURS = 50;
export const MIN_BLUR = 0.2;
export const MIN_RECT = 0.01;

const round3 = (v) => Math.round(v * 1000) / 1000;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export function emptyDraft(recording) {
  return {
    title: "",
    description: "",
    topic: recording.topic || null,
    tags: [],
    source: "customer",
    trim: { in: 0, out: round3(recording.duration) },
    cuts: [], // [[start, end), ...]
    chapters: [],
    keep_annotations: "all", // or the ids kept
    blurs: [], // {start, end, x, y, w, h}
    poster: null,
  };
}

// A draft as the server keeps it, made ready to edit: the end of the recording for "to the end".
export function fromServer(edit, recording) {
  const draft = { ...emptyDraft(recording), ...structuredClone(edit) };
  if (draft.trim.out === null || draft.trim.out === undefined) draft.trim.out = round3(recording.duration);
  return draft;
}

export class EditError extends Error {
  constructor(key, vars = {}) {
    super(key);
    this.key = key; // an i18n key (trainer.edit.error.*)
    this.vars = vars;
  }
}

export function setIn(draft, at) {
  if (at >= draft.trim.out) throw new EditError("trainer.edit.error.in_after_out");
  draft.trim.in = round3(Math.max(0, at));
  draft.cuts = draft.cuts.filter((c) => c[1] > draft.trim.in).map((c) => [Math.max(c[0], draft.trim.in), c[1]]);
  draft.chapters = draft.chapters.filter((c) => c.at >= draft.trim.in);
  return draft;
}

export function setOut(draft, at) {
  if (at <= draft.trim.in) throw new EditError("trainer.edit.error.out_before_in");
  draft.trim.out = round3(at);
  draft.cuts = draft.cuts.filter((c) => c[0] < draft.trim.out).map((c) => [c[0], Math.min(c[1], draft.trim.out)]);
  draft.chapters = draft.chapters.filter((c) => c.at < draft.trim.out);
  return draft;
}

// Cut [from, to) out of the middle; overlapping or touching cuts become one.
export function addCut(draft, from, to) {
  const a = round3(Math.max(Math.min(from, to), draft.trim.in));
  const b = round3(Math.min(Math.max(from, to), draft.trim.out));
  if (b - a < MIN_BLUR) throw new EditError("trainer.edit.error.cut_too_short");
  const cuts = [...draft.cuts, [a, b]].sort((x, y) => x[0] - y[0]);
  const merged = [];
  for (const cut of cuts) {
    const last = merged.at(-1);
    if (last && cut[0] <= last[1]) last[1] = Math.max(last[1], cut[1]);
    else merged.push([...cut]);
  }
  if (keptSeconds({ ...draft, cuts: merged }) < MIN_BLUR) throw new EditError("trainer.edit.error.nothing_left");
  draft.cuts = merged;
  draft.chapters = draft.chapters.filter((c) => !inCut(merged, c.at));
  return draft;
}

export function removeCut(draft, index) {
  draft.cuts.splice(index, 1);
  return draft;
}

export function inCut(cuts, at) {
  return cuts.some(([start, end]) => at >= start && at < end);
}

// Seconds the tutorial will last.
export function keptSeconds(draft) {
  const cut = draft.cuts.reduce((sum, [start, end]) => sum + (end - start), 0);
  return round3(draft.trim.out - draft.trim.in - cut);
}

// Recording time -> tutorial time (null when cut away): what chapters and the render use.
export function toTutorialTime(draft, at) {
  if (at < draft.trim.in || at > draft.trim.out || inCut(draft.cuts, at)) return null;
  const before = draft.cuts.filter(([, end]) => end <= at).reduce((sum, [start, end]) => sum + (end - start), 0);
  return round3(at - draft.trim.in - before);
}

export function addChapter(draft, title, at) {
  const name = String(title || "").trim();
  if (!name) throw new EditError("trainer.edit.error.chapter_title");
  if (name.length > MAX_TITLE) throw new EditError("trainer.edit.error.too_long", { max: MAX_TITLE });
  if (draft.chapters.length >= MAX_CHAPTERS) throw new EditError("trainer.edit.error.too_many", { max: MAX_CHAPTERS });
  if (toTutorialTime(draft, at) === null) throw new EditError("trainer.edit.error.chapter_outside");
  draft.chapters = [...draft.chapters.filter((c) => c.at !== round3(at)), { title: name, at: round3(at) }]
    .sort((a, b) => a.at - b.at);
  return draft;
}

export function removeChapter(draft, index) {
  draft.chapters.splice(index, 1);
  return draft;
}

// A blur rectangle from `from` to `to` (seconds), corners in normalized frame coordinates.
export function addBlur(draft, from, to, p, q) {
  if (draft.blurs.length >= MAX_BLURS) throw new EditError("trainer.edit.error.too_many", { max: MAX_BLURS });
  const x = clamp(Math.min(p[0], q[0]), 0, 1);
  const y = clamp(Math.min(p[1], q[1]), 0, 1);
  const w = clamp(Math.abs(q[0] - p[0]), 0, 1 - x);
  const h = clamp(Math.abs(q[1] - p[1]), 0, 1 - y);
  if (w < MIN_RECT || h < MIN_RECT) throw new EditError("trainer.edit.error.blur_small");
  const a = round3(Math.max(draft.trim.in, Math.min(from, to)));
  const b = round3(Math.min(draft.trim.out, Math.max(from, to)));
  if (b - a < MIN_BLUR) throw new EditError("trainer.edit.error.blur_short");
  draft.blurs.push({ start: a, end: b, x: round3(x), y: round3(y), w: round3(w), h: round3(h) });
  return draft;
}

export function removeBlur(draft, index) {
  draft.blurs.splice(index, 1);
  return draft;
}

export function blursAt(draft, at) {
  return draft.blurs.filter((b) => at >= b.start && at < b.end);
}

export function setPoster(draft, at) {
  if (toTutorialTime(draft, at) === null) throw new EditError("trainer.edit.error.poster_outside");
  draft.poster = round3(at);
  return draft;
}

// The marks a recording has (from its sidecar's lines), to choose which to keep.
export function marksOf(lines) {
  const seen = new Map();
  for (const { at, kind, data } of lines) {
    if (kind === "annotate" && data && data.id && !seen.has(data.id)) {
      seen.set(data.id, { id: data.id, kind: data.kind, at, text: data.text || "" });
    }
  }
  return [...seen.values()];
}

export function keepAnnotation(draft, id, keep, all) {
  const kept = new Set(draft.keep_annotations === "all" ? all : draft.keep_annotations);
  if (keep) kept.add(id);
  else kept.delete(id);
  draft.keep_annotations = all.every((a) => kept.has(a)) ? "all" : all.filter((a) => kept.has(a));
  return draft;
}

export function setTexts(draft, { title, description, topic, tags }) {
  const clean = (s) => String(s ?? "").trim();
  if (title !== undefined) {
    if (clean(title).length > MAX_TITLE) throw new EditError("trainer.edit.error.too_long", { max: MAX_TITLE });
    draft.title = clean(title);
  }
  if (description !== undefined) {
    if (clean(description).length > MAX_DESCRIPTION) throw new EditError("trainer.edit.error.too_long", { max: MAX_DESCRIPTION });
    draft.description = clean(description);
  }
  if (topic !== undefined) draft.topic = clean(topic) || null;
  if (tags !== undefined) {
    const list = [...new Set(String(tags).split(",").map((s) => s.trim().toLowerCase()).filter(Boolean))];
    if (list.length > MAX_TAGS || list.some((s) => s.length > MAX_TAG)) {
      throw new EditError("trainer.edit.error.tags", { max: MAX_TAGS, length: MAX_TAG });
    }
    draft.tags = list;
  }
  return draft;
}
