// Small helpers the page's sections share: colours, text, drawing items and pictures on
// canvases, and reporting errors (in the page and on the console).

import { pictureToRGBA } from "./prep.js";

/** The tab10 colours, then their light tab20 partners (aeinfer.render.PALETTE). */
export const PALETTE = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
  [174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150], [197, 176, 213],
  [196, 156, 148], [247, 182, 210], [199, 199, 199], [219, 219, 141], [158, 218, 229],
];

export function setText(element, text) {
  if (element) element.textContent = text;
}

/** An item (channels, height, width) of values in [0, 1] on `canvas`, each value a square of
 * `zoom` × `zoom` canvas pixels (sharp, as the model sees it). */
export function drawItem(canvas, values, [channels, height, width], zoom = 8) {
  const rgba = new Uint8ClampedArray(width * height * 4);
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = values[(channels === 1 ? 0 : c) * plane + i];
      rgba[4 * i + c] = Math.round(Math.min(Math.max(v, 0), 1) * 255);
    }
    rgba[4 * i + 3] = 255;
  }
  const small = new OffscreenCanvas(width, height);
  small.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  canvas.width = width * zoom;
  canvas.height = height * zoom;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** A picture (prep.js) on `canvas`, at its own size. */
export function drawPicture(canvas, picture) {
  canvas.width = picture.width;
  canvas.height = picture.height;
  const data = new ImageData(pictureToRGBA(picture), picture.width, picture.height);
  canvas.getContext("2d").putImageData(data, 0, 0);
}

/** Say what went wrong in the page's status line and on the console. */
export function fail(error) {
  const status = document.querySelector("#status");
  status.classList.add("error");
  setText(status, `Error: ${error?.message ?? error}`);
  console.error(error);
}

/** A <select> filled with models' names, `preferred` chosen if present. */
export function fillSelect(select, models, preferred) {
  select.replaceChildren(
    ...models.map((m) => {
      const option = document.createElement("option");
      option.value = m.name;
      option.textContent = m.name;
      option.title = m.card.description ?? "";
      return option;
    }),
  );
  if (models.some((m) => m.name === preferred)) select.value = preferred;
}
