// Plays a recording: the customer's picture with the agent's as a small inset, both voices,
// and the annotations of the sidecar (events.jsonl) drawn over the picture by the shared
// renderer, at the media time the player shows. Chat lines are markers on the time line.
//
// Both files and the sidecar are on the call's one media clock (docs/media.md): a file's
// currentTime plus its `start` is media time. The inset follows the main picture (play, pause,
// seek, and a nudge when it drifts by more than DRIFT seconds).
import { LASER_FADE, contentRect, drawAnnotations } from "/static/shared/annotations.js";

const DRIFT = 0.25;
const LIVE = "live";

// A media time as m:ss (h:mm:ss past an hour), for time lines and chat markers.
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

// The sidecar's lines, parsed; a torn last line (a killed server) is left out.
export function parseSidecar(text) {
  const lines = [];
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    try {
      const line = JSON.parse(raw);
      if (typeof line.at === "number") lines.push(line);
    } catch (err) {
      // a line cut short by a crash: the lines before it still replay
    }
  }
  return lines.sort((a, b) => a.at - b.at);
}

// The marks on the live picture at media time `t`, replaying the sidecar from the start:
// the snapshot the recording began with, then each mark, pen points, move, removal and clear.
// While the picture is frozen the agent draws on the still (its own target): those marks are
// shown instead, over the picture the player shows at that moment.
export function marksAt(lines, t) {
  const byTarget = new Map();
  const marks = (target) => {
    if (!byTarget.has(target)) byTarget.set(target, new Map());
    return byTarget.get(target);
  };
  let target = LIVE;
  let laser = null;
  for (const { at, kind, data } of lines) {
    if (at > t) break;
    switch (kind) {
      case "recording_started":
        for (const [name, list] of Object.entries(data?.room?.annotations || {})) {
          for (const mark of list) marks(name).set(mark.id, mark);
        }
        if (data?.room?.frozen) target = data.room.frozen;
        break;
      case "annotate": {
        const { target: name, ...mark } = data;
        marks(name || LIVE).set(mark.id, mark);
        break;
      }
      case "annotate_points": {
        const mark = marks(data.target || LIVE).get(data.id);
        if (mark) marks(data.target || LIVE).set(data.id, { ...mark, points: mark.points.concat(data.points) });
        break;
      }
      case "annotation_moved":
        if (marks(data.target || LIVE).has(data.id)) marks(data.target || LIVE).set(data.id, data.annotation);
        break;
      case "annotation_remove":
        marks(data.target || LIVE).delete(data.id);
        break;
      case "annotations_clear":
        marks(data.target || LIVE).clear();
        break;
      case "laser":
        laser = { target: data.target || LIVE, mark: data.annotation };
        break;
      case "freeze":
        target = data.still_id || LIVE;
        break;
      case "unfreeze":
        target = LIVE;
        break;
      default:
        break;
    }
  }
  const list = [...marks(target).values()];
  if (laser && laser.target === target && t - laser.mark.created_at < LASER_FADE) list.push(laser.mark);
  return list;
}

// Chat lines of the sidecar (redacted ones say so): [{at, name, from, text, redacted}].
export function chatLines(lines) {
  return lines
    .filter((line) => line.kind === "chat")
    .map(({ at, data }) => ({
      at,
      name: data.name || "",
      from: data.from || "",
      text: data.redacted ? null : data.text,
      redacted: Boolean(data.redacted),
    }));
}

export class RecordingPlayer {
  // main, inset: <video>; canvas: the overlay over `main`.
  constructor({ main, inset, canvas }) {
    this.main = main;
    this.inset = inset;
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.lines = [];
    this.mainStart = 0;
    this.insetStart = 0;
    this.showMarks = true;
    this.overlay = null; // (ctx, {width, height}, mediaTime) => void, drawn after the marks
    this.frame = null;
    const follow = () => this.follow();
    for (const name of ["play", "pause", "seeked", "ratechange"]) main.addEventListener(name, follow);
    main.addEventListener("timeupdate", () => {
      this.follow();
      this.draw();
    });
    main.addEventListener("loadedmetadata", () => this.draw());
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(main);
  }

  // files: the recording's file list ({name, url, start}); returns the sidecar's lines.
  async load(files) {
    this.close();
    const byName = new Map(files.map((f) => [f.name, f]));
    const customer = byName.get("customer.webm");
    const agent = byName.get("agent.webm");
    const primary = customer || agent;
    this.mainStart = primary?.start || 0;
    this.insetStart = agent?.start || 0;
    this.main.src = primary ? primary.url : "";
    this.inset.hidden = !(customer && agent);
    this.inset.src = customer && agent ? agent.url : "";
    this.lines = [];
    const sidecar = byName.get("events.jsonl");
    if (sidecar) {
      const res = await fetch(sidecar.url, { credentials: "same-origin" });
      if (!res.ok) throw new Error(`events.jsonl: HTTP ${res.status}`);
      this.lines = parseSidecar(await res.text());
    }
    this.tick();
    return this.lines;
  }

  mediaTime() {
    return this.main.currentTime + this.mainStart;
  }

  seekMedia(at) {
    this.main.currentTime = Math.max(0, at - this.mainStart);
  }

  setMarksVisible(visible) {
    this.showMarks = visible;
    this.draw();
  }

  follow() {
    const { main, inset } = this;
    if (inset.hidden || !inset.src) return;
    inset.playbackRate = main.playbackRate;
    const want = main.currentTime + this.mainStart - this.insetStart;
    if (want >= 0 && Math.abs(inset.currentTime - want) > DRIFT) inset.currentTime = want;
    if (main.paused && !inset.paused) inset.pause();
    if (!main.paused && inset.paused && want >= 0) inset.play().catch(() => {});
  }

  tick() {
    const step = () => {
      if (!this.main.paused) this.draw();
      this.frame = requestAnimationFrame(step);
    };
    if (this.frame === null) this.frame = requestAnimationFrame(step);
  }

  // What is drawn now, for tests and for the page's status line.
  visibleMarks() {
    return this.showMarks ? marksAt(this.lines, this.mediaTime()) : [];
  }

  draw() {
    const { canvas, ctx, main } = this;
    const box = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(box.width * dpr);
    const h = Math.round(box.height * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (!main.videoWidth) return;
    const pic = contentRect(main);
    if (pic.width <= 0 || pic.height <= 0) return;
    ctx.setTransform(dpr, 0, 0, dpr, (pic.left - box.left) * dpr, (pic.top - box.top) * dpr);
    const now = this.mediaTime();
    if (this.showMarks) {
      drawAnnotations(ctx, marksAt(this.lines, now), { width: pic.width, height: pic.height, now });
    }
    // A page's own layer over the picture (the tutorial editor's blur rectangles).
    if (this.overlay) this.overlay(ctx, { width: pic.width, height: pic.height }, now);
  }

  close() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    for (const video of [this.main, this.inset]) {
      video.pause();
      video.removeAttribute("src");
      video.load();
    }
  }
}
