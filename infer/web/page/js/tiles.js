// tiles: a fully convolutional model at the picture's own size, as aeinfer/adapters/tiles.py
// does it — padded (mirrored) up to the model's multiple, run in overlapping windows of tile +
// 2·margin pixels of which only the core is kept, cropped back.

import { modelPlanes, pictureFromPlanes } from "./pictures.js";

const TILES_DEFAULTS = { tile: 256, batch: 4, pad: "symmetric", paper: [1.0] };

const gcd = (a, b) => (b ? gcd(b, a % b) : a);

/** Index into [0, n) for a padded position i ≥ n: mirrored (numpy's symmetric) or clamped. */
function padIndex(i, n, mode) {
  if (i < n) return i;
  if (mode === "edge") return n - 1;
  const j = i % (2 * n);
  return j < n ? j : 2 * n - 1 - j;
}

export class Tiles {
  constructor(params, card) {
    if (params.margin === undefined) throw new Error("tiles: the card gives no margin");
    this.params = { ...TILES_DEFAULTS, ...params };
    this.channels = card.data.axes[0].size;
    const steps = card.data.axes
      .filter((a) => a.name === "height" || a.name === "width")
      .map((a) => a.multiple_of || 1);
    this.step = steps.reduce((a, b) => (a * b) / gcd(a, b), 1);
  }

  /** { tensor: Float32Array (1·C·H'·W'), shape, state }: H' and W' padded to the multiple. */
  prepare(picture) {
    const { width: w, height: h } = picture;
    const height = h + ((this.step - (h % this.step)) % this.step);
    const width = w + ((this.step - (w % this.step)) % this.step);
    const planes = modelPlanes(picture, this.channels, this.params.paper);
    const tensor = new Float32Array(this.channels * height * width);
    for (let c = 0; c < this.channels; c++) {
      const base = c * height * width;
      for (let y = 0; y < height; y++) {
        const sy = padIndex(y, h, this.params.pad);
        for (let x = 0; x < width; x++) {
          tensor[base + y * width + x] = planes[c][sy * w + padIndex(x, w, this.params.pad)];
        }
      }
    }
    return {
      tensor,
      shape: [1, this.channels, height, width],
      state: { picture, height: h, width: w, notes: [] },
    };
  }

  /** A (1, C, H', W') result cropped to the picture and brought to its channels. */
  restore(result, shape, state) {
    const [, channels, height, width] = shape;
    const { picture } = state;
    const planes = [];
    for (let c = 0; c < channels; c++) {
      const plane = new Float32Array(state.width * state.height);
      for (let y = 0; y < state.height; y++) {
        const row = c * height * width + y * width;
        plane.set(result.subarray(row, row + state.width), y * state.width);
      }
      planes.push(plane);
    }
    return pictureFromPlanes(planes, picture, this.params.paper);
  }

  /** The windows a (height × width) tensor is run in: each a core of `tile` pixels plus
   * `margin` of context, moved inside the picture; [] when the whole fits one window. */
  windows(height, width) {
    const { tile, margin } = this.params;
    if (height <= tile + 2 * margin && width <= tile + 2 * margin) return [];
    const size = [Math.min(tile + 2 * margin, height), Math.min(tile + 2 * margin, width)];
    const list = [];
    for (let cy = 0; cy < height; cy += tile) {
      for (let cx = 0; cx < width; cx += tile) {
        const wy = Math.min(Math.max(cy - margin, 0), height - size[0]);
        const wx = Math.min(Math.max(cx - margin, 0), width - size[1]);
        const core = [cy, cx, Math.min(cy + tile, height), Math.min(cx + tile, width)];
        list.push({ core, origin: [wy, wx], size });
      }
    }
    return list;
  }

  /**
   * `fn` (an async function of a Float32Array batch and its shape → { data, shape }) over a
   * prepared (1, C, H, W) tensor in windows of `batch`, as adapters/tiles.py runs it;
   * `progress(done, total)` after each call. Returns { data, shape }.
   */
  async run(fn, tensor, shape, progress = () => {}) {
    const [, channels, height, width] = shape;
    const windows = this.windows(height, width);
    if (windows.length === 0) {
      const out = await fn(tensor, shape);
      progress(1, 1);
      return out;
    }
    let out = null;
    let outChannels = 0;
    for (let start = 0; start < windows.length; start += this.params.batch) {
      const chunk = windows.slice(start, start + this.params.batch);
      const [wh, ww] = chunk[0].size;
      const crops = new Float32Array(chunk.length * channels * wh * ww);
      chunk.forEach(({ origin: [oy, ox] }, k) => {
        for (let c = 0; c < channels; c++) {
          for (let y = 0; y < wh; y++) {
            const from = c * height * width + (oy + y) * width + ox;
            crops.set(tensor.subarray(from, from + ww), ((k * channels + c) * wh + y) * ww);
          }
        }
      });
      const result = await fn(crops, [chunk.length, channels, wh, ww]);
      if (out === null) {
        outChannels = result.shape[1];
        out = new Float32Array(outChannels * height * width);
      }
      chunk.forEach(({ core: [y0, x0, y1, x1], origin: [oy, ox] }, k) => {
        for (let c = 0; c < outChannels; c++) {
          for (let y = y0; y < y1; y++) {
            const from = ((k * outChannels + c) * wh + y - oy) * ww + x0 - ox;
            out.set(
              result.data.subarray(from, from + x1 - x0),
              c * height * width + y * width + x0,
            );
          }
        }
      });
      progress(Math.min(start + chunk.length, windows.length), windows.length);
    }
    return { data: out, shape: [1, outChannels, height, width] };
  }

  notes() {
    return [];
  }
}
