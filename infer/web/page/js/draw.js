// Draw a digit: a canvas drawn on with the mouse, a pen or a finger; the drawing is prepared as
// the card's `mnist_digit` preparation says (prep.js), reconstructed by one model and denoised
// by another in the page, and each result restored onto the drawing's size.

import { VERSIONS, adapterFor, pictureBytes, pictureFromRGBA, unsupported } from "./prep.js";
import { drawItem, drawPicture, fail, fillSelect, setText } from "./ui.js";

const SIDE = 280;
const PEN = 20;

export async function drawing(section, models) {
  const named = models.filter((m) => m.card.preparation.adapter === "mnist_digit");
  // Models whose preparation is newer than the page's JavaScript are left out, and said so.
  const digits = named.filter((m) => !unsupported(m.card));
  const leftOut = named.filter((m) => unsupported(m.card));
  const outputs = [
    { task: "reconstruct", preferred: "conv", select: ".reconstruct", canvas: ".reconstruction" },
    { task: "denoise", preferred: "denoise", select: ".denoise", canvas: ".denoised" },
  ];
  for (const out of outputs) {
    out.select = section.querySelector(`select${out.select}`);
    out.canvas = section.querySelector(`canvas${out.canvas}`);
    out.models = digits.filter((m) => m.has(out.task));
    fillSelect(out.select, out.models, out.preferred);
    out.canvas.closest("figure").hidden = !out.models.length; // no model for this task
  }
  const status = section.querySelector(".status");
  const unusable = leftOut.length
    ? `Left out: ${leftOut.map((m) => `${m.name} (v${m.card.preparation.version})`).join(", ")}, ` +
      `whose mnist_digit preparation is newer than this page's (v${VERSIONS.mnist_digit}).`
    : "";
  const say = (...parts) => setText(status, parts.filter(Boolean).join(" "));
  if (!digits.length) {
    section.classList.add("unavailable");
    say("No model in this site takes drawn digits (mnist_digit preparation).", unusable);
    return null;
  }
  const pad = section.querySelector("canvas.pad");
  [pad.width, pad.height] = [SIDE, SIDE];
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const seen = section.querySelector("canvas.seen");
  let last = {};
  let runs = 0;
  let busy = false;
  let dirty = false;
  let inked = false;

  const clear = () => {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, SIDE, SIDE);
    inked = false;
  };
  clear();

  /** Prepare the drawing, run both models, restore and show their results. */
  const run = async () => {
    if (!inked) {
      for (const canvas of [seen, ...outputs.map((out) => out.canvas)]) {
        canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      }
      last = {};
      say("Draw a digit in the white square.", unusable);
      return;
    }
    const picture = pictureFromRGBA(ctx.getImageData(0, 0, SIDE, SIDE).data, SIDE, SIDE);
    const results = { pad: pictureBytes(picture), notes: [] };
    for (const out of outputs) {
      const model = out.models.find((m) => m.name === out.select.value);
      if (!model) continue;
      const adapter = adapterFor(model.card);
      const { tensor, shape, state } = adapter.prepare(picture);
      const { data } = await model.reconstruct(tensor, shape);
      // A denoised digit is restored as `aeinfer denoise` does it (the input's own edges where
      // the model agrees); a reconstruction as `aeinfer reconstruct` does.
      const denoised = out.task === "denoise" && adapter.restoreDenoised;
      const restored = (denoised ? adapter.restoreDenoised : adapter.restore).call(
        adapter, data, shape, state,
      );
      drawPicture(out.canvas, restored);
      const prepared = Array.from(tensor);
      results[out.task] = { model: model.name, ...pictureBytes(restored), seen: prepared };
      if (out.task === "reconstruct") drawItem(seen, tensor, shape.slice(1));
      results.notes = adapter.notes(state);
    }
    last = results;
    runs += 1;
    say(results.notes.length ? `${results.notes.join("; ")}.` : "", unusable);
  };

  /** Run now, or once more after the run in flight (never two at a time). */
  const schedule = async () => {
    dirty = true;
    if (busy) return;
    busy = true;
    try {
      while (dirty) {
        dirty = false;
        await run();
      }
    } catch (error) {
      fail(error);
    } finally {
      busy = false;
    }
  };

  const stroke = (points) => {
    inked = true;
    ctx.strokeStyle = "#000";
    ctx.lineWidth = PEN;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...points[0]);
    for (const p of points.slice(points.length > 1 ? 1 : 0)) ctx.lineTo(...p);
    ctx.stroke();
  };

  let previous = null;
  const at = (event) => {
    const rect = pad.getBoundingClientRect();
    const x = ((event.clientX - rect.left) * SIDE) / rect.width;
    return [x, ((event.clientY - rect.top) * SIDE) / rect.height];
  };
  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    previous = at(event);
    stroke([previous]);
    schedule();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!previous) return;
    const point = at(event);
    stroke([previous, point]);
    previous = point;
    schedule();
  });
  for (const type of ["pointerup", "pointercancel"]) {
    pad.addEventListener(type, () => {
      if (previous) schedule();
      previous = null;
    });
  }
  section.querySelector("button.clear").addEventListener("click", () => {
    clear();
    schedule();
  });
  for (const out of outputs) out.select.addEventListener("change", () => schedule());
  await schedule();

  const idle = async () => {
    while (busy || dirty) await new Promise((r) => setTimeout(r, 5));
  };
  return {
    /** Draw polylines (pad pixels), as the pointer does, and wait for the results. */
    strokes: async (lines) => {
      for (const line of lines) stroke(line);
      await schedule();
      await idle();
    },
    clear: async () => {
      clear();
      await schedule();
      await idle();
    },
    idle,
    runs: () => runs,
    result: () => last,
  };
}
