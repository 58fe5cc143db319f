// Denoise a photo: a picture dropped on the page (or chosen) is denoised in the page by a fully
// convolutional model at its own resolution — the card's `tiles` preparation: padded to the
// model's multiple, run in overlapping windows with a progress bar, cropped back.

import { dihedralMean } from "./ensemble.js";
import { adapterFor, pictureBytes, pictureFromRGBA, unsupported } from "./prep.js";
import { drawPicture, fail, fillSelect, setText } from "./ui.js";

/** The picture in an image file, decoded by the browser as it is stored (EXIF orientation
 * applied, no colour management, alpha not premultiplied). */
async function readPicture(file) {
  const bitmap = await createImageBitmap(file, {
    imageOrientation: "from-image",
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
  });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  bitmap.close();
  return pictureFromRGBA(data, canvas.width, canvas.height);
}

export async function photo(section, models) {
  const tiled = (m) => m.card.preparation.adapter === "tiles";
  const denoisers = models.filter((m) => tiled(m) && m.has("denoise") && !unsupported(m.card));
  const status = section.querySelector(".status");
  const input = section.querySelector("input[type=file]");
  const drop = section.querySelector(".drop");
  const select = section.querySelector("select.model");
  const bar = section.querySelector("progress");
  const [before, after] = section.querySelectorAll("canvas");
  const download = section.querySelector("a.download");
  const averaging = section.querySelector("label.ensemble");
  const averaged = averaging.querySelector("input");
  fillSelect(select, denoisers, "photo");
  // Offered only for a model trained on all 8 orientations (its card's tiles `dihedral`).
  const offerEnsemble = () => {
    const model = denoisers.find((m) => m.name === select.value);
    averaging.hidden = !(model && model.card.preparation.params.dihedral);
  };
  select.addEventListener("change", offerEnsemble);
  offerEnsemble();
  if (!denoisers.length) {
    section.classList.add("unavailable");
    input.disabled = true;
    setText(
      status,
      "No photo denoiser in this site: this part uses any model whose card names the tiles " +
        "preparation and the denoise task, such as the bundled photo model " +
        "(aeinfer web --model photo).",
    );
    return null;
  }

  let last = null;
  let runs = 0;
  let queue = Promise.resolve();
  let waiting = 0;

  const denoise = async (file) => {
    const model = denoisers.find((m) => m.name === select.value);
    const adapter = adapterFor(model.card);
    setText(status, `Reading ${file.name}…`);
    const picture = await readPicture(file);
    section.querySelector(".photos").hidden = false;
    drawPicture(before, picture);
    after.width = after.height = 0;
    download.hidden = true;
    bar.value = 0;
    bar.hidden = false;
    await model.session("encoder");
    await model.session("decoder");
    const started = performance.now();
    const { tensor, shape, state } = adapter.prepare(picture);
    const prepared = performance.now();
    const progress = (done, total) => {
      bar.value = done / total;
      const size = `${picture.width}×${picture.height}`;
      setText(status, `Denoising ${size} with ${model.name}: window ${done} of ${total}`);
    };
    const ensemble = !averaging.hidden && averaged.checked;
    const once = (batch, dims) => model.reconstruct(batch, dims);
    const run = ensemble ? dihedralMean(once) : once;
    const result = await adapter.run(run, tensor, shape, progress);
    const ran = performance.now();
    const restored = adapter.restore(result.data, result.shape, state);
    const seconds = (performance.now() - started) / 1000;
    drawPicture(after, restored);
    const megapixels = (picture.width * picture.height) / 1e6;
    last = {
      model: model.name,
      ensemble,
      ...pictureBytes(restored),
      width: restored.width,
      height: restored.height,
      seconds,
      prepare_seconds: (prepared - started) / 1000,
      run_seconds: (ran - prepared) / 1000,
      windows: adapter.windows(shape[2], shape[3]).length || 1,
    };
    runs += 1;
    bar.hidden = true;
    setText(
      status,
      `Denoised ${picture.width}×${picture.height} (${megapixels.toFixed(2)} MP) with ` +
        `${model.name}${ensemble ? " (8 flips and rotations averaged)" : ""} in ` +
        `${seconds.toFixed(2)} s: ` +
        `${(seconds / megapixels).toFixed(2)} s per megapixel.`,
    );
    const blob = await new Promise((resolve) => after.toBlob(resolve, "image/png"));
    if (download.href) URL.revokeObjectURL(download.href);
    download.href = URL.createObjectURL(blob);
    download.download = file.name.replace(/\.[^.]*$/, "") + ".denoised.png";
    download.hidden = false;
  };

  /** Denoise one file after any in flight (one at a time). */
  const start = (file) => {
    if (!file) return;
    waiting += 1;
    queue = queue
      .then(() => denoise(file))
      .catch(fail)
      .finally(() => (waiting -= 1));
  };
  input.addEventListener("change", () => start(input.files[0]));
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    start(event.dataTransfer.files[0]);
  });
  return {
    denoise: async (file) => {
      await denoise(file);
      return last;
    },
    idle: async () => {
      while (waiting) await queue;
    },
    runs: () => runs,
    result: () => last,
  };
}
