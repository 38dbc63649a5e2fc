// Annotation overlays: keeps the marks of a call per target ("live" video, or a still/photo id)
// and draws the ones for the picture on show over it, with the shared renderer.
import { contentRect, drawAnnotations } from "/static/shared/annotations.js";

export class MarksLayer {
  constructor({ canvas, socket }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.element = null; // the <video> or <img> the marks belong over
    this.target = "live";
    this.byTarget = new Map();
    this.lasers = new Map();
    this.preview = null; // a shape being drawn locally, not yet sent
    this.offset = null; // media clock = performance.now()/1000 + offset
    if (socket) this.listen(socket);
    const tick = () => {
      this.draw();
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  listen(socket) {
    socket.on("annotation", ({ target, annotation }) => this.put(target, annotation));
    socket.on("annotation_points", ({ target, id, points }) => {
      const mark = this.marks(target).get(id);
      if (mark) mark.points = mark.points.concat(points);
    });
    socket.on("annotation_moved", ({ target, id, annotation }) => {
      if (this.marks(target).has(id)) this.marks(target).set(id, annotation);
    });
    socket.on("annotation_removed", ({ target, id }) => this.marks(target).delete(id));
    socket.on("annotations_cleared", ({ target }) => this.marks(target).clear());
    socket.on("laser", ({ target, annotation }) => {
      this.sync(annotation.created_at);
      this.lasers.set(target, annotation);
    });
  }

  // The call's media clock, estimated from the stamps the server puts on marks.
  sync(mediaTime) {
    const local = performance.now() / 1000;
    if (this.offset === null || mediaTime - local > this.offset) this.offset = mediaTime - local;
  }

  now() {
    return this.offset === null ? undefined : performance.now() / 1000 + this.offset;
  }

  marks(target) {
    if (!this.byTarget.has(target)) this.byTarget.set(target, new Map());
    return this.byTarget.get(target);
  }

  put(target, annotation) {
    if (annotation.created_at !== undefined) this.sync(annotation.created_at);
    this.marks(target).set(annotation.id, annotation);
  }

  load(all) {
    this.byTarget.clear();
    for (const [target, list] of Object.entries(all || {})) list.forEach((a) => this.put(target, a));
  }

  show(element, target) {
    this.element = element;
    this.target = target;
  }

  reset() {
    this.byTarget.clear();
    this.lasers.clear();
    this.preview = null;
  }

  draw() {
    const { canvas, ctx } = this;
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
    if (!this.element || this.element.hidden) return;
    const pic = contentRect(this.element);
    if (pic.width <= 0 || pic.height <= 0) return;
    ctx.setTransform(dpr, 0, 0, dpr, (pic.left - box.left) * dpr, (pic.top - box.top) * dpr);
    const list = [...this.marks(this.target).values()];
    const laser = this.lasers.get(this.target);
    if (laser) list.push(laser);
    if (this.preview) list.push(this.preview);
    drawAnnotations(ctx, list, { width: pic.width, height: pic.height, now: this.now() });
  }
}
