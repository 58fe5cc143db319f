// The page: ONNX Runtime Web configured, the site's models loaded from models/index.json, and
// the three sections started. Nothing runs on a server; nothing is fetched from elsewhere.
//
// window.aeinferPage is the page's scripting interface (the tests and scripts/bench_web.py use
// it): `ready` (a promise of the sections' interfaces), `runtime`, `models`, and per section
// `explorer`, `draw` and `photo` (null where the site has no model for it).

import { drawing } from "./draw.js";
import { explorer } from "./explorer.js";
import { photo } from "./photo.js";
import { configure, loadModels } from "./runtime.js";
import { fail, setText } from "./ui.js";

async function start() {
  const runtime = configure();
  const status = document.querySelector("#status");
  setText(
    status,
    `ONNX Runtime Web ${runtime.version}, WebAssembly SIMD, ${runtime.threads} thread(s)` +
      (runtime.isolated ? "" : " (the page is not cross-origin isolated: no threads)") +
      ". Everything runs in this page.",
  );
  const models = await loadModels();
  const page = { runtime, models: models.map((m) => m.name) };
  const sections = {
    explorer: [document.querySelector("#explorer"), explorer],
    draw: [document.querySelector("#draw"), drawing],
    photo: [document.querySelector("#photo"), photo],
  };
  for (const [name, [section, make]] of Object.entries(sections)) {
    page[name] = await make(section, models);
  }
  Object.assign(window.aeinferPage, page);
  document.body.dataset.ready = "yes";
  return page;
}

window.aeinferPage = {};
window.aeinferPage.ready = start();
window.aeinferPage.ready.catch(fail);
