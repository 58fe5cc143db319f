// Pictures for the preparation adapters, as aeinfer/pictures.py and the helpers of
// aeinfer/adapters/image.py hold them: what a browser decodes (8-bit grey or colour, with or
// without alpha), seen on paper, brought to a model's channels, and results quantised back.
//
// A picture is { width, height, channels: 1 | 3, pixels: Uint8Array (row-major, channels
// last), alpha: Uint8Array | null }. Float32 arrays are computed as numpy computes them —
// Math.fround after each operation — so that results agree with Python's to the last bit.

export const f32 = Math.fround;
const LUMA = [f32(0.299), f32(0.587), f32(0.114)];

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

export const clip01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** A picture from RGBA bytes (a canvas's ImageData): grey when every pixel is, alpha only when
 * some pixel is not opaque. */
export function pictureFromRGBA(rgba, width, height) {
  const n = width * height;
  let grey = true;
  let opaque = true;
  for (let i = 0; i < n; i++) {
    const r = rgba[4 * i];
    if (grey && (r !== rgba[4 * i + 1] || r !== rgba[4 * i + 2])) grey = false;
    if (opaque && rgba[4 * i + 3] !== 255) opaque = false;
  }
  const channels = grey ? 1 : 3;
  const pixels = new Uint8Array(n * channels);
  const alpha = opaque ? null : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) pixels[i * channels + c] = rgba[4 * i + c];
    if (alpha) alpha[i] = rgba[4 * i + 3];
  }
  return { width, height, channels, pixels, alpha };
}

/** A picture from a Pillow mode (L, LA, RGB, RGBA) and its bytes, as fixtures.json holds it. */
export function pictureFromMode(mode, width, height, bytes) {
  const layout = { L: [1, false], LA: [1, true], RGB: [3, false], RGBA: [3, true] }[mode];
  if (!layout) throw new Error(`unsupported picture mode ${mode}`);
  const [channels, hasAlpha] = layout;
  const step = channels + (hasAlpha ? 1 : 0);
  const n = width * height;
  const pixels = new Uint8Array(n * channels);
  const alpha = hasAlpha ? new Uint8Array(n) : null;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) pixels[i * channels + c] = bytes[i * step + c];
    if (alpha) alpha[i] = bytes[i * step + channels];
  }
  return { width, height, channels, pixels, alpha };
}

/** The Pillow mode of a picture and its bytes (channels last, alpha after the colours). */
export function pictureBytes(picture) {
  const { width, height, channels, pixels, alpha } = picture;
  const step = channels + (alpha ? 1 : 0);
  const mode = (channels === 1 ? "L" : "RGB") + (alpha ? "A" : "");
  const bytes = new Uint8Array(width * height * step);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < channels; c++) bytes[i * step + c] = pixels[i * channels + c];
    if (alpha) bytes[i * step + channels] = alpha[i];
  }
  return { mode, bytes };
}

/** RGBA bytes of a picture, to put on a canvas. */
export function pictureToRGBA(picture) {
  const { width, height, channels, pixels, alpha } = picture;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = pixels[i * channels + (channels === 1 ? 0 : c)];
    rgba[4 * i + 3] = alpha ? alpha[i] : 255;
  }
  return rgba;
}

/** One channel as seen on `paper` (alpha composited): float32 in [0, 1] (seen_plane). */
export function seenPlane(picture, channel, paper) {
  const { width, height, channels, pixels, alpha } = picture;
  const n = width * height;
  const plane = new Float32Array(n);
  const ink = f32(paper[channel]);
  for (let i = 0; i < n; i++) {
    const v = f32(pixels[i * channels + channel] / 255);
    if (alpha) {
      const w = f32(alpha[i] / 255);
      plane[i] = f32(f32(v * w) + f32(ink * f32(1 - w)));
    } else {
      plane[i] = v;
    }
  }
  return plane;
}

const paperFor = (paper, channels) =>
  paper.length === 1 ? Array(channels).fill(paper[0]) : paper;

/** Luma of three planes, as numpy sums LUMA[k] * plane[k] in float32. */
export function lumaOf(planes, clipFirst = false) {
  const n = planes[0].length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = 0; k < 3; k++) {
      const v = clipFirst ? clip01(planes[k][i]) : planes[k][i];
      sum = f32(sum + f32(LUMA[k] * v));
    }
    out[i] = sum;
  }
  return out;
}

/** The picture in the model's channels, one float32 plane each (model_planes). */
export function modelPlanes(picture, channels, paper) {
  const inks = paperFor(paper, picture.channels);
  if (picture.channels === channels) {
    return Array.from({ length: channels }, (_, c) => seenPlane(picture, c, inks));
  }
  if (channels === 1) return [lumaOf([0, 1, 2].map((c) => seenPlane(picture, c, inks)))];
  const grey = seenPlane(picture, 0, inks);
  return Array.from({ length: channels }, () => grey);
}

/** (clip(v) * 255 + 0.5) truncated, in float32, as numpy quantises a result. */
export const quantize = (v) => Math.trunc(f32(f32(clip01(v) * 255) + 0.5));

/** A result's planes as a picture like `picture`: its channels and alpha (picture_from_planes). */
export function pictureFromPlanes(planes, picture, paper) {
  const { width, height, channels } = picture;
  const n = width * height;
  const pixels = new Uint8Array(n * channels);
  if (planes.length === channels) {
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < n; i++) pixels[i * channels + c] = quantize(planes[c][i]);
    }
  } else if (channels === 1) {
    const grey = lumaOf(planes, true);
    for (let i = 0; i < n; i++) pixels[i] = quantize(grey[i]);
  } else {
    // A grey result on a colour picture: the result's luma replaces the picture's.
    const seen = [0, 1, 2].map((c) => seenPlane(picture, c, paperFor(paper, channels)));
    const luma = lumaOf(seen);
    for (let i = 0; i < n; i++) {
      const shift = f32(clip01(planes[0][i]) - luma[i]);
      for (let c = 0; c < 3; c++) pixels[i * 3 + c] = quantize(f32(seen[c][i] + shift));
    }
  }
  return { width, height, channels, pixels, alpha: picture.alpha };
}
