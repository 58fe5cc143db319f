// The latent explorer: the vae's 2-D codes of MNIST test digits as a scatter coloured by label
// (what `aeinfer scatter` draws), and the digit the decoder makes of the code under the pointer,
// decoded in the page as the pointer moves — the Keras VAE manifold made interactive.

import { drawItem, fail, PALETTE, setText } from "./ui.js";

const PLOT = 480;
const MARGIN = { left: 44, top: 10, right: 10, bottom: 34 };
const NICE = [1, 2, 5, 10];
const TARGET_TICKS = 5;
const POINT = 2;

/** Round ticks covering [low, high] (steps of 1, 2 or 5 × 10^k), as aeinfer.plots does. */
function niceTicks(low, high) {
  const raw = (high - low) / TARGET_TICKS;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = NICE.map((m) => m * magnitude).find((s) => s >= raw);
  const start = Math.floor(low / step) * step;
  const stop = Math.ceil(high / step) * step;
  const count = Math.round((stop - start) / step);
  return Array.from({ length: count + 1 }, (_, i) => start + i * step);
}

/** A fixed shuffle (so no class always lands on top), seeded. */
function shuffled(n, seed = 1) {
  const order = Array.from({ length: n }, (_, i) => i);
  let state = seed;
  for (let i = n - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export async function explorer(section, models) {
  const plane = (m) => m.card.latent.axes.length === 1 && m.card.latent.axes[0].size === 2;
  const vae = models.find((m) => m.name === "vae" && plane(m));
  if (!vae) {
    setText(section.querySelector(".status"), "No vae with a 2-D latent here: nothing to explore.");
    return null;
  }
  const response = await fetch("data/vae-latent.json");
  if (!response.ok) throw new Error(`data/vae-latent.json: HTTP ${response.status}`);
  const data = await response.json();
  const codes = Float32Array.from(data.codes);
  const labels = data.labels;
  const n = labels.length;
  const xs = Array.from({ length: n }, (_, i) => codes[2 * i]);
  const ys = Array.from({ length: n }, (_, i) => codes[2 * i + 1]);
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs));
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys));
  const [x0, x1] = [xTicks[0], xTicks.at(-1)];
  const [y0, y1] = [yTicks[0], yTicks.at(-1)];
  const toX = (v) => MARGIN.left + ((v - x0) / (x1 - x0)) * (PLOT - 1);
  const toY = (v) => MARGIN.top + ((y1 - v) / (y1 - y0)) * (PLOT - 1);
  const fromX = (px) => x0 + ((px - MARGIN.left) / (PLOT - 1)) * (x1 - x0);
  const fromY = (py) => y1 - ((py - MARGIN.top) / (PLOT - 1)) * (y1 - y0);

  const plot = section.querySelector("canvas.scatter");
  plot.width = MARGIN.left + PLOT + MARGIN.right;
  plot.height = MARGIN.top + PLOT + MARGIN.bottom;
  const base = document.createElement("canvas");
  [base.width, base.height] = [plot.width, plot.height];
  const ctx = base.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, base.width, base.height);
  for (const i of shuffled(n)) {
    const [r, g, b] = PALETTE[Number(labels[i]) % PALETTE.length];
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.beginPath();
    ctx.arc(toX(xs[i]), toY(ys[i]), POINT, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeRect(MARGIN.left - 0.5, MARGIN.top - 0.5, PLOT + 1, PLOT + 1);
  const decimals = (ticks) => Math.max(0, -Math.floor(Math.log10(ticks[1] - ticks[0])));
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of xTicks) {
    ctx.fillRect(toX(v), MARGIN.top + PLOT, 1, 4);
    ctx.fillText((v === 0 ? 0 : v).toFixed(decimals(xTicks)), toX(v), MARGIN.top + PLOT + 6);
  }
  ctx.fillText("z[0]", MARGIN.left + PLOT / 2, MARGIN.top + PLOT + 20);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of yTicks) {
    ctx.fillRect(MARGIN.left - 5, toY(v), 4, 1);
    ctx.fillText((v === 0 ? 0 : v).toFixed(decimals(yTicks)), MARGIN.left - 7, toY(v));
  }
  ctx.save();
  ctx.translate(10, MARGIN.top + PLOT / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText("z[1]", 0, 0);
  ctx.restore();

  const legend = section.querySelector(".legend");
  legend.replaceChildren(
    ...[...new Set(labels)].sort().map((label) => {
      const item = document.createElement("span");
      const [r, g, b] = PALETTE[Number(label) % PALETTE.length];
      item.innerHTML = `<i style="background:rgb(${r},${g},${b})"></i>${label}`;
      return item;
    }),
  );
  const note = section.querySelector(".status");
  const stale = data.encoder_sha256 !== vae.card.graphs.fp32.encoder.sha256;
  setText(
    note,
    `${n} digits of the ${data.split.replace(/^MNIST test, first \d+ digits$/, "MNIST test set")}` +
      (stale ? " (encoded by another vae than this one: rerun scripts/web_data.py)" : ""),
  );

  const digit = section.querySelector("canvas.digit");
  const readout = section.querySelector(".readout");
  const view = plot.getContext("2d");
  let pending = null;
  let busy = false;
  let times = [];

  const render = (z) => {
    view.drawImage(base, 0, 0);
    const [px, py] = [toX(z[0]), toY(z[1])];
    view.strokeStyle = "rgba(0,0,0,0.75)";
    view.beginPath();
    view.moveTo(px - 8, py);
    view.lineTo(px + 8, py);
    view.moveTo(px, py - 8);
    view.lineTo(px, py + 8);
    view.stroke();
  };

  /** Decode codes (an array of [z0, z1]) in the page: { data, shape }. */
  const decode = async (zs) => {
    const start = performance.now();
    const out = await vae.decode(Float32Array.from(zs.flat()), [zs.length, 2]);
    times.push(performance.now() - start);
    return out;
  };

  const show = async (z) => {
    pending = z;
    if (busy) return;
    busy = true;
    try {
      while (pending) {
        const current = pending;
        pending = null;
        render(current);
        const { data: item, shape } = await decode([current]);
        drawItem(digit, item, shape.slice(1));
        const recent = times.slice(-20).sort((a, b) => a - b);
        readout.textContent =
          `z = (${current[0].toFixed(2)}, ${current[1].toFixed(2)}) · ` +
          `decoded in ${recent[recent.length >> 1].toFixed(2)} ms ` +
          `(median of the last ${recent.length})`;
      }
    } finally {
      busy = false;
    }
  };

  const pointer = (event) => {
    const rect = plot.getBoundingClientRect();
    const px = ((event.clientX - rect.left) * plot.width) / rect.width;
    const py = ((event.clientY - rect.top) * plot.height) / rect.height;
    const inside = (v, start) => v >= start && v < start + PLOT;
    if (inside(px, MARGIN.left) && inside(py, MARGIN.top)) {
      show([fromX(px), fromY(py)]).catch(fail);
    }
  };
  plot.addEventListener("pointermove", pointer);
  plot.addEventListener("pointerdown", pointer);
  await vae.session("decoder");
  await show([0, 0]);
  return {
    decode: async (zs) => Array.from((await decode(zs)).data),
    show,
    times: () => times.slice(),
    resetTimes: () => (times = []),
    toPixel: (z) => [toX(z[0]), toY(z[1])],
    idle: async () => {
      while (busy) await new Promise((r) => setTimeout(r, 5));
    },
  };
}
