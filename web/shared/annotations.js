// The one annotation renderer for every page, plus the input helpers the agent console uses.
// videoassist/annotations.py draws the same marks into recordings; docs/annotations.md is the
// contract both follow, and tests/e2e/test_renderer_parity.py compares their pixels.
//
// Coordinates are normalized to the video frame (0..1 on each axis). A normalized x maps to the
// pixel coordinate floor(x * width * 16 + 0.5) / 16 in both renderers. Sizes (stroke width, text
// size) are pixels at a reference frame whose short side is 720 px.

export const REFERENCE_SHORT_SIDE = 720;
export const MAX_PEN_POINTS = 256;
export const MAX_TEXT_CHARS = 200;
export const DEFAULT_WIDTH = 6;
export const DEFAULT_TEXT_SIZE = 32;
export const LASER_FADE = 1.0; // seconds
export const PEN_FLUSH_MS = 80;
export const LASER_INTERVAL_MS = 66; // a console sends at most one laser position per interval
export const PEN_EPSILON = 0.0015; // normalized units; about 1 px on a 640 px frame

export const PALETTE = Object.freeze({
  red: "#ff3b30",
  orange: "#ff9500",
  yellow: "#ffcc00",
  green: "#34c759",
  blue: "#0a84ff",
  white: "#ffffff",
  black: "#000000",
});

const ARROW_HEAD_ANGLE = (28 * Math.PI) / 180;
const ARROW_HEAD_MIN = 12;
const ARROW_HEAD_PER_WIDTH = 3;
const LASER_RADIUS = 9;
const LOST_ALPHA = 0.5;
const TEXT_BASELINE = 0.8;
const TEXT_OUTLINE = 1 / 12;
const FIXED = 16;

const quantize = (v) => Math.floor(v * FIXED + 0.5) / FIXED;
const px = (v, size) => Math.floor(v * size * FIXED + 0.5) / FIXED;
const scaleOf = (width, height) => Math.min(width, height) / REFERENCE_SHORT_SIDE;

export function strokePx(width, frameWidth, frameHeight) {
  return Math.max(1, quantize((width ?? DEFAULT_WIDTH) * scaleOf(frameWidth, frameHeight)));
}

// Shaft end and head triangle [tip, left, right] in pixels; null when tail and tip coincide.
export function arrowGeometry(tail, tip, sw, scale) {
  const dx = tip[0] - tail[0];
  const dy = tip[1] - tail[1];
  const length = Math.hypot(dx, dy);
  if (length === 0) return null;
  const ux = dx / length;
  const uy = dy / length;
  const head = Math.min(Math.max(ARROW_HEAD_PER_WIDTH * sw, ARROW_HEAD_MIN * scale), length);
  const c = Math.cos(ARROW_HEAD_ANGLE);
  const s = Math.sin(ARROW_HEAD_ANGLE);
  const left = [tip[0] - head * (ux * c - uy * s), tip[1] - head * (uy * c + ux * s)];
  const right = [tip[0] - head * (ux * c + uy * s), tip[1] - head * (uy * c - ux * s)];
  const shaftEnd = [tip[0] - head * c * ux, tip[1] - head * c * uy];
  const q = (p) => [quantize(p[0]), quantize(p[1])];
  return { shaftEnd: q(shaftEnd), head: [tip, q(left), q(right)] };
}

// Opacity at media time `now` (undefined/null: ignore time); 0 means hidden. Marks drawn
// locally before the server stamped them have no created_at and count as just made.
export function visibility(a, now) {
  const alpha = a.lost ? LOST_ALPHA : 1;
  if (now === undefined || now === null || a.created_at === undefined) return alpha;
  const age = now - a.created_at;
  if (age < 0) return 0;
  if (a.kind === "laser") return alpha * Math.max(0, 1 - age / LASER_FADE);
  if (a.lifetime !== undefined && a.lifetime !== null && age >= a.lifetime) return 0;
  return alpha;
}

function cssColor(color, lost) {
  const hex = PALETTE[color] || color || PALETTE.red;
  if (!lost) return hex;
  const r = parseInt(hex.slice(1, 3), 16);
  const g = parseInt(hex.slice(3, 5), 16);
  const b = parseInt(hex.slice(5, 7), 16);
  const grey = Math.floor(0.299 * r + 0.587 * g + 0.114 * b + 0.5);
  return `rgb(${grey}, ${grey}, ${grey})`;
}

/**
 * The projective map [a, b, c, d, e, f, g, h] taking the unit square's corners (0,0), (1,0),
 * (1,1), (0,1) to quad's corners in that order: (u, v) lands at ((a u + b v + c) / w,
 * (d u + e v + f) / w) with w = g u + h v + 1. Twin of square_to_quad in render.py.
 */
export function squareToQuad(quad) {
  const [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = quad;
  const sx = x0 - x1 + x2 - x3;
  const sy = y0 - y1 + y2 - y3;
  let g = 0;
  let h = 0;
  const den = (x1 - x2) * (y3 - y2) - (x3 - x2) * (y1 - y2);
  if ((sx !== 0 || sy !== 0) && den !== 0) {
    g = (sx * (y3 - y2) - (x3 - x2) * sy) / den;
    h = ((x1 - x2) * sy - sx * (y1 - y2)) / den;
  }
  return [x1 - x0 + g * x1, x3 - x0 + h * x3, x0, y1 - y0 + g * y1, y3 - y0 + h * y3, y0, g, h];
}

/** The ellipse inscribed in a box whose corners are now at quad (px), as a closed polygon. */
export function quadRing(quad) {
  const [a, b, c, d, e, f, g, h] = squareToQuad(quad);
  let reach = 0;
  for (let i = 0; i < 4; i++) {
    const p = quad[i];
    const q = quad[(i + 3) % 4];
    reach = Math.max(reach, Math.hypot(p[0] - q[0], p[1] - q[1]));
  }
  const n = Math.max(16, Math.ceil(Math.PI * Math.sqrt((10 * reach) / 2)));
  const ring = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const u = 0.5 + 0.5 * Math.cos(t);
    const v = 0.5 + 0.5 * Math.sin(t);
    const w = g * u + h * v + 1;
    ring.push([(a * u + b * v + c) / w, (d * u + e * v + f) / w]);
  }
  return ring;
}

function dot(ctx, [x, y], r) {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fill();
}

function drawShape(ctx, a, width, height) {
  const scale = scaleOf(width, height);
  const pt = (p) => [px(p[0], width), px(p[1], height)];
  const color = cssColor(a.color, a.lost);
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  const sw = strokePx(a.width, width, height);
  ctx.lineWidth = sw;
  if ((a.kind === "rect" || a.kind === "ellipse") && Array.isArray(a.quad)) {
    // A tracked shape, turned or tilted with its object: drawn on its box's quadrilateral.
    const quad = a.quad.map(pt);
    if (quad.every((p) => p[0] === quad[0][0] && p[1] === quad[0][1])) {
      dot(ctx, quad[0], sw / 2);
      return;
    }
    const outline = a.kind === "rect" ? quad : quadRing(quad);
    ctx.beginPath();
    ctx.moveTo(...outline[0]);
    for (const p of outline.slice(1)) ctx.lineTo(...p);
    ctx.closePath();
    ctx.stroke();
    return;
  }
  switch (a.kind) {
    case "arrow": {
      const tail = pt(a.from);
      const tip = pt(a.to);
      const g = arrowGeometry(tail, tip, sw, scale);
      if (!g) {
        dot(ctx, tip, sw / 2);
        return;
      }
      ctx.beginPath();
      ctx.moveTo(...tail);
      ctx.lineTo(...g.shaftEnd);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(...g.head[0]);
      ctx.lineTo(...g.head[1]);
      ctx.lineTo(...g.head[2]);
      ctx.closePath();
      ctx.fill();
      return;
    }
    case "rect": {
      const x0 = px(a.x, width);
      const y0 = px(a.y, height);
      const x1 = px(a.x + a.w, width);
      const y1 = px(a.y + a.h, height);
      if (x0 === x1 && y0 === y1) {
        dot(ctx, [x0, y0], sw / 2);
        return;
      }
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y0);
      ctx.lineTo(x1, y1);
      ctx.lineTo(x0, y1);
      ctx.closePath();
      ctx.stroke();
      return;
    }
    case "ellipse": {
      const [cx, cy] = pt(a.center);
      ctx.beginPath();
      ctx.ellipse(cx, cy, px(a.radii[0], width), px(a.radii[1], height), 0, 0, 2 * Math.PI);
      ctx.stroke();
      return;
    }
    case "pen": {
      const path = [];
      for (const p of a.points) {
        const q = pt(p);
        const last = path[path.length - 1];
        if (!last || last[0] !== q[0] || last[1] !== q[1]) path.push(q);
      }
      if (path.length === 0) return;
      if (path.length === 1) {
        dot(ctx, path[0], sw / 2);
        return;
      }
      ctx.beginPath();
      ctx.moveTo(...path[0]);
      for (const p of path.slice(1)) ctx.lineTo(...p);
      ctx.stroke();
      return;
    }
    case "text": {
      const font = quantize((a.size ?? DEFAULT_TEXT_SIZE) * scale);
      const [x, top] = pt(a.at);
      const y = top + font * TEXT_BASELINE;
      ctx.font = `bold ${font}px sans-serif`;
      ctx.textAlign = "left";
      ctx.textBaseline = "alphabetic";
      ctx.lineWidth = 2 * Math.max(1, font * TEXT_OUTLINE);
      ctx.strokeStyle = "#000000";
      ctx.strokeText(a.text, x, y);
      ctx.fillText(a.text, x, y);
      return;
    }
    case "laser":
      dot(ctx, pt(a.at), Math.max(3, quantize(LASER_RADIUS * scale)));
      return;
    default:
      // An unknown kind from a newer server: skip it rather than break the page.
      return;
  }
}

const scratches = new WeakMap();

// Translucent marks are drawn opaque on a scratch canvas and composited once, so an arrow's
// shaft and head (or a text's outline and fill) do not show through each other.
function scratchFor(ctx) {
  const { width, height } = ctx.canvas;
  let layer = scratches.get(ctx);
  if (!layer || layer.canvas.width !== width || layer.canvas.height !== height) {
    const canvas =
      typeof OffscreenCanvas === "function"
        ? new OffscreenCanvas(width, height)
        : Object.assign(document.createElement("canvas"), { width, height });
    layer = { canvas, ctx: canvas.getContext("2d") };
    scratches.set(ctx, layer);
  }
  return layer;
}

// Draw `annotations` in order over whatever the context holds (the caller clears it).
// width/height: the size of the video frame in the context's units (default: the canvas; the
// context's transform applies, so a page can scale for devicePixelRatio). now: the media time
// in seconds, or undefined to ignore time (no expiry, no fading).
export function drawAnnotations(ctx, annotations, { width, height, now } = {}) {
  width = width ?? ctx.canvas.width;
  height = height ?? ctx.canvas.height;
  for (const a of annotations) {
    const alpha = visibility(a, now);
    if (alpha <= 0) continue;
    ctx.save();
    if (alpha >= 1) {
      drawShape(ctx, a, width, height);
    } else {
      const layer = scratchFor(ctx);
      layer.ctx.setTransform(1, 0, 0, 1, 0, 0);
      layer.ctx.clearRect(0, 0, layer.canvas.width, layer.canvas.height);
      layer.ctx.setTransform(ctx.getTransform());
      drawShape(layer.ctx, a, width, height);
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.globalAlpha = alpha;
      ctx.drawImage(layer.canvas, 0, 0);
    }
    ctx.restore();
  }
}

// --- Input

// Where the picture is drawn inside `element`, in client (CSS) pixels: a <video> or <img> with
// object-fit contain (our default) or cover is letterboxed or cropped; anything else fills its
// content box. object-position is taken to be the default, centred.
export function contentRect(element) {
  const box = element.getBoundingClientRect();
  const style = getComputedStyle(element);
  const edge = (side) =>
    parseFloat(style[`border${side}Width`]) + parseFloat(style[`padding${side}`]) || 0;
  const left = box.left + edge("Left");
  const top = box.top + edge("Top");
  const width = box.width - edge("Left") - edge("Right");
  const height = box.height - edge("Top") - edge("Bottom");
  const iw = element.videoWidth || element.naturalWidth || 0;
  const ih = element.videoHeight || element.naturalHeight || 0;
  const fit = style.objectFit;
  if (!iw || !ih || width <= 0 || height <= 0 || (fit !== "contain" && fit !== "cover")) {
    return { left, top, width, height };
  }
  const pick = fit === "contain" ? Math.min : Math.max;
  const s = pick(width / iw, height / ih);
  const w = iw * s;
  const h = ih * s;
  return { left: left + (width - w) / 2, top: top + (height - h) / 2, width: w, height: h };
}

const round4 = (v) => Math.round(v * 10000) / 10000;
const clamp01 = (v) => Math.min(1, Math.max(0, v));

// Pointer and mouse events carry clientX/Y themselves; touch events in their touches.
const pointOf = (event) => event.touches?.[0] ?? event.changedTouches?.[0] ?? event;

// Pointer (mouse, touch or pen event) to normalized [x, y] over the picture, clamped to 0..1.
export function normalize(event, element) {
  const r = contentRect(element);
  const { clientX, clientY } = pointOf(event);
  if (r.width <= 0 || r.height <= 0) return [0, 0];
  return [
    round4(clamp01((clientX - r.left) / r.width)),
    round4(clamp01((clientY - r.top) / r.height)),
  ];
}

// Whether the pointer is over the picture rather than the letterbox bars around it.
export function isOverPicture(event, element) {
  const r = contentRect(element);
  const { clientX, clientY } = pointOf(event);
  const x = clientX - r.left;
  const y = clientY - r.top;
  return x >= 0 && y >= 0 && x <= r.width && y <= r.height;
}

// --- Pen strokes

function segmentDistance(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length2 = dx * dx + dy * dy;
  if (length2 === 0) return Math.hypot(p[0] - a[0], p[1] - a[1]);
  let t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

// Ramer-Douglas-Peucker, point for point the same as videoassist.annotations.simplify.
export function simplify(points, epsilon) {
  const pts = points.map((p) => [p[0], p[1]]);
  const n = pts.length;
  if (n < 3) return pts;
  const keep = new Array(n).fill(false);
  keep[0] = keep[n - 1] = true;
  const stack = [[0, n - 1]];
  while (stack.length) {
    const [first, last] = stack.pop();
    let best = -1;
    let index = -1;
    for (let i = first + 1; i < last; i++) {
      const d = segmentDistance(pts[i], pts[first], pts[last]);
      if (d > best) {
        best = d;
        index = i;
      }
    }
    if (index !== -1 && best > epsilon) {
      keep[index] = true;
      stack.push([first, index]);
      stack.push([index, last]);
    }
  }
  return pts.filter((_, i) => keep[i]);
}

// Collects pointer positions of a pen stroke and hands them on in simplified chunks, at most
// one chunk every `intervalMs` (the first point and the end go at once). onFlush receives
// { stroke, points, first, last }: `first` starts a new pen annotation, later chunks extend it,
// `last` ends it (its points may be empty). A stroke longer than `maxPoints` is split into
// several strokes that join up, each within the server's cap.
export class StrokeBatcher {
  constructor(
    onFlush,
    {
      intervalMs = PEN_FLUSH_MS,
      epsilon = PEN_EPSILON,
      maxPoints = MAX_PEN_POINTS,
      now = () => performance.now(),
    } = {},
  ) {
    if (!(maxPoints >= 2)) throw new RangeError("maxPoints must be at least 2");
    this.onFlush = onFlush;
    this.intervalMs = intervalMs;
    this.epsilon = epsilon;
    this.maxPoints = maxPoints;
    this.now = now;
    this.stroke = 0;
    this.active = false;
    this._timer = null;
  }

  begin(point) {
    if (this.active) this.end();
    this.active = true;
    this._pending = [];
    this._anchor = null;
    this._sent = 0;
    this._startNext = true;
    this._pending.push([point[0], point[1]]);
    this.flush();
  }

  add(point) {
    if (!this.active) return;
    const last = this._pending[this._pending.length - 1] || this._anchor;
    if (last && last[0] === point[0] && last[1] === point[1]) return;
    this._pending.push([point[0], point[1]]);
    if (this._timer === null) {
      const wait = Math.max(0, this._lastFlush + this.intervalMs - this.now());
      this._timer = setTimeout(() => this.flush(), wait);
    }
  }

  end(point) {
    if (!this.active) return;
    if (point) this.add(point);
    this.flush(true);
    this.active = false;
  }

  cancel() {
    this._clearTimer();
    this.active = false;
  }

  flush(last = false) {
    this._clearTimer();
    if (!this.active) return;
    this._lastFlush = this.now();
    let points = this._anchor
      ? simplify([this._anchor, ...this._pending], this.epsilon).slice(1)
      : simplify(this._pending, this.epsilon);
    this._pending = [];
    const room = () => (this._startNext ? this.maxPoints : this.maxPoints - this._sent);
    while (points.length > room()) {
      const fits = room();
      this._emit(points.slice(0, fits), true);
      // The next stroke starts where this one stopped, so the line stays unbroken.
      points = [this._anchor, ...points.slice(fits)];
    }
    if (points.length || (last && !this._startNext)) this._emit(points, last);
  }

  _emit(points, last) {
    const first = this._startNext;
    if (first) {
      this.stroke += 1;
      this._sent = 0;
    }
    this._startNext = last;
    this._sent += points.length;
    if (points.length) this._anchor = points[points.length - 1];
    this.onFlush({ stroke: this.stroke, points, first, last });
  }

  _clearTimer() {
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
  }
}
