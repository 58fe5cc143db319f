"""The browser page: its preparation in JavaScript, its site, and the page in a real Chromium.

- The JavaScript preparation (``infer/web/page/js/prep.js``) reproduces every bundled model's
  ``fixtures.json`` — the digit models' (``mnist_digit``) and the ``photo`` model's (``tiles``)
  — within each file's tolerance, in node (``node --test web/test/``) and in the browser; on
  larger pictures than the fixtures hold it matches the Python adapters to float32 rounding,
  restoring denoised digits (``restore_denoised``) too, and its Pillow resampling matches
  Pillow's. The page implements aeinfer's newest ``mnist_digit`` and ``tiles`` (js/prep.js's
  ``VERSIONS``); it would leave newer digit models out, saying so.
- ``aeinfer web DIR`` writes a site (page, ONNX Runtime Web, fp32 graphs and cards, data) and
  keeps the one rule for existing files; ``aeinfer.web.assets()`` builds one for servers, or
  says in one line how to build ONNX Runtime Web.
- In a headless Chromium (Debian's, driven by Playwright, never downloaded) the page loads with
  no console errors, threaded when cross-origin isolated and single-threaded when not; the vae
  decoder in the page equals ONNX Runtime's in Python within 1e-4; a digit drawn with the mouse
  comes back as the command line's reconstruction and denoised digit; a photo denoised by the
  bundled ``photo`` model comes back as ``aeinfer denoise`` makes it, whole and in tiles (a copy
  of the model with 32-pixel tiles), within one 8-bit level (:data:`LEVELS`), and less noisy
  than it went in; the page says so when the site has no photo denoiser; and it is served by
  ``aeinfer serve`` too.

Browser tests skip, saying why, without Chromium, Playwright or the built ONNX Runtime Web
(``node web/build.mjs``); node tests skip without node. Tests never use the network.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import invoke, ok, photo_rgb, tiled_copy
from PIL import Image, ImageDraw

import aeinfer
from aeinfer.adapters.mnist_digit import MnistDigit
from aeinfer.adapters.tiles import Tiles
from aeinfer.web import (
    LATENT_DATA,
    WebAssetsMissing,
    assets,
    vendor_dir,
    write_site,
)
from aeinfer.web.static import serving

REPO = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
CHROMIUM = os.environ.get("AEINFER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DECODE_ATOL = 1e-4
LEVELS = 1
"""Page results against the command line's, in 8-bit levels: ONNX Runtime Web and ONNX Runtime
differ in float rounding (~1e-6), which moves a value across a rounding boundary now and then."""
TIGHT = {"prepared_atol": 1e-5, "restored_atol": 1}
"""Larger pictures than the fixtures hold, in JavaScript against Python: float32 rounding."""
FLATTEN = 0.25
"""A version-2 mnist_digit preparation's ``flatten``: openings a quarter of the ink grid wide."""
PAGE_TIMEOUT_MS = 60_000
DRAWN_MODELS = ("conv", "denoise")
PHOTO_MODEL = "photo"
PHOTO_SIZE = (127, 97)
"""The photo the page denoises in the tests (width, height): small, and odd both ways, so the
``tiles`` preparation pads it to the model's multiple of 2 and crops the result back."""
SMALL_TILE = 32
"""The ``tile`` of a copy of the photo model, so that the small photo is run in 16 windows of
32 + 2·30 pixels (the bundled 256 fits it in one)."""
B64 = """(bytes) => {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}"""


# --- what the page implements, the photo model --------------------------------------------------


def _page_versions() -> dict[str, int]:
    """The newest version of each preparation the page's JavaScript implements (js/prep.js)."""
    text = (REPO / "infer" / "web" / "page" / "js" / "prep.js").read_text(encoding="utf-8")
    block = re.search(r"VERSIONS = \{([^}]*)\}", text)
    assert block, "js/prep.js has no VERSIONS"
    return {name: int(v) for name, v in re.findall(r"(\w+): (\d+)", block.group(1))}


PAGE_VERSIONS = _page_versions()


def _photo_dir() -> Path:
    return Path(aeinfer.load(PHOTO_MODEL, device="cpu").card.directory)


@pytest.fixture(scope="module")
def tiled_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled photo model whose card runs it in tiles of :data:`SMALL_TILE` (the
    graphs are the bundled ones; a model directory, as ``--model DIR`` takes)."""
    return tiled_copy(_photo_dir(), tmp_path_factory.mktemp("web-models") / PHOTO_MODEL, SMALL_TILE)


def _noisy_photo(folder: Path) -> tuple[Path, np.ndarray]:
    """A small photo-like picture (smooth colour fields, hard-edged shapes) with Gaussian noise
    of σ 20, as a PNG; and the clean picture."""
    rng = np.random.default_rng(5)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    clean = coarse.resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(clean)
    draw.ellipse((20, 15, 70, 65), fill=(235, 200, 60))
    draw.rectangle((80, 50, 115, 90), fill=(30, 40, 110))
    pixels = np.asarray(clean, np.float64)
    noisy = np.clip(pixels + rng.normal(0.0, 20.0, pixels.shape) + 0.5, 0, 255).astype(np.uint8)
    path = folder / "photo.png"
    Image.fromarray(noisy).save(path)
    return path, pixels


# --- the JavaScript preparation in node ----------------------------------------------------------


def _picture_case(name: str, image: Image.Image, card: Any) -> dict[str, Any]:
    """A fixtures.json case computed by the Python adapter (as export/fixtures.py does)."""
    from aeinfer.adapters import adapter_for
    from aeinfer.export.fixtures import encode_array
    from aeinfer.pictures import read_picture

    def as_json(picture: Any) -> dict[str, Any]:
        pil = picture.to_pil()
        pixels = np.asarray(pil)
        return {"mode": pil.mode, "width": pil.width, "height": pil.height, **encode_array(pixels)}

    adapter = adapter_for(card)
    picture = read_picture(image, name)
    prepared, state = adapter.prepare(picture)
    return {
        "name": name,
        "input": as_json(picture),
        "prepared": encode_array(prepared.astype(np.float32)),
        "restored": as_json(adapter.restore(prepared, state)),
        # Not in the bundled fixtures: what `aeinfer denoise` writes (the page's denoised digit).
        "denoised": as_json(adapter.restore_denoised(prepared, state)),
    }


def _larger_pictures() -> list[tuple[str, Image.Image]]:
    """Pictures larger than the fixtures': what users draw and photograph."""
    rng = np.random.default_rng(7)
    ys, xs = np.mgrid[0:240, 0:320]
    shade = 0.45 + 0.5 * (xs / 320) * (1 - ys / 480)  # light from the top right
    lit = Image.fromarray(photo_rgb()).convert("L").resize((320, 240))
    lit = Image.fromarray((np.asarray(lit) * shade).astype(np.uint8))
    drawn = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(drawn).line([(60, 60), (220, 60), (120, 240)], fill=0, width=20)
    noisy = np.clip(photo_rgb().astype(np.int16) + rng.integers(-30, 30, (200, 300, 3)), 0, 255)
    big = Image.fromarray(photo_rgb()).resize((1001, 667), Image.Resampling.BICUBIC)
    rgba = Image.fromarray(photo_rgb()).convert("RGBA")
    rgba.putalpha(Image.fromarray((rng.random((200, 300)) * 255).astype(np.uint8)))
    ink = np.asarray(drawn, np.float64)[..., None] / 255  # 1 paper, 0 ink
    # Noise of σ 110 levels: the ink is located on a quieted (box-blurred) copy.
    grainy = np.clip(ink[..., 0] * 255 + rng.normal(0, 110, ink.shape[:2]), 0, 255)
    blue = ink * (200, 190, 150) + (1 - ink) * (50, 60, 190)  # blue ink on cream paper
    blue = np.clip(blue + rng.normal(0, 50, blue.shape), 0, 255)
    # The Quickstart's digit: σ 127 on 112 pixels, denoised through a 5×5 median (paint).
    quickstart = Image.open(REPO / "examples" / "noisy-7.png")
    return [
        ("drawn 280×280", drawn),
        ("very noisy drawing, grey, 280×280", Image.fromarray(grainy.astype(np.uint8))),
        ("the Quickstart's digit, σ 127, grey, 112×112", quickstart),
        ("noisy blue ink on cream, RGB, 280×280", Image.fromarray(blue.astype(np.uint8))),
        ("noisy photo, RGB, 300×200", Image.fromarray(noisy.astype(np.uint8))),
        ("large photo, RGB, 1001×667 (ink located on a shrunk copy)", big),
        ("photo with alpha, RGBA, 300×200", rgba),
        ("small ink, grey, 150×90", Image.fromarray(photo_rgb()).convert("L").resize((150, 90))),
        ("unevenly lit page, grey, 320×240", lit),
    ]


def _flattening(conv: Path) -> dict[str, Any]:
    """conv's card with its mnist_digit preparation removing uneven light (version 2 on)."""
    data = _explicit(conv)
    data["preparation"]["version"] = max(2, data["preparation"]["version"])
    data["preparation"]["params"]["flatten"] = FLATTEN
    return data


def _explicit(model: Path) -> dict[str, Any]:
    """A model's card as a site serves it: preparation parameters explicit (this aeinfer's
    defaults filled in)."""
    from aeinfer.card import read_card
    from aeinfer.web import explicit_params

    data = json.loads((model / "card.json").read_text())
    data["preparation"]["params"] = explicit_params(read_card(model))
    return data


@pytest.fixture(scope="module")
def larger_fixtures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """fixtures.json files of larger pictures, with a tight tolerance, for conv (as bundled,
    and removing uneven light) and the photo model. Each card names the version of the
    preparation this aeinfer's adapter is (the one that made the cases)."""
    from aeinfer.adapters import adapter_for
    from aeinfer.card import parse_card

    conv = Path(aeinfer.load("conv").card.directory)
    photo = _photo_dir()
    cards = [_explicit(conv), _flattening(conv), _explicit(photo)]
    made = []
    for data, directory in zip(cards, (conv, conv, photo), strict=True):
        card = parse_card(data, directory)
        data["preparation"]["version"] = type(adapter_for(card)).version
        card = parse_card(data, directory)
        folder = tmp_path_factory.mktemp(f"larger-{card.name}")
        (folder / "card.json").write_text(json.dumps(data), encoding="utf-8")
        cases = [_picture_case(name, image, card) for name, image in _larger_pictures()]
        data = {
            "format": 1,
            "model": card.name,
            "adapter": card.preparation.adapter,
            "version": card.preparation.version,
            "params": dict(card.preparation.params),
            "tolerance": TIGHT,
            "cases": cases,
        }
        (folder / "fixtures.json").write_text(json.dumps(data), encoding="utf-8")
        made.append(folder / "fixtures.json")
    return made


@dataclass(frozen=True)
class NodeRun:
    """``node --test web/test/`` over every bundled fixtures.json and the larger ones."""

    run: subprocess.CompletedProcess[str]
    expected: dict[str, int]
    """Cases per adapter in the fixtures given."""

    def results(self, adapter: str) -> list[tuple[bool, str, str]]:
        """(ok, test name, TODO reason or "") of each case of ``adapter``'s fixtures."""
        lines = re.findall(r"^(ok|not ok) \d+ - (.*?)(?: # TODO (.*))?$", self.run.stdout, re.M)
        return [(s == "ok", name, todo) for s, name, todo in lines if f"({adapter}):" in name]


@pytest.fixture(scope="module")
def node_run(larger_fixtures: list[Path]) -> NodeRun:
    if NODE is None:
        pytest.skip("node is not installed (the JavaScript tests need it)")
    files = [*sorted((REPO / "infer" / "models").glob("*/fixtures.json")), *larger_fixtures]
    expected: dict[str, int] = {}
    for path in files:
        fixtures = json.loads(path.read_text())
        adapter = fixtures["adapter"]
        expected[adapter] = expected.get(adapter, 0) + len(fixtures["cases"])
    env = {**os.environ, "AEINFER_FIXTURES": os.pathsep.join(str(p) for p in larger_fixtures)}
    run = subprocess.run(
        [str(NODE), "--test", "--test-reporter=tap", str(REPO / "web" / "test")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return NodeRun(run, expected)


def test_js_tiles_preparation_reproduces_every_fixture(node_run: NodeRun) -> None:
    """The photo model's fixtures and larger photos: no TODO, every case passes."""
    assert PAGE_VERSIONS["tiles"] >= Tiles.version
    run = node_run.run
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    results = node_run.results("tiles")
    assert len(results) == node_run.expected["tiles"] >= 12
    assert [name for passed, name, todo in results if not passed or todo] == []


def test_js_digit_preparation_reproduces_every_fixture(node_run: NodeRun) -> None:
    """The digit models' fixtures and larger drawings and photos of digits (restored, and
    restored denoised): no TODO, every case passes."""
    assert PAGE_VERSIONS["mnist_digit"] >= MnistDigit.version
    assert node_run.run.returncode == 0, node_run.run.stdout[-4000:]
    results = node_run.results("mnist_digit")
    assert len(results) == node_run.expected["mnist_digit"] >= 12
    failed = [f"{name}{f' (TODO: {todo})' if todo else ''}" for ok, name, todo in results
              if not ok or todo]  # fmt: skip
    assert failed == []


RESAMPLE_SCRIPT = """
import { resizePlane } from "./infer/web/page/js/resample.js";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map(({ values, width, height, size, resample }) =>
  Array.from(resizePlane(Float32Array.from(values), width, height, size[0], size[1], resample)));
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed (the JavaScript tests need it)")
def test_js_resampling_is_pillows() -> None:
    """Box and bicubic, shrinking, enlarging and both at once, on float planes."""
    from aeinfer.pictures import resize_plane

    rng = np.random.default_rng(3)
    cases = []
    for (w, h), size, resample in [
        ((280, 280), (64, 64), "box"),
        ((1001, 667), (64, 43), "box"),
        ((17, 23), (20, 20), "bicubic"),
        ((28, 28), (311, 311), "bicubic"),
        ((40, 30), (20, 45), "bicubic"),
        ((33, 33), (20, 20), "auto"),
    ]:
        values = rng.random((h, w), dtype=np.float32)
        cases.append((values, {"values": values.ravel().tolist(), "width": w, "height": h,
                               "size": size, "resample": resample}))  # fmt: skip
    run = subprocess.run(
        [str(NODE), "--input-type=module", "-e", RESAMPLE_SCRIPT],
        input=json.dumps([c for _, c in cases]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    for (values, case), out in zip(cases, json.loads(run.stdout), strict=True):
        expected = resize_plane(values, tuple(case["size"]), case["resample"])
        got = np.asarray(out, dtype=np.float32).reshape(expected.shape)
        assert np.abs(got - expected).max() <= 1e-6, case["size"]


# --- the site ------------------------------------------------------------------------------------


@pytest.fixture
def fake_vendor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-ins for ONNX Runtime Web's files (for tests that only write sites)."""
    folder = tmp_path / "vendor"
    folder.mkdir()
    for name in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"):
        (folder / name).write_bytes(b"// stand-in\n")
    (folder / "manifest.json").write_text('{"version": "0.0.0-test"}', encoding="utf-8")
    monkeypatch.setenv("AEINFER_WEB_VENDOR", str(folder))
    monkeypatch.setenv("AEINFER_WEB_CACHE", str(tmp_path / "cache"))
    return folder


def test_missing_runtime_is_one_line_saying_how_to_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEINFER_WEB_VENDOR", str(tmp_path / "empty"))
    with pytest.raises(WebAssetsMissing) as info:
        assets()
    assert isinstance(info.value, aeinfer.AeinferError)
    message = str(info.value)
    assert "node web/build.mjs" in message and "\n" not in message
    result = invoke("web", tmp_path / "site")
    assert result.exit_code == 1 and "node web/build.mjs" in result.stderr
    assert not (tmp_path / "site").exists()


def test_aeinfer_web_writes_a_site_and_keeps_the_one_rule(
    fake_vendor: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    result = ok("web", site)
    assert "Cross-Origin-Embedder-Policy: require-corp" in result.stderr
    assert "single-threaded" in result.stderr and "MB" in result.stderr
    for name in ("index.html", "style.css", "js/main.js", "js/prep.js", "data/vae-latent.json",
                 "vendor/ort-wasm-simd-threaded.wasm", "models/index.json"):  # fmt: skip
        assert (site / name).is_file(), name
    index = json.loads((site / "models" / "index.json").read_text())["models"]
    names = [entry["name"] for entry in index]
    assert {"vae", "conv", "denoise", PHOTO_MODEL} <= set(names)
    for entry in index:
        card = json.loads((site / entry["card"]).read_text())
        assert card["format_version"] == 2 and list(card["graphs"]) == ["fp32"]
        assert entry["adapter"] in ("mnist_digit", "tiles")
        bundled = aeinfer.load(entry["name"]).card
        for role in ("encoder", "decoder"):
            graph = site / "models" / entry["name"] / f"{role}.onnx"
            assert graph.read_bytes() == bundled.graph_path(role).read_bytes()
            assert card["graphs"]["fp32"][role]["sha256"] == bundled.graph_file(role).sha256
    assert not list(site.rglob("*.fp16.onnx")) and not list(site.rglob("fixtures.json"))
    # The photo model: its fp32 pair (about 1 MB each), its tiles preparation made explicit.
    photo = json.loads((site / "models" / PHOTO_MODEL / "card.json").read_text())
    assert photo["preparation"]["adapter"] == "tiles" and "denoise" in photo["tasks"]
    stated = json.loads(aeinfer.load(PHOTO_MODEL).card.directory.joinpath("card.json").read_text())
    # What the bundled card states (margin, tile, batch), plus the adapter's other defaults.
    assert photo["preparation"]["params"] == {
        **stated["preparation"]["params"], "pad": "symmetric", "paper": [1.0],
    }  # fmt: skip
    assert set(stated["preparation"]["params"]) == {"margin", "tile", "batch", "dihedral"}
    for role in ("encoder", "decoder"):
        assert 0.5e6 < (site / "models" / PHOTO_MODEL / f"{role}.onnx").stat().st_size < 1.5e6

    (site / "style.css").write_text("mine\n")
    result = ok("web", site)
    assert f"skipped {site / 'style.css'} (exists; pass --overwrite)" in result.stderr
    assert (site / "style.css").read_text() == "mine\n"
    assert "wrote 0 file(s)" in result.stderr
    ok("web", site, "--overwrite")
    assert (site / "style.css").read_bytes() == (REPO / "infer/web/page/style.css").read_bytes()


def test_aeinfer_web_takes_model_directories(
    fake_vendor: Path, tiled_photo: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    ok("web", site, "--model", "vae", "--model", tiled_photo)
    index = json.loads((site / "models" / "index.json").read_text())["models"]
    assert [(e["name"], e["adapter"]) for e in index] == [
        ("vae", "mnist_digit"), (PHOTO_MODEL, "tiles"),
    ]  # fmt: skip
    assert "denoise" in index[1]["tasks"]
    served = json.loads((site / index[1]["card"]).read_text())
    assert served["preparation"]["params"]["tile"] == SMALL_TILE  # the directory's card


def test_assets_are_cached_until_a_source_changes(fake_vendor: Path, tmp_path: Path) -> None:
    first = assets()
    assert (first / "index.html").is_file() and (first / "models" / "index.json").is_file()
    assert assets() == first
    (fake_vendor / "ort.wasm.min.mjs").write_bytes(b"// another build\n")
    second = assets()
    assert second != first and (second / "vendor" / "ort.wasm.min.mjs").read_bytes().startswith(
        b"// another"
    )
    # A server's models: those the page cannot run are left out, not an error.
    assert assets(["vae", "conv"]) != second


def test_latent_data_is_the_bundled_vaes(mnist_dir: Path) -> None:
    """The shipped scatter data: the vae's codes of the first MNIST test digits, their labels."""
    from aeinfer.mnist import load_split

    data = json.loads(LATENT_DATA.read_text())
    vae = aeinfer.load("vae", device="cpu")
    assert data["encoder_sha256"] == vae.card.graph_file("encoder").sha256
    assert LATENT_DATA.stat().st_size < 100_000
    split = load_split("test", mnist_dir)
    count = data["count"]
    assert count == len(data["labels"]) == len(data["codes"]) // 2 >= 2000
    assert data["labels"] == "".join(map(str, split.labels[:count]))
    codes = vae.encode(split.images[:count, None])
    step = 10.0 ** -data["decimals"]
    assert np.abs(codes.ravel() - np.asarray(data["codes"])).max() <= step / 2 + 1e-6


# --- the page in Chromium -------------------------------------------------------------------------


def _browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright; it drives the system Chromium)"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set AEINFER_CHROMIUM)"
    try:
        vendor_dir()
    except WebAssetsMissing:
        return "ONNX Runtime Web is not built (node web/build.mjs; needs node and npm)"
    return None


browser_test = pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium with a fresh profile, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": 1200, "height": 1000},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site with the vae, the digit models and the bundled photo denoiser."""
    folder = tmp_path_factory.mktemp("site")
    write_site(folder, ["vae", *DRAWN_MODELS, PHOTO_MODEL])
    return folder


class Page:
    """A loaded page and the console messages it printed."""

    def __init__(self, context: Any, url: str) -> None:
        self.page = context.new_page()
        self.messages: list[tuple[str, str]] = []
        self.page.on("console", lambda m: self.messages.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.messages.append(("pageerror", str(e))))
        self.page.goto(url)
        self.page.wait_for_function(
            "document.body.dataset.ready === 'yes' || "
            "document.querySelector('#status').classList.contains('error')",
            timeout=PAGE_TIMEOUT_MS,
        )
        ready = self.page.evaluate("document.body.dataset.ready")
        assert ready == "yes", (self.page.inner_text("#status"), self.messages)

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [(kind, text) for kind, text in self.messages if kind in ("error", "pageerror")]

    def evaluate(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)


@pytest.fixture(scope="module")
def page(browser: Any, site: Path) -> Iterator[Page]:
    with serving(site) as url:
        loaded = Page(browser, url)
        yield loaded
        loaded.page.close()


def _picture(result: dict[str, Any]) -> np.ndarray:
    """A page result {mode, bytes (base64), width, height} as an (H, W[, C]) array."""
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[result["mode"]]
    pixels = np.frombuffer(base64.b64decode(result["bytes"]), np.uint8)
    shape = (result["height"], result["width"], channels)
    return pixels.reshape(shape)[..., 0] if channels == 1 else pixels.reshape(shape)


@browser_test
def test_page_loads_threaded_without_console_errors(page: Page) -> None:
    runtime = page.evaluate("aeinferPage.runtime")
    assert runtime["isolated"] is True and runtime["threads"] >= 1
    assert runtime["version"] == json.loads((vendor_dir() / "manifest.json").read_text())["version"]
    assert page.evaluate("aeinferPage.models") == ["vae", *DRAWN_MODELS, PHOTO_MODEL]
    assert page.evaluate("crossOriginIsolated") is True
    assert "thread" in page.page.inner_text("#status")
    assert page.evaluate("document.querySelector('#photo select.model').value") == PHOTO_MODEL
    # Digit models whose preparation is newer than the page's are left out, and said so.
    newer = [
        name for name in DRAWN_MODELS
        if aeinfer.load(name).card.preparation.version > PAGE_VERSIONS["mnist_digit"]
    ]  # fmt: skip
    offered = page.evaluate("[...document.querySelectorAll('#draw select option')]"
                            ".map((o) => o.value)")  # fmt: skip
    assert not set(newer) & set(offered)
    note = page.page.inner_text("#draw .status")
    assert all(f"{name} (v" in note for name in newer) and ("Left out" in note) == bool(newer)
    assert page.errors == []


@browser_test
def test_page_runs_single_threaded_without_isolation(browser: Any, site: Path) -> None:
    with serving(site, isolation=False) as url:
        plain = Page(browser, url)
        try:
            runtime = plain.evaluate("aeinferPage.runtime")
            assert runtime == {**runtime, "isolated": False, "threads": 1}
            decoded = plain.evaluate("aeinferPage.explorer.decode([[0.5, -1.0]])")
            expected = aeinfer.load("vae", device="cpu").decode(np.array([[0.5, -1.0]], np.float32))
            assert np.abs(np.asarray(decoded) - expected.ravel()).max() <= DECODE_ATOL
            assert "not cross-origin isolated" in plain.page.inner_text("#status")
            assert plain.errors == []
        finally:
            plain.page.close()


@browser_test
def test_decoder_in_the_page_equals_python(page: Page) -> None:
    rng = np.random.default_rng(0)
    codes = np.concatenate([
        rng.normal(0, 1.5, (48, 2)),
        np.stack(np.meshgrid(np.linspace(-4, 4, 4), np.linspace(-4, 4, 4)), -1).reshape(-1, 2),
    ]).astype(np.float32)  # fmt: skip
    decoded = page.evaluate("(zs) => aeinferPage.explorer.decode(zs)", codes.tolist())
    expected = aeinfer.load("vae", device="cpu").decode(codes)
    got = np.asarray(decoded, np.float32).reshape(expected.shape)
    assert np.abs(got - expected).max() <= DECODE_ATOL
    # The pointer over the plane decodes the code under it.
    scatter = page.page.locator("#explorer canvas.scatter")
    scatter.scroll_into_view_if_needed()
    box = scatter.bounding_box()
    pixel = page.evaluate("aeinferPage.explorer.toPixel([1.0, -0.5])")
    scale = box["width"] / page.evaluate("document.querySelector('#explorer canvas.scatter').width")
    page.page.mouse.move(box["x"] + pixel[0] * scale, box["y"] + pixel[1] * scale)
    page.evaluate("aeinferPage.explorer.idle()")
    readout = page.page.inner_text("#explorer .readout")
    assert re.search(r"z = \((0\.9\d|1\.0\d), -0\.(4\d|5\d)\)", readout), readout
    assert page.errors == []


@browser_test
def test_drawn_digit_comes_back_as_the_cli_makes_it(page: Page, tmp_path: Path) -> None:
    pad = page.page.locator("#draw canvas.pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    scale = box["width"] / 280
    before = page.evaluate("aeinferPage.draw.runs()")
    mouse = page.page.mouse
    stroke = [(70, 60), (215, 62), (125, 235)]
    mouse.move(box["x"] + stroke[0][0] * scale, box["y"] + stroke[0][1] * scale)
    mouse.down()
    for x, y in stroke[1:]:
        mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=12)
    mouse.up()
    page.page.wait_for_function(f"aeinferPage.draw.runs() > {before}")
    page.evaluate("aeinferPage.draw.idle()")
    result = page.evaluate(
        f"""() => {{
          const b64 = {B64};
          const r = aeinferPage.draw.result();
          const out = {{ notes: r.notes }};
          for (const key of ["pad", "reconstruct", "denoise"]) {{
            out[key] = {{ ...r[key], bytes: b64(r[key].bytes), width: 280, height: 280 }};
          }}
          return out;
        }}"""
    )
    drawn = _picture(result["pad"])
    assert drawn.shape == (280, 280) and (drawn < 128).mean() > 0.03  # grey, inked by the mouse
    source = tmp_path / "drawn.png"
    Image.fromarray(drawn).save(source)

    pipe = aeinfer.load("conv", device="cpu").pipeline
    tensor, _ = pipe.adapter.prepare(pipe.read(source))
    seen = np.asarray(result["reconstruct"]["seen"], np.float32).reshape(tensor.shape)
    assert np.abs(seen - tensor).max() <= TIGHT["prepared_atol"]

    ok("reconstruct", source, "--per-file", "-o", tmp_path / "pair.png", "--model", "conv",
       "--device", "cpu")  # fmt: skip
    ok("denoise", source, "-o", tmp_path / "denoised.png", "--device", "cpu")
    pair = np.asarray(Image.open(tmp_path / "pair.png"))
    cli = {
        "reconstruct": pair[:, 280:],
        "denoise": np.asarray(Image.open(tmp_path / "denoised.png")),
    }
    for task in ("reconstruct", "denoise"):
        got = _picture(result[task]).astype(int)
        assert got.shape == cli[task].shape
        assert np.abs(got - cli[task]).max() <= LEVELS, task
        assert (got < 128).mean() > 0.02  # a digit came back, not blank paper
    assert page.errors == []


def _denoise_in_page(page: Page, photo: Path) -> dict[str, Any]:
    """Drop ``photo`` on the page's photo part (its file input) and wait for the result."""
    before = page.evaluate("aeinferPage.photo.runs()")
    page.page.set_input_files("#photo input[type=file]", str(photo))
    page.page.wait_for_function(f"aeinferPage.photo.runs() > {before}", timeout=PAGE_TIMEOUT_MS)
    page.evaluate("aeinferPage.photo.idle()")
    return dict(
        page.evaluate(
            f"() => {{ const r = aeinferPage.photo.result(); "
            f"return {{ ...r, bytes: ({B64})(r.bytes) }}; }}"
        )
    )


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


@browser_test
def test_photo_is_denoised_as_the_cli_does(page: Page, tmp_path: Path) -> None:
    """The bundled photo model in the page: ``aeinfer denoise``'s result within one level."""
    photo, clean = _noisy_photo(tmp_path)
    result = _denoise_in_page(page, photo)
    assert result["model"] == PHOTO_MODEL and result["windows"] == 1  # one window: 127×97
    ok("denoise", photo, "-o", tmp_path / "cli.png", "--model", PHOTO_MODEL, "--device", "cpu")
    cli = np.asarray(Image.open(tmp_path / "cli.png")).astype(int)
    got = _picture(result)
    assert got.shape == cli.shape == (PHOTO_SIZE[1], PHOTO_SIZE[0], 3)
    assert np.abs(got - cli).max() <= LEVELS
    noisy = np.asarray(Image.open(photo))
    assert _psnr(got, clean) > _psnr(noisy, clean) + 4  # denoised (+5.7 dB): a model ran
    assert "s per megapixel" in page.page.inner_text("#photo .status")
    assert page.page.locator("#photo a.download").is_visible()
    assert page.errors == []


@browser_test
def test_photo_is_denoised_in_tiles_as_the_cli_does(
    browser: Any, tiled_photo: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """The photo model with 32-pixel tiles: 16 windows in four calls of four, with a progress
    bar, as ``aeinfer denoise`` runs them; and seamless: the whole photo's result."""
    folder = tmp_path_factory.mktemp("site-tiled")
    write_site(folder, [tiled_photo])
    photo, _ = _noisy_photo(tmp_path)
    with serving(folder) as url:
        tiled = Page(browser, url)
        try:
            tiled.page.evaluate(
                "() => { window.progress = []; const bar = document.querySelector('#photo "
                "progress'); new MutationObserver(() => window.progress.push(bar.value))"
                ".observe(bar, { attributes: true }); }"
            )
            result = _denoise_in_page(tiled, photo)
            seen = tiled.evaluate("window.progress")
            assert tiled.errors == []
        finally:
            tiled.page.close()
    assert result["model"] == PHOTO_MODEL and result["windows"] == 16
    ok("denoise", photo, "-o", tmp_path / "cli.png", "--model", tiled_photo, "--device", "cpu")
    ok("denoise", photo, "-o", tmp_path / "whole.png", "--model", PHOTO_MODEL, "--device", "cpu")
    got = _picture(result)
    for name in ("cli.png", "whole.png"):
        cli = np.asarray(Image.open(tmp_path / name)).astype(int)
        assert got.shape == cli.shape and np.abs(got - cli).max() <= LEVELS, name
    assert {0.25, 0.5, 0.75, 1.0} <= set(seen)  # the progress bar, after each call


@browser_test
def test_photo_ensemble_in_the_page_is_the_cli_ensemble(page: Page, tmp_path: Path) -> None:
    """The page's "average the 8 flips and rotations" (offered because the card says
    ``dihedral``) gives what ``aeinfer denoise --ensemble`` gives, within one level."""
    photo, _ = _noisy_photo(tmp_path)
    box = page.page.locator("#photo input.ensemble")
    assert box.is_visible()
    box.check()
    try:
        result = _denoise_in_page(page, photo)
    finally:
        box.uncheck()
    assert result["model"] == PHOTO_MODEL and result["ensemble"] is True
    assert "8 flips and rotations averaged" in page.page.inner_text("#photo .status")
    for name, extra in (("ensemble.png", ["--ensemble"]), ("single.png", [])):
        ok("denoise", photo, "-o", tmp_path / name, "--model", PHOTO_MODEL, "--device", "cpu",
           *extra)  # fmt: skip
    got = _picture(result)
    averaged = np.asarray(Image.open(tmp_path / "ensemble.png")).astype(int)
    single = np.asarray(Image.open(tmp_path / "single.png")).astype(int)
    assert np.abs(got - averaged).max() <= LEVELS
    assert np.abs(got - single).max() > LEVELS  # the eight passes did change the result
    assert page.errors == []


def _fixtures_in_the_browser(page: Page, adapter: str) -> None:
    """Every bundled fixtures.json of ``adapter``, prepared and restored in the page."""
    files = [
        path for path in sorted((REPO / "infer" / "models").glob("*/fixtures.json"))
        if json.loads(path.read_text())["adapter"] == adapter
    ]  # fmt: skip
    assert files
    checked = 0
    for path in files:
        fixtures = json.loads(path.read_text())
        card = json.loads((path.parent / "card.json").read_text())
        worst = page.evaluate(
            """async ([fixtures, card]) => {
              const prep = await import("./js/prep.js");
              const decode = (e) => {
                const raw = Uint8Array.from(atob(e.data), (c) => c.charCodeAt(0)).buffer;
                return e.dtype === "float32" ? new Float32Array(raw) : new Uint8Array(raw);
              };
              const diff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
              const adapter = prep.adapterFor(card);
              let prepared = 0, restored = 0;
              for (const c of fixtures.cases) {
                const picture = prep.pictureFromMode(c.input.mode, c.input.width, c.input.height,
                                                     decode(c.input));
                const { tensor, shape, state } = adapter.prepare(picture);
                prepared = Math.max(prepared, diff(tensor, decode(c.prepared)));
                const back = prep.pictureBytes(adapter.restore(decode(c.prepared), shape, state));
                if (back.mode !== c.restored.mode) return { mode: back.mode };
                restored = Math.max(restored, diff(back.bytes, decode(c.restored)));
              }
              return { prepared, restored };
            }""",
            [fixtures, card],
        )
        tolerance = fixtures["tolerance"]
        assert worst["prepared"] <= tolerance["prepared_atol"], (path, worst)
        assert worst["restored"] <= tolerance["restored_atol"], (path, worst)
        checked += len(fixtures["cases"])
    assert checked >= 6 * len(files)
    assert page.errors == []


@browser_test
def test_js_tiles_preparation_in_the_browser_reproduces_every_fixture(page: Page) -> None:
    _fixtures_in_the_browser(page, "tiles")


@browser_test
def test_js_digit_preparation_in_the_browser_reproduces_every_fixture(page: Page) -> None:
    _fixtures_in_the_browser(page, "mnist_digit")


@browser_test
def test_page_says_so_when_the_site_has_no_photo_denoiser(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("site-without-photo")
    write_site(folder, ["vae", "conv", "denoise"])
    with serving(folder) as url:
        plain = Page(browser, url)
        try:
            status = plain.page.inner_text("#photo .status")
            assert "No photo denoiser" in status and "tiles" in status
            assert plain.evaluate("aeinferPage.photo") is None
            assert not plain.page.locator("#photo input[type=file]").is_visible()
            assert plain.errors == []
        finally:
            plain.page.close()


# --- through aeinfer serve ------------------------------------------------------------------------


def _serve_missing() -> str | None:
    if _browser_missing():
        return _browser_missing()
    if any(importlib.util.find_spec(m) is None for m in ("starlette", "uvicorn")):
        return "aeinfer serve needs aeinfer[serve] (starlette, uvicorn)"
    return None


def _wait_until_served(url: str, timeout: float = 30.0) -> None:
    """Wait until the server answers (it prints its address before it listens)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
                return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.skipif(_serve_missing() is not None, reason=str(_serve_missing()))
def test_page_through_aeinfer_serve(browser: Any, tmp_path: Path) -> None:
    """``aeinfer serve`` serves the page at / with the isolation headers; the page runs the
    server's models in the browser."""
    env = {**os.environ, "AEINFER_WEB_CACHE": str(tmp_path / "cache")}
    names = ("vae", "conv", "denoise", PHOTO_MODEL)
    models = [part for name in names for part in ("--model", name)]
    command = [sys.executable, "-m", "aeinfer", "serve", "--port", "0", "--device", "cpu", *models]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        deadline = time.monotonic() + 60
        lines = []
        while url is None and time.monotonic() < deadline:
            line = server.stderr.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
            match = re.search(r"on (http://\S+/)", line)
            url = match.group(1) if match else None
        assert url, "".join(lines)
        assert not any("no web page" in line for line in lines), "".join(lines)
        _wait_until_served(url)
        served = Page(browser, url)
        try:
            assert served.evaluate("crossOriginIsolated") is True
            assert set(names) <= set(served.evaluate("aeinferPage.models"))
            assert served.evaluate("aeinferPage.photo") is not None
            decoded = served.evaluate("aeinferPage.explorer.decode([[1.0, 2.0]])")
            expected = aeinfer.load("vae", device="cpu").decode(np.array([[1.0, 2.0]], np.float32))
            assert np.abs(np.asarray(decoded) - expected.ravel()).max() <= DECODE_ATOL
            assert served.errors == []
        finally:
            served.page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
