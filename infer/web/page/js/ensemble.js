// Geometric self-ensemble, as aeinfer/ensemble.py: a fully convolutional model run on the 8
// flips and 90° rotations of its input, each result turned back, and the eight averaged. Only
// for a model whose card says it was trained on all eight (the tiles preparation's `dihedral`).

export const PASSES = 8;

/** A quarter turn of an (N, C, H, W) batch, as numpy.rot90(x, 1, axes=(2, 3)):
 * out[n, c, i, j] = x[n, c, j, W - 1 - i]; the result is (N, C, W, H). */
function quarterTurn(data, [n, c, h, w]) {
  const out = new Float32Array(data.length);
  for (let p = 0; p < n * c; p++) {
    const base = p * h * w;
    for (let i = 0; i < w; i++) {
      for (let j = 0; j < h; j++) out[base + i * h + j] = data[base + j * w + (w - 1 - i)];
    }
  }
  return { data: out, shape: [n, c, w, h] };
}

/** A left–right flip of an (N, C, H, W) batch. */
function flip(data, [n, c, h, w]) {
  const out = new Float32Array(data.length);
  for (let row = 0; row < n * c * h; row++) {
    const base = row * w;
    for (let x = 0; x < w; x++) out[base + x] = data[base + w - 1 - x];
  }
  return { data: out, shape: [n, c, h, w] };
}

function turned(batch, turns) {
  let out = batch;
  for (let t = 0; t < turns; t++) out = quarterTurn(out.data, out.shape);
  return out;
}

/** `fn` (an async function of a Float32Array batch and its shape → { data, shape }, the
 * shape kept) averaged over the 8 transforms of its input. */
export function dihedralMean(fn) {
  return async (data, shape) => {
    let total = null;
    for (let turns = 0; turns < 4; turns++) {
      for (const mirrored of [false, true]) {
        let input = turned({ data, shape }, turns);
        if (mirrored) input = flip(input.data, input.shape);
        let out = await fn(input.data, input.shape);
        if (mirrored) out = flip(out.data, out.shape);
        out = turned(out, (4 - turns) % 4);
        if (total === null) total = { data: Float32Array.from(out.data), shape: out.shape };
        else for (let i = 0; i < total.data.length; i++) total.data[i] += out.data[i];
      }
    }
    for (let i = 0; i < total.data.length; i++) total.data[i] /= PASSES;
    return total;
  };
}
