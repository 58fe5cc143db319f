"""The browser page's speed against native ONNX Runtime: a vae decode, and a photo denoised.

    python scripts/bench_web.py [--photo-model photo] [--decodes 300] [--width 1200 --height 834]

Serves a site (the vae and the photo denoiser: the bundled ``photo``, or ``--photo-model``, a
bundled name or a model directory) to a headless Chromium and measures, in the page,
the time of one decode of one code by the vae decoder (``aeinferPage.explorer.decode``: tensor
in, tensor out; ``--decodes`` of them timed in blocks, the median block's mean) and of denoising
a ``width``×``height`` photo through the ``tiles`` preparation (prepare, tiled encoder+decoder,
restore; the median of ``--repeats`` after a warm-up), as seconds per megapixel. The same work
is timed natively through
``aeinfer.load`` (``Model.decode`` of one code, ``denoise`` of the photo as a Pillow image),
interleaved with the browser's. Each side runs with two threads (the page cross-origin isolated)
and with one (the page without COOP/COEP; natively the process pinned to one core with
``taskset``, as ONNX Runtime's pool follows the usable cores).

The photo is a smooth random colour field (the timing does not depend on the content). Prints a
Markdown table and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aeinfer.web import vendor_info, write_site
from aeinfer.web.static import serving

CHROMIUM = os.environ.get("AEINFER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

NATIVE = r"""
import json, statistics, sys, time
import numpy as np
from PIL import Image
import aeinfer
photo_model, photo, decodes, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
vae = aeinfer.load("vae", device="cpu").model
codes = [np.array([[np.sin(i), np.cos(i)]], np.float32) for i in range(decodes)]
times = []
for block in range(12):
    start = time.perf_counter()
    for z in codes[block * decodes // 12 : (block + 1) * decodes // 12]:
        vae.decode(z)
    times.append((time.perf_counter() - start) / (decodes // 12))
model = aeinfer.load(photo_model, device="cpu")
image = Image.open(photo)
image.load()
model.denoise(image)
runs = []
for _ in range(repeats):
    start = time.perf_counter()
    model.denoise(image)
    runs.append(time.perf_counter() - start)
print(json.dumps({"decode_ms": statistics.median(times[2:]) * 1e3,
                  "denoise_s": statistics.median(runs)}))
"""

PAGE_DECODES = """async (n) => {
  const size = Math.floor(n / 12);
  const times = [];
  for (let block = 0; block < 12; block++) {
    const start = performance.now();
    for (let i = block * size; i < (block + 1) * size; i++) {
      await aeinferPage.explorer.decode([[Math.sin(i), Math.cos(i)]]);
    }
    times.push((performance.now() - start) / size);
  }
  return times.slice(2);
}"""
"""Decodes in 12 blocks, timed per block (the page's clock is coarse without isolation), the
first two blocks a warm-up."""


def machine() -> str:
    cpu = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()}"


def native(
    model: str, photo: Path, decodes: int, repeats: int, cores: str | None
) -> dict[str, Any]:
    command = [sys.executable, "-c", NATIVE, model, str(photo), str(decodes), str(repeats)]
    if cores is not None:
        command = ["taskset", "-c", cores, *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def in_page(
    context: Any, site: Path, photo: Path, decodes: int, repeats: int, *, isolation: bool
) -> dict[str, Any]:
    with serving(site, isolation=isolation) as url:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("document.body.dataset.ready === 'yes'", timeout=60_000)
        threads = page.evaluate("aeinferPage.runtime.threads")
        times = page.evaluate(PAGE_DECODES, decodes)
        runs, inference = [], []
        for index in range(repeats + 1):
            page.set_input_files("#photo input[type=file]", str(photo))
            page.wait_for_function(f"aeinferPage.photo.runs() > {index}", timeout=600_000)
            if index:  # the first is a warm-up
                result = page.evaluate("aeinferPage.photo.result()")
                runs.append(result["seconds"])
                inference.append(result["run_seconds"])
            page.set_input_files("#photo input[type=file]", [])
        page.close()
    return {
        "threads": threads,
        "decode_ms": statistics.median(times),
        "denoise_s": statistics.median(runs),
        "tiles_inference_s": statistics.median(inference),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo-model", default="photo")
    parser.add_argument("--decodes", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=834)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="aeinfer-bench-web-") as tmp:
        work = Path(tmp)
        model = args.photo_model
        site = work / "site"
        write_site(site, ["vae", model])
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (args.height // 8, args.width // 8, 3), dtype=np.uint8)
        photo = work / "photo.png"
        Image.fromarray(pixels).resize((args.width, args.height), Image.Resampling.BICUBIC).save(
            photo
        )
        megapixels = args.width * args.height / 1e6
        results: dict[str, dict[str, Any]] = {}
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(work / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
            )
            # Interleaved: native, page, native, page — 2 threads, then 1.
            results["native, 2 threads"] = native(
                str(model), photo, args.decodes, args.repeats, None
            )
            results["page, 2 threads"] = in_page(
                context, site, photo, args.decodes, args.repeats, isolation=True
            )
            results["native, 1 thread"] = native(str(model), photo, args.decodes, args.repeats, "0")
            results["page, 1 thread"] = in_page(
                context, site, photo, args.decodes, args.repeats, isolation=False
            )
            version = context.browser.version if context.browser else "?"
            context.close()
    name = model
    print(f"machine: {machine()}; Chromium {version}; ONNX Runtime Web "
          f"{vendor_info().get('version', '?')} (WASM SIMD)")  # fmt: skip
    print(f"photo: {args.width}×{args.height} ({megapixels:.2f} MP), model {name}\n")
    print("| | vae decode, 1 code | × native | denoise, s per megapixel | × native |")
    print("|---|---:|---:|---:|---:|")
    for threads in ("2 threads", "1 thread"):
        base = results[f"native, {threads}"]
        for side in ("native", "page"):
            row = results[f"{side}, {threads}"]
            per_mp = row["denoise_s"] / megapixels
            print(f"| {side}, {threads} | {row['decode_ms']:.3f} ms | "
                  f"{row['decode_ms'] / base['decode_ms']:.1f}× | {per_mp:.2f} s | "
                  f"{row['denoise_s'] / base['denoise_s']:.1f}× |")  # fmt: skip
    for threads in ("2 threads", "1 thread"):
        row = results[f"page, {threads}"]
        share = 1 - row["tiles_inference_s"] / row["denoise_s"]
        print(
            f"\npage, {threads}: the JavaScript preparation and restore take {share:.0%} of "
            "the denoise time, the tiled encoder+decoder the rest",
            end="",
        )
    print("\n\n" + json.dumps(results))


if __name__ == "__main__":
    main()
