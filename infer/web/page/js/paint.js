// Reading ink on paper and painting a digit model's result back on it, as
// aeinfer/adapters/ink.py and aeinfer/adapters/paint.py do (the parts the page's mnist_digit
// uses: the ink grid's shrunk copy, its light, its noise; the paper's lit colour, the ink's
// colour, the input's own coverage weighed against the model's strokes, and the painting).
//
// Planes are Float32Array (height × width, row-major); a picture's colours are an array of
// planes, one per channel. float32 arithmetic rounds after each operation (Math.fround) as
// numpy's does; medians are numpy's (the middle value, or the float32 mean of the two middle
// ones); the box blur is ink.box_blur's summed-area table in double precision, edges repeated;
// Pillow's rank filters (MinFilter, MaxFilter, MedianFilter) repeat the edges too.

import { f32, roundHalfEven } from "./pictures.js";
import { resizePlane } from "./resample.js";

/** Fewer pixels than this under the model's strokes: the ink colour is not measured. */
export const MIN_INK_PIXELS = 4;
/** The model's strokes, for measuring the ink colour: where its coverage exceeds this. */
export const STROKE_LEVEL = 0.8;
/** Where the model saw any ink at all: coverage above this (widened by one frame pixel). */
export const SUPPORT_LEVEL = 0.02;
/** A normal distribution's standard deviation per median absolute deviation. */
const MAD_TO_SIGMA = 1.4826;
/** Median windows tried on the input's coverage, smallest first (paint.MEDIAN_WINDOWS). */
const MEDIAN_WINDOWS = [3, 5];
/** The weight the input's filtered coverage should keep (paint.INPUT_WEIGHT). */
const INPUT_WEIGHT = 0.9;
/** Box-blur radii tried on the ink grid when quieting a noisy copy (mnist_digit.QUIET_RADII). */
const QUIET_RADII = [1, 2];

export const maximum = (values) => values.reduce((a, b) => (b > a ? b : a), -Infinity);

/** numpy's median of float32 values (paint.median_of). */
export function median(values) {
  const sorted = Float32Array.from(values).sort();
  const half = sorted.length >> 1;
  return sorted.length % 2 ? sorted[half] : f32(f32(sorted[half - 1] + sorted[half]) / 2);
}

/** A k×k neighbourhood reduction of a plane, edges replicated (Pillow's expand before its rank
 * filters), in double precision. */
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

/** Pillow's MinFilter(k) then MaxFilter(k) of a float plane: a grey opening. */
const opening = (values, w, h, k) =>
  neighbourhood(neighbourhood(values, w, h, k, Math.min, Infinity), w, h, k, Math.max, -Infinity);

/** Pillow's 3×3 median of a 0/1 mask (ImageFilter.MedianFilter(3)): a majority vote. */
export const median3Mask = (mask, w, h) =>
  Uint8Array.from(neighbourhood(mask, w, h, 3, (a, b) => a + b, 0), (n) => (n >= 5 ? 1 : 0));

/** Pillow's k×k median (k odd) of a float ("F") plane, edges repeated. */
export function medianFilter(values, w, h, k) {
  const r = k >> 1;
  const out = new Float32Array(values.length);
  const window = new Float32Array(k * k);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let n = 0;
      for (let dy = -r; dy <= r; dy++) {
        const row = Math.min(Math.max(y + dy, 0), h - 1) * w;
        for (let dx = -r; dx <= r; dx++) {
          window[n++] = values[row + Math.min(Math.max(x + dx, 0), w - 1)];
        }
      }
      window.sort();
      out[y * w + x] = window[(k * k) >> 1];
    }
  }
  return out;
}

/** The mean over a (2r+1)² window, edges repeated (ink.box_blur: numpy's edge padding, a
 * summed-area table in double precision, stored as float32). */
export function boxBlur(values, w, h, r) {
  if (r < 1) return Float32Array.from(values);
  const pw = w + 2 * r;
  const ph = h + 2 * r;
  // table[(y + 1) * (pw + 1) + x + 1]: cumsum over rows, then over columns, of the padded plane.
  const tw = pw + 1;
  const table = new Float64Array(tw * (ph + 1));
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(Math.max(y - r, 0), h - 1) * w;
    for (let x = 0; x < pw; x++) {
      const v = values[sy + Math.min(Math.max(x - r, 0), w - 1)];
      table[(y + 1) * tw + x + 1] = table[y * tw + x + 1] + v; // down the column
    }
  }
  for (let y = 1; y <= ph; y++) {
    for (let x = 1; x <= pw; x++) table[y * tw + x] += table[y * tw + x - 1]; // along the row
  }
  const k = 2 * r + 1;
  const area = k * k;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const total =
        table[(y + k) * tw + x + k] - table[y * tw + x + k] - table[(y + k) * tw + x] +
        table[y * tw + x];
      out[y * w + x] = total / area;
    }
  }
  return out;
}

/** The plane area-averaged to at most `grid` pixels a side, itself if already small
 * (ink.shrink): { small, sw, sh }. */
export function shrink(plane, w, h, grid) {
  const factor = Math.max(1.0, Math.max(h, w) / grid);
  if (factor === 1.0) return { small: plane, sw: w, sh: h };
  const sw = Math.max(1, roundHalfEven(w / factor));
  const sh = Math.max(1, roundHalfEven(h / factor));
  return { small: resizePlane(plane, w, h, sw, sh, "box"), sw, sh };
}

/** The paper's light on the shrunk copy: a grey opening of k pixels, smoothed (ink.light); null
 * when the copy is too small for an opening larger than a stroke. */
export function light(small, w, h, fraction) {
  const k = Math.max(3, roundHalfEven(fraction * Math.max(w, h))) | 1;
  if (Math.min(w, h) <= k) return null;
  return boxBlur(Float32Array.from(opening(small, w, h, k)), w, h, k >> 1);
}

/** The standard deviation of pixel noise in a plane, from the median absolute deviation of
 * differences between pixels `apart` columns apart along the rows (paint.noise_of). */
export function noiseOf(plane, w, h, apart = 1) {
  if (w <= apart) return 0.0;
  const diffs = new Float32Array((w - apart) * h);
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w - apart; x++) diffs[n++] = plane[y * w + x + apart] - plane[y * w + x];
  }
  const middle = median(diffs);
  const deviation = median(diffs.map((d) => Math.abs(f32(d - middle))));
  return (MAD_TO_SIGMA * deviation) / Math.sqrt(2.0);
}

/** The shrunk copy blurred just enough that its pixel noise sits `quiet` times under
 * `threshold`, or as far as the radii go; unchanged when it already does (mnist_digit.quieted). */
export function quieted(small, w, h, threshold, quiet) {
  if (quiet <= 0 || Math.min(w, h) < 3) return small;
  const noise = noiseOf(small, w, h);
  if (noise <= threshold / quiet) return small;
  let radius;
  for (radius of QUIET_RADII) if (noise / (2 * radius + 1) <= threshold / quiet) break;
  return boxBlur(small, w, h, radius);
}

/** The paper's colour under its light, one plane per channel (paint.paper_field): each
 * channel's grey opening on the shrunk copy scaled back up, or the border ring's median colour;
 * where `bare` marks known paper, each channel's level corrected by the median residual. */
export function paperField(values, rings, inverted, w, h, grid, flatten, bare = null) {
  const bareCount = bare ? bare.reduce((a, b) => a + b, 0) : 0;
  return values.map((channel, c) => {
    const plain = median(rings[c]);
    const plane = inverted ? channel.map((v) => f32(1 - v)) : channel;
    let lit = null;
    if (flatten > 0) {
      const { small, sw, sh } = shrink(plane, w, h, grid);
      lit = light(small, sw, sh, flatten);
      if (lit) {
        const up = resizePlane(lit, sw, sh, w, h, "bicubic");
        lit = inverted ? up.map((v) => f32(1 - v)) : up;
      }
    }
    if (!lit) return new Float32Array(w * h).fill(Math.min(Math.max(plain, 0), 1));
    let field = lit;
    if (bare && bareCount >= MIN_INK_PIXELS) {
      const residuals = new Float32Array(bareCount);
      let n = 0;
      for (let i = 0; i < field.length; i++) if (bare[i]) residuals[n++] = channel[i] - field[i];
      const level = median(residuals);
      field = field.map((v) => f32(v + level));
    }
    return field.map((v) => (v < 0 ? 0 : v > 1 ? 1 : v));
  });
}

/** The median colour of `values` where the model's coverage `strokes` is high; `fallback` when
 * the model drew (almost) nothing (paint.ink_colour). */
export function inkColour(values, strokes, fallback) {
  const most = maximum(strokes);
  const level = f32(STROKE_LEVEL * Math.max(most, 1e-6));
  const chosen = [];
  for (let i = 0; i < strokes.length; i++) if (strokes[i] > level) chosen.push(i);
  if (chosen.length < MIN_INK_PIXELS || most < SUPPORT_LEVEL) return fallback.map(f32);
  return values.map((plane) => median(chosen.map((i) => plane[i])));
}

/** Each pixel's position on the line from paper (0) to ink (1), a least-squares projection over
 * the channels (paint.coverage_of). */
export function coverageOf(values, paper, ink) {
  const n = values[0].length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let length = 0;
    let along = 0;
    for (let c = 0; c < values.length; c++) {
      const axis = f32(ink[c] - paper[c][i]);
      length = f32(length + f32(axis * axis));
      along = f32(along + f32(f32(values[c][i] - paper[c][i]) * axis));
    }
    out[i] = f32(along / Math.max(length, f32(1e-4)));
  }
  return out;
}

/** A sigmoid contrast around 0.5 normalised to keep 0 and 1 (paint.snap; gain 0: unchanged). */
export function snap(coverage, gain) {
  const clipped = coverage.map((v) => (v < 0 ? 0 : v > 1 ? 1 : v));
  if (gain <= 0) return clipped;
  const [low, high] = [0.0, 1.0].map((v) => 1.0 / (1.0 + Math.exp(-(v - 0.5) * gain)));
  const g = f32(gain);
  return clipped.map((v) => {
    const curve = f32(1 / f32(1 + f32(Math.exp(f32(-f32(v - 0.5) * g)))));
    return (curve - low) / (high - low); // numpy: float64 scalars, stored as float32
  });
}

/** Where the model saw ink, widened by `reach` pixels (box blur of the strokes above
 * SUPPORT_LEVEL): 1, else 0. */
export function support(strokes, w, h, reach) {
  const above = strokes.map((v) => (v > f32(SUPPORT_LEVEL) ? 1 : 0));
  return Uint8Array.from(boxBlur(above, w, h, reach), (v) => (v > 0 ? 1 : 0));
}

/** The input's `observed` coverage, median filtered (the smallest window that leaves it
 * INPUT_WEIGHT of the weight) and weighed against the model's `strokes` (trusted to within
 * `prior`) by the filtered noise, snapped by `gain`, and zero farther than `reach` pixels from
 * any stroke (paint.guided_coverage). */
export function guidedCoverage(observed, strokes, w, h, prior, gain, reach) {
  const limit = prior * Math.sqrt((1.0 - INPUT_WEIGHT) / INPUT_WEIGHT);
  let smoothed;
  let noise;
  for (const size of MEDIAN_WINDOWS) {
    smoothed = medianFilter(observed, w, h, size);
    noise = Math.max(noiseOf(smoothed, w, h, size), 1e-6);
    if (noise <= limit) break;
  }
  const weight = 1.0 / noise ** 2 / (1.0 / noise ** 2 + 1.0 / prior ** 2);
  const [a, b] = [f32(weight), f32(1.0 - weight)];
  const mixed = smoothed.map((s, i) => f32(f32(a * s) + f32(b * strokes[i])));
  const coverage = snap(mixed, gain);
  const near = support(strokes, w, h, reach);
  return coverage.map((v, i) => (near[i] ? v : 0));
}

/** `ink` laid over `paper` at `coverage`, one plane per channel (paint.paint). */
export function paint(paper, ink, coverage) {
  return paper.map((plane, c) =>
    plane.map((p, i) => {
      const v = f32(p + f32(coverage[i] * f32(ink[c] - p)));
      return v < 0 ? 0 : v > 1 ? 1 : v;
    }),
  );
}
