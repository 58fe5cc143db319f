// Pillow's resampling of a float ("F" mode) plane, as aeinfer.pictures.resize_plane calls it.
//
// Pillow (libImaging/Resample.c) resizes in two separable passes, horizontal then vertical,
// each output sample a weighted sum of input samples: the filter (box, or bicubic with
// a = -0.5) is stretched by the scale when shrinking (antialiasing), its weights normalised to
// sum to one, sums accumulated in double precision and stored as float32. This is the same
// arithmetic, so the results agree with Python's to the last bit or two.

const FILTERS = {
  box: {
    support: 0.5,
    weight: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0),
  },
  bicubic: {
    support: 2.0,
    weight: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
      return 0.0;
    },
  },
};

/** Weights of each output sample over the input samples: Pillow's precompute_coeffs. */
function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Float64Array(outSize * ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterScale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      kk[xx * ksize + x] = w;
      total += w;
    }
    if (total !== 0.0) for (let x = 0; x < xmax; x++) kk[xx * ksize + x] /= total;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

/**
 * Resize a float32 plane (height × width, row-major) to outWidth × outHeight.
 * resample: "box" (area average), "bicubic", or "auto" (box when shrinking both ways, else
 * bicubic), as aeinfer.pictures.resize_plane.
 */
export function resizePlane(values, width, height, outWidth, outHeight, resample = "auto") {
  if (width === outWidth && height === outHeight) return Float32Array.from(values);
  if (resample === "auto") {
    resample = outWidth <= width && outHeight <= height ? "box" : "bicubic";
  }
  const filter = FILTERS[resample];
  if (!filter) throw new Error(`unknown resample filter ${resample}`);
  let plane = values;
  let w = width;
  if (outWidth !== width) {
    const { bounds, kk, ksize } = coefficients(width, outWidth, filter);
    const out = new Float32Array(outWidth * height);
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2];
        const xmax = bounds[xx * 2 + 1];
        let ss = 0.0;
        for (let x = 0; x < xmax; x++) ss += plane[row + x + xmin] * kk[xx * ksize + x];
        out[y * outWidth + xx] = ss;
      }
    }
    plane = out;
    w = outWidth;
  }
  if (outHeight !== height) {
    const { bounds, kk, ksize } = coefficients(height, outHeight, filter);
    const out = new Float32Array(w * outHeight);
    for (let yy = 0; yy < outHeight; yy++) {
      const ymin = bounds[yy * 2];
      const ymax = bounds[yy * 2 + 1];
      for (let x = 0; x < w; x++) {
        let ss = 0.0;
        for (let y = 0; y < ymax; y++) ss += plane[(y + ymin) * w + x] * kk[yy * ksize + y];
        out[yy * w + x] = ss;
      }
    }
    plane = out;
  }
  return plane;
}
