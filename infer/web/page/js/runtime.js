// ONNX Runtime Web and the models: sessions made from the card, tensors laid out as the card
// says (aeinfer/model.py in JavaScript).
//
// An item is (channels, height, width) in the data's units; a graph may take it as it is,
// without its size-1 axes, or flattened into one `features` axis, and with a normalisation —
// the card's named axes say which. Outputs are clipped to the card's range where it says so.

import * as ort from "../vendor/ort.wasm.min.mjs";

const MAX_THREADS = 4;

/** Configure ONNX Runtime Web: its files come from ../vendor/ (nothing from the internet);
 * threads where the page is cross-origin isolated (COOP/COEP), else one. `?threads=N` caps. */
export function configure() {
  ort.env.wasm.wasmPaths = new URL("../vendor/", import.meta.url).href;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";
  const isolated = globalThis.crossOriginIsolated === true;
  const asked = Number(new URLSearchParams(location.search).get("threads")) || MAX_THREADS;
  const cores = navigator.hardwareConcurrency || 1;
  ort.env.wasm.numThreads = isolated ? Math.max(1, Math.min(asked, cores, MAX_THREADS)) : 1;
  return { version: ort.env.versions?.web ?? "?", threads: ort.env.wasm.numThreads, isolated };
}

const product = (values) => values.reduce((a, b) => a * b, 1);

export class Autoencoder {
  constructor(entry, card) {
    this.entry = entry;
    this.card = card;
    this.name = card.name;
    this.sessions = {};
  }

  /** A model of the site's models/index.json (its card fetched; graphs loaded when used). */
  static async load(entry) {
    const response = await fetch(entry.card);
    if (!response.ok) throw new Error(`${entry.card}: HTTP ${response.status}`);
    return new Autoencoder(entry, await response.json());
  }

  /** The ONNX Runtime session of the encoder or the decoder, created once. */
  session(role) {
    if (!this.sessions[role]) {
      const file = this.card.graphs.fp32[role].file;
      const url = new URL(file, new URL(this.entry.card, location.href)).href;
      this.sessions[role] = ort.InferenceSession.create(url, {
        executionProviders: ["wasm"],
        graphOptimizationLevel: "all",
      });
    }
    return this.sessions[role];
  }

  has(task) {
    return this.card.tasks.includes(task);
  }

  /** The graph's input dims for `n` items of `itemShape` (the card's named axes). */
  graphDims(n, itemShape) {
    const sizes = Object.fromEntries(this.card.data.axes.map((a, i) => [a.name, itemShape[i]]));
    const axes = this.card.encoder.inputs[0].axes.slice(1);
    return [n, ...axes.map((a) => (a.name === "features" ? product(itemShape) : sizes[a.name]))];
  }

  /** Items (n × item) as the encoder takes them: normalised per channel if the card says. */
  toGraph(items, n, itemShape) {
    const norm = this.card.data.normalization;
    if (!norm) return items;
    const plane = product(itemShape.slice(1));
    const out = new Float32Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const c = Math.floor(i / plane) % itemShape[0];
      out[i] = Math.fround(Math.fround(items[i] - norm.mean[c]) / norm.std[c]);
    }
    return out;
  }

  /** A decoder output as items: normalisation undone, clipped to the card's range. */
  fromGraph(out, itemShape) {
    const { normalization: norm, clip, range } = this.card.data;
    const items = Float32Array.from(out);
    const plane = product(itemShape.slice(1));
    for (let i = 0; i < items.length; i++) {
      let v = items[i];
      if (norm) {
        const c = Math.floor(i / plane) % itemShape[0];
        v = Math.fround(Math.fround(v * norm.std[c]) + norm.mean[c]);
      }
      if (clip && range) v = Math.min(Math.max(v, range[0]), range[1]);
      items[i] = v;
    }
    return items;
  }

  /** Codes of n items: { data, dims } (the posterior mean for a variational model). */
  async encode(items, n, itemShape) {
    const encoder = await this.session("encoder");
    const input = this.card.encoder.inputs[0].name;
    const values = this.toGraph(items, n, itemShape);
    const tensor = new ort.Tensor("float32", values, this.graphDims(n, itemShape));
    const outputs = await encoder.run({ [input]: tensor });
    const code = outputs[this.card.encoder.outputs[0].name];
    return { data: code.data, dims: code.dims };
  }

  /** The item shape the decoder makes of codes of these dims (free axes × stride). */
  decodedShape(dims) {
    const latent = Object.fromEntries(
      this.card.latent.axes.map((a, i) => [a.name, dims[i + 1] * (a.stride || 1)]),
    );
    return this.card.data.axes.map((a) => a.size ?? latent[a.name]);
  }

  /** Items of codes: { data, shape: [n, ...item] }. */
  async decode(codes, dims) {
    const decoder = await this.session("decoder");
    const input = this.card.decoder.inputs[0].name;
    const outputs = await decoder.run({ [input]: new ort.Tensor("float32", codes, dims) });
    const itemShape = this.decodedShape(dims);
    const out = outputs[this.card.decoder.outputs[0].name].data;
    return { data: this.fromGraph(out, itemShape), shape: [dims[0], ...itemShape] };
  }

  /** decoder(encoder(items)) for a batch of shape [n, ...item]: { data, shape }. */
  async reconstruct(items, shape) {
    const [n, ...itemShape] = shape;
    const code = await this.encode(items, n, itemShape);
    const { data } = await this.decode(code.data, code.dims);
    return { data, shape };
  }
}

/** The models the site carries (models/index.json), cards loaded. */
export async function loadModels() {
  const response = await fetch("models/index.json");
  if (!response.ok) throw new Error(`models/index.json: HTTP ${response.status}`);
  const { models } = await response.json();
  return Promise.all(models.map((entry) => Autoencoder.load(entry)));
}
