"""Screenshots of the browser page's three parts, taken in a headless Chromium: docs/img/web-*.

    python scripts/web_screenshots.py [--photo-model photo] [--out docs/img]

Writes a site of the bundled models the page can run (with ``--photo-model``, a bundled name or
a model directory, as the photo denoiser; default the bundled ``photo``), serves it with the
isolation headers, and drives the page as a visitor would: the pointer over the vae's latent
plane, a "2" drawn with the mouse, and a photograph the photo model did not train on
(scikit-image's ``chelsea.png``, from ``aeinfer data photos``) with Gaussian noise of σ 25
dropped on the photo part. Writes docs/img/web-{explorer,draw,photo}.png (optimised PNGs) and
prints each part's status line. Needs Chromium (``/usr/bin/chromium`` or ``$AEINFER_CHROMIUM``),
Playwright and the built ONNX Runtime Web (``node web/build.mjs``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from aeinfer.web import page_models, write_site
from aeinfer.web.static import serving

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("AEINFER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
TWO = [(82, 92), (96, 66), (128, 50), (166, 52), (192, 76), (192, 108), (168, 146), (126, 188),
       (84, 226), (150, 224), (214, 222)]  # fmt: skip
"""A "2" in the 280-pixel drawing pad's pixels."""
NOISE_SIGMA = 25
PHOTO = "chelsea.png"
SHOTS = ("web-explorer.png", "web-draw.png", "web-photo.png")


def noisy_photo(folder: Path) -> Path:
    """The held-out photo with seeded Gaussian noise of σ 25 (0–255 scale), as a PNG."""
    from aeinfer.train import photos

    with Image.open(photos.fetch() / PHOTO) as image:
        clean = np.asarray(image.convert("RGB"), np.float32)
    noise = np.random.default_rng(0).normal(0.0, NOISE_SIGMA, clean.shape)
    path = folder / "chelsea-noisy.png"
    Image.fromarray(np.clip(clean + noise + 0.5, 0, 255).astype(np.uint8)).save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo-model", default="photo")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="aeinfer-shots-") as tmp:
        work = Path(tmp)
        # The photo denoiser replaces a bundled model of its name (a directory may hold a
        # copy of `photo` with other parameters).
        denoiser = page_models([args.photo_model])[0]
        models: list[str | Path] = [c.name for c in page_models() if c.name != denoiser.name]
        models.append(Path(denoiser.directory))
        site = work / "site"
        write_site(site, models)
        photo = noisy_photo(work)
        with serving(site) as url, sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(work / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
                viewport={"width": 1100, "height": 900},
            )  # fmt: skip
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(url)
            page.wait_for_function("document.body.dataset.ready === 'yes'", timeout=60_000)

            data = json.loads((site / "data" / "vae-latent.json").read_text())
            z = data["codes"][2:4]  # the second test digit's code (a 2)
            scatter = page.locator("#explorer canvas.scatter")
            scatter.scroll_into_view_if_needed()
            box = scatter.bounding_box()
            scale = box["width"] / page.evaluate("document.querySelector('canvas.scatter').width")
            px, py = page.evaluate(f"aeinferPage.explorer.toPixel({json.dumps(z)})")
            # Wander over the plane first (the readout shows the median of recent decodes).
            page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.3)
            page.mouse.move(box["x"] + px * scale, box["y"] + py * scale, steps=40)
            page.evaluate("aeinferPage.explorer.idle()")
            page.locator("#explorer").screenshot(path=args.out / SHOTS[0])
            print("explorer:", page.inner_text("#explorer .readout"))

            page.locator("#draw").scroll_into_view_if_needed()
            if page.evaluate("aeinferPage.draw !== null"):  # else the part says why not
                pad = page.locator("#draw canvas.pad").bounding_box()
                ratio = pad["width"] / 280
                page.mouse.move(pad["x"] + TWO[0][0] * ratio, pad["y"] + TWO[0][1] * ratio)
                page.mouse.down()
                for x, y in TWO[1:]:
                    page.mouse.move(pad["x"] + x * ratio, pad["y"] + y * ratio, steps=6)
                page.mouse.up()
                page.evaluate("aeinferPage.draw.idle()")
            page.locator("#draw").screenshot(path=args.out / SHOTS[1])
            print("draw:", page.inner_text("#draw .status"))

            page.set_input_files("#photo input[type=file]", str(photo))
            page.wait_for_function("aeinferPage.photo.runs() > 0", timeout=300_000)
            page.locator("#photo").screenshot(path=args.out / SHOTS[2])
            print("photo:", page.inner_text("#photo .status"))
            context.close()
        if errors:
            raise SystemExit(f"console errors: {errors}")
    for name in SHOTS:
        path = args.out / name
        with Image.open(path) as shot:
            shot.load()
        shot.save(path, optimize=True)  # Chromium's PNGs are compressed lightly
        print(f"wrote {path} ({path.stat().st_size / 1000:.0f} KB)")


if __name__ == "__main__":
    main()
