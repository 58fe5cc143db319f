// mnist_digit: one digit fitted into the MNIST frame and mapped back, as
// aeinfer/adapters/mnist_digit.py (with ink.py and paint.py, ported in paint.js) does it, version
// 3 — composited over white, as grey luma, inverted when the border says dark ink on light paper,
// uneven light removed (`flatten` > 0), the ink located on a copy at most ink_grid a side
// (box-blurred first when it is noisy: `quiet`), standing out from that copy's own paper, its box
// made square, scaled to fit, contrast-stretched and centred by centre of mass. Results go back
// onto the input's size as the model's strokes (a sigmoid contrast keeps upscaled edges crisp)
// painted in the input's own ink over its own lit paper (restore); a denoised result paints the
// input's own coverage where the model's strokes agree, weighed by the input's noise
// (restoreDenoised: `detail_prior`, `detail_gain`).

import {
  clip01,
  f32,
  lumaOf,
  quantize,
  roundHalfEven,
  seenPlane,
} from "./pictures.js";
import {
  SUPPORT_LEVEL,
  boxBlur,
  coverageOf,
  guidedCoverage,
  inkColour,
  light,
  maximum,
  median,
  median3Mask,
  paint,
  paperField,
  quieted,
  shrink,
} from "./paint.js";
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
  flatten: 0.17,
  detail_prior: 0.3,
  detail_gain: 12.0,
  quiet: 4.0,
};

/** The picture composited over white paper, one float32 plane per channel (Picture.over). */
const overWhite = (picture) =>
  Array.from({ length: picture.channels }, (_, c) =>
    seenPlane(picture, c, Array(picture.channels).fill(1.0)),
  );

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

  /** (N per channel) the border ring of each of a picture's planes. */
  rings(planes, w, h) {
    return planes.map((plane) => this.border(plane, w, h));
  }

  /** { tensor: Float32Array (1·1·frame·frame), shape, state } for a picture. */
  prepare(picture) {
    const p = this.params;
    const { width: w, height: h } = picture;
    const values = overWhite(picture).map((plane) => plane.map(clip01));
    let gray = values.length === 1 ? values[0] : lumaOf(values);
    const ring = this.border(gray, w, h);
    const inverted = ring.reduce((a, b) => a + b, 0) / ring.length > 0.5;
    if (inverted) gray = gray.map((v) => f32(1 - v));
    const shrunk = shrink(gray, w, h, p.ink_grid);
    const { sw, sh } = shrunk;
    let small = quieted(shrunk.small, sw, sh, p.ink_threshold, p.quiet);
    const lighting = p.flatten > 0 ? light(small, sw, sh, p.flatten) : null;
    const framed = w === p.frame && h === p.frame;
    if (lighting) {
      const level = median(this.border(lighting, sw, sh));
      small = small.map((v, i) => f32(f32(v - lighting[i]) + level));
      if (!framed) {
        // MNIST's own frame goes to the model as it is (only polarity).
        const shading = resizePlane(lighting, sw, sh, w, h, "bicubic");
        gray = gray.map((v, i) => clip01(f32(v - f32(shading[i] - level))));
      }
    }
    const background = median(this.border(gray, w, h));
    const shape = [1, 1, p.frame, p.frame];
    if (framed) {
      const state = { picture, gray, inverted, background, fitted: false, notes: [] };
      return { tensor: Float32Array.from(gray), shape, state };
    }
    const notes = [];
    let bbox = this.inkBox(small, sw, sh, w, h);
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
      picture, gray, inverted, box, offset: [ox, oy], background,
      levels: [black, white], fitted: true, notes,
    };
    return { tensor: digit, shape, state };
  }

  /** (left, top, right, bottom) in input pixels of the ink on the shrunk copy, or null: pixels
   * standing out from the copy's own paper (its border's median) by ink_threshold and
   * ink_fraction of the strongest, specks removed by a 3×3 median (unless that erases all). */
  inkBox(small, sw, sh, w, h) {
    const p = this.params;
    const paper = median(this.border(small, sw, sh));
    const excess = small.map((v) => f32(v - paper));
    const peak = maximum(excess);
    const threshold = f32(Math.max(p.ink_threshold, p.ink_fraction * peak));
    let mask = Uint8Array.from(excess, (v) => (v > threshold ? 1 : 0));
    if (Math.min(sw, sh) >= 3) {
      const cleaned = median3Mask(mask, sw, sh);
      if (cleaned.some((v) => v)) mask = cleaned;
    }
    if (peak <= p.ink_threshold) return null;
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

  /** A (1, 1, frame, frame) result mapped back onto the input's size and channels, the model's
   * strokes painted in the input's ink over its lit paper (alpha, if the input had one, is made
   * opaque: strokes may move). */
  restore(result, shape, state) {
    return this.restoreWith(result, state, false);
  }

  /** As restore, but the strokes painted are the input's own where the model agrees with them
   * (what `aeinfer denoise` writes). */
  restoreDenoised(result, shape, state) {
    return this.restoreWith(result, state, true);
  }

  restoreWith(result, state, guided) {
    const p = this.params;
    const digit = Float32Array.from(result, clip01);
    const { picture } = state;
    const { width, height } = picture;
    let planes;
    if (!state.fitted) {
      // The frame as it is: the model's own pixels, in grey.
      const gray = state.inverted ? digit.map((v) => f32(1 - v)) : digit;
      planes = Array(picture.channels).fill(gray);
    } else {
      const { strokes, scale } = this.strokes(digit, state);
      const values = overWhite(picture);
      const reach = Math.max(1, roundHalfEven(scale));
      const bare = Uint8Array.from(
        boxBlur(strokes.map((v) => (v > f32(SUPPORT_LEVEL) ? 1 : 0)), width, height, reach),
        (v) => (v === 0 ? 1 : 0),
      );
      const paper = paperField(
        values, this.rings(values, width, height), state.inverted, width, height, p.ink_grid,
        p.flatten, bare,
      );
      const white = state.levels[1];
      const fallback = Array(values.length).fill(state.inverted ? 1.0 - white : white);
      const ink = inkColour(values, strokes, fallback);
      let coverage = strokes;
      if (guided) {
        const observed = coverageOf(values, paper, ink);
        coverage = guidedCoverage(
          observed, strokes, width, height, p.detail_prior, p.detail_gain, reach,
        );
      }
      planes = paint(paper, ink, coverage);
    }
    const n = width * height;
    const channels = picture.channels;
    const pixels = new Uint8Array(n * channels);
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < n; i++) pixels[i * channels + c] = quantize(planes[c][i]);
    }
    const alpha = picture.alpha ? new Uint8Array(n).fill(255) : null;
    return { width, height, channels, pixels, alpha };
  }

  /** The model's strokes as coverage at the input's size (the whole frame scaled back around
   * the fitted box, edges kept crisp), and the scale from frame to input. */
  strokes(digit, state) {
    const p = this.params;
    const { width, height } = state.picture;
    let [left, top, right] = state.box;
    const [ox, oy] = state.offset;
    const scale = (right - left) / p.fit;
    left -= roundHalfEven(ox * scale);
    top -= roundHalfEven(oy * scale);
    const side = roundHalfEven(p.frame * scale);
    const up = this.sharpen(resizePlane(digit, p.frame, p.frame, side, side).map(clip01), scale);
    const strokes = new Float32Array(width * height);
    const [x0, y0] = [Math.max(left, 0), Math.max(top, 0)];
    const [x1, y1] = [Math.min(left + side, width), Math.min(top + side, height)];
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) strokes[y * width + x] = up[(y - top) * side + x - left];
    }
    return { strokes, scale };
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
