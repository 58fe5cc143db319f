// mnist_digit: one digit fitted into the MNIST frame and mapped back, as
// aeinfer/adapters/mnist_digit.py (and aeinfer/adapters/ink.py) do it — composited over white,
// as grey luma, inverted when the border says dark ink on light paper, uneven light removed
// (version 2, `flatten` > 0), the ink located on a copy at most ink_grid a side, its box made
// square, scaled to fit, contrast-stretched and centred by centre of mass; the result scaled
// back onto the input (a sigmoid contrast keeps upscaled edges crisp, the light put back).

import { clip01, f32, modelPlanes, quantize, roundHalfEven } from "./pictures.js";
import { resizePlane } from "./resample.js";

const DIGIT_DEFAULTS = {
  frame: 28,
  fit: 20,
  centre: "mass",
  model_polarity: "light_on_dark",
  border_fraction: 0.0625,
  ink_threshold: 0.2,
  ink_fraction: 0.3,
  ink_grid: 64,
  sharpen_per_scale: 2.0,
  sharpen_max_gain: 12.0,
  flatten: 0.0,
};

const maximum = (values) => values.reduce((a, b) => Math.max(a, b), -Infinity);

/** numpy's median of float32 values. */
function median(values) {
  const sorted = Float32Array.from(values).sort();
  const half = sorted.length >> 1;
  return sorted.length % 2 ? sorted[half] : f32(f32(sorted[half - 1] + sorted[half]) / 2);
}

/** A k×k neighbourhood reduction of a plane, edges replicated (Pillow's expand before its rank
 * filters; numpy's edge padding), in double precision. */
function neighbourhood(values, w, h, k, reduce, initial) {
  const r = k >> 1;
  const out = new Float64Array(values.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = initial;
      for (let dy = -r; dy <= r; dy++) {
        const row = Math.min(Math.max(y + dy, 0), h - 1) * w;
        for (let dx = -r; dx <= r; dx++) {
          acc = reduce(acc, values[row + Math.min(Math.max(x + dx, 0), w - 1)]);
        }
      }
      out[y * w + x] = acc;
    }
  }
  return out;
}

/** Pillow's 3×3 median of a 0/1 mask (ImageFilter.MedianFilter(3)): a majority vote. */
const median3 = (mask, w, h) =>
  Uint8Array.from(neighbourhood(mask, w, h, 3, (a, b) => a + b, 0), (n) => (n >= 5 ? 1 : 0));

/** The plane area-averaged to at most `grid` pixels a side (itself if already small). */
function shrink(gray, w, h, grid) {
  const factor = Math.max(1.0, Math.max(h, w) / grid);
  if (factor === 1.0) return { small: gray, sw: w, sh: h };
  const sw = Math.max(1, roundHalfEven(w / factor));
  const sh = Math.max(1, roundHalfEven(h / factor));
  return { small: resizePlane(gray, w, h, sw, sh, "box"), sw, sh };
}

/** The mean over a (2r+1)² window, edges repeated (ink.box_blur). */
const boxBlur = (values, w, h, r) =>
  Float32Array.from(
    r < 1 ? values : neighbourhood(values, w, h, 2 * r + 1, (a, b) => a + b, 0),
    (v) => (r < 1 ? v : v / (2 * r + 1) ** 2),
  );

/** The paper's light on the shrunk copy: a grey opening of k pixels, smoothed (ink.light); null
 * when the copy is too small for an opening larger than a stroke. */
function light(small, w, h, fraction) {
  const k = Math.max(3, roundHalfEven(fraction * Math.max(w, h))) | 1;
  if (Math.min(w, h) <= k) return null;
  const eroded = neighbourhood(small, w, h, k, Math.min, Infinity);
  const opened = neighbourhood(eroded, w, h, k, Math.max, -Infinity);
  return boxBlur(opened, w, h, k >> 1);
}

export class MnistDigit {
  constructor(params) {
    this.params = { ...DIGIT_DEFAULTS, ...params };
  }

  /** The item's shape: (1, frame, frame). */
  itemShape() {
    return [1, this.params.frame, this.params.frame];
  }

  /** The border ring (border_fraction of each side, at least one pixel), flattened. */
  border(gray, w, h) {
    const bh = Math.max(1, Math.trunc(h * this.params.border_fraction));
    const bw = Math.max(1, Math.trunc(w * this.params.border_fraction));
    const ring = [];
    for (let y = 0; y < bh; y++) for (let x = 0; x < w; x++) ring.push(gray[y * w + x]);
    for (let y = h - bh; y < h; y++) for (let x = 0; x < w; x++) ring.push(gray[y * w + x]);
    if (h > 2 * bh) {
      for (let y = bh; y < h - bh; y++) for (let x = 0; x < bw; x++) ring.push(gray[y * w + x]);
      for (let y = bh; y < h - bh; y++) for (let x = w - bw; x < w; x++) ring.push(gray[y * w + x]);
    }
    return ring;
  }

  /** { tensor: Float32Array (1·1·frame·frame), shape, state } for a picture. */
  prepare(picture) {
    const p = this.params;
    const { width: w, height: h } = picture;
    let gray = modelPlanes(picture, 1, [1.0])[0].map(clip01);
    const ring = this.border(gray, w, h);
    const inverted = ring.reduce((a, b) => a + b, 0) / ring.length > 0.5;
    if (inverted) gray = gray.map((v) => f32(1 - v));
    let { small, sw, sh } = shrink(gray, w, h, p.ink_grid);
    const lighting = p.flatten > 0 ? light(small, sw, sh, p.flatten) : null;
    let shading = null;
    if (lighting) {
      const level = median(this.border(lighting, sw, sh));
      small = small.map((v, i) => f32(f32(v - lighting[i]) + level));
      shading = resizePlane(lighting, sw, sh, w, h, "bicubic").map((v) => f32(v - level));
      gray = gray.map((v, i) => clip01(f32(v - shading[i])));
    }
    const background = median(this.border(gray, w, h));
    const shape = [1, 1, p.frame, p.frame];
    if (w === p.frame && h === p.frame) {
      const state = { picture, gray, inverted, shading, background, fitted: false, notes: [] };
      return { tensor: Float32Array.from(gray), shape, state };
    }
    const notes = [];
    let bbox = this.inkBox(small, sw, sh, background, w, h);
    if (bbox === null) {
      notes.push("no ink found: whole image used");
      bbox = [0, 0, w, h];
    }
    const box = square(bbox);
    const side = box[2] - box[0];
    let crop = resizePlane(cropPadded(gray, w, h, box, background), side, side, p.fit, p.fit);
    let black = background;
    let white = maximum(crop);
    if (white - black < p.ink_threshold) [black, white] = [0.0, 1.0];
    const low = f32(black);
    const span = f32(white - black);
    crop = crop.map((v) => clip01(f32(f32(v - low) / span)));
    const [ox, oy] = this.centreOffset(crop);
    const digit = new Float32Array(p.frame * p.frame);
    for (let y = 0; y < p.fit; y++) {
      for (let x = 0; x < p.fit; x++) digit[(oy + y) * p.frame + ox + x] = crop[y * p.fit + x];
    }
    const state = {
      picture, gray, inverted, shading, box, offset: [ox, oy], background,
      levels: [black, white], fitted: true, notes,
    };
    return { tensor: digit, shape, state };
  }

  /** (left, top, right, bottom) in input pixels of the ink on the shrunk copy, or null: pixels
   * standing out from the paper by ink_threshold and ink_fraction of the strongest, specks
   * removed by a 3×3 median (unless that erases everything). */
  inkBox(small, sw, sh, background, w, h) {
    const p = this.params;
    const bg = f32(background);
    const excess = small.map((v) => f32(v - bg));
    const peak = maximum(excess);
    if (peak <= p.ink_threshold) return null;
    const threshold = f32(Math.max(p.ink_threshold, p.ink_fraction * peak));
    let mask = Uint8Array.from(excess, (v) => (v > threshold ? 1 : 0));
    if (Math.min(sw, sh) >= 3) {
      const cleaned = median3(mask, sw, sh);
      if (cleaned.some((v) => v)) mask = cleaned;
    }
    let [c0, c1, r0, r1] = [sw, -1, sh, -1];
    for (let y = 0; y < sh; y++) {
      for (let x = 0; x < sw; x++) {
        if (!mask[y * sw + x]) continue;
        c0 = Math.min(c0, x);
        c1 = Math.max(c1, x);
        r0 = Math.min(r0, y);
        r1 = Math.max(r1, y);
      }
    }
    const sx = w / sw;
    const sy = h / sh;
    return [
      Math.floor(c0 * sx),
      Math.floor(r0 * sy),
      Math.min(w, Math.ceil((c1 + 1) * sx)),
      Math.min(h, Math.ceil((r1 + 1) * sy)),
    ];
  }

  /** Where the fit box goes so that its centre of mass is the frame's centre. */
  centreOffset(fit) {
    const p = this.params;
    const margin = p.frame - p.fit;
    let total = 0;
    let sx = 0;
    let sy = 0;
    for (let y = 0; y < p.fit; y++) {
      for (let x = 0; x < p.fit; x++) {
        const v = fit[y * p.fit + x];
        total += v;
        sx += x * v;
        sy += y * v;
      }
    }
    total = f32(total);
    if (total <= 0) return [margin >> 1, margin >> 1];
    const place = (c) => Math.min(Math.max(roundHalfEven(p.frame / 2 - c / total), 0), margin);
    return [place(sx), place(sy)];
  }

  /** A (1, 1, frame, frame) result mapped back onto the input's size, polarity and channels. */
  restore(result, shape, state) {
    const p = this.params;
    const digit = Float32Array.from(result, clip01);
    const { picture } = state;
    const { width, height } = picture;
    let gray;
    if (!state.fitted) {
      gray = digit;
    } else {
      let [left, top, right] = state.box;
      const [ox, oy] = state.offset;
      const [black, white] = state.levels;
      const scale = (right - left) / p.fit;
      left -= roundHalfEven(ox * scale);
      top -= roundHalfEven(oy * scale);
      const side = roundHalfEven(p.frame * scale);
      const ink = this.sharpen(resizePlane(digit, p.frame, p.frame, side, side).map(clip01), scale);
      const low = f32(black);
      const span = f32(white - black);
      gray = new Float32Array(width * height).fill(state.background);
      const [x0, y0] = [Math.max(left, 0), Math.max(top, 0)];
      const [x1, y1] = [Math.min(left + side, width), Math.min(top + side, height)];
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          gray[y * width + x] = f32(low + f32(ink[(y - top) * side + x - left] * span));
        }
      }
    }
    const { shading } = state;
    if (shading) gray = gray.map((v, i) => clip01(f32(v + shading[i]))); // the light put back
    if (state.inverted) gray = gray.map((v) => f32(1 - v));
    const n = width * height;
    const pixels = new Uint8Array(n * picture.channels);
    for (let i = 0; i < n; i++) {
      const v = quantize(gray[i]);
      for (let c = 0; c < picture.channels; c++) pixels[i * picture.channels + c] = v;
    }
    // Alpha, if the input had one, is made opaque: strokes may move.
    const alpha = picture.alpha ? new Uint8Array(n).fill(255) : null;
    return { width, height, channels: picture.channels, pixels, alpha };
  }

  /** Crisp edges for a result scaled up by `scale`: normalised ink, then a sigmoid curve. */
  sharpen(ink, scale) {
    const p = this.params;
    const peak = maximum(ink);
    if (peak > p.ink_threshold) ink = ink.map((v) => f32(v / peak));
    const gain = Math.min(Math.max(p.sharpen_per_scale * scale, 1.0), p.sharpen_max_gain);
    const [low, high] = [0.0, 1.0].map((v) => 1.0 / (1.0 + Math.exp(-(v - 0.5) * gain)));
    const g = f32(gain);
    const lo = f32(low);
    const span = f32(high - low);
    return ink.map((v) => {
      const curve = f32(1 / f32(1 + f32(Math.exp(f32(-f32(v - 0.5) * g)))));
      return f32(f32(curve - lo) / span);
    });
  }

  notes(state) {
    return state.notes;
  }
}

function square([left, top, right, bottom]) {
  const w = right - left;
  const h = bottom - top;
  const side = Math.max(w, h, 1);
  left -= Math.floor((side - w) / 2);
  top -= Math.floor((side - h) / 2);
  return [left, top, left + side, top + side];
}

function cropPadded(gray, w, h, [left, top, right, bottom], fill) {
  const cw = right - left;
  const out = new Float32Array(cw * (bottom - top)).fill(fill);
  for (let y = Math.max(top, 0); y < Math.min(bottom, h); y++) {
    for (let x = Math.max(left, 0); x < Math.min(right, w); x++) {
      out[(y - top) * cw + x - left] = gray[y * w + x];
    }
  }
  return out;
}
