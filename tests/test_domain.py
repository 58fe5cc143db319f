"""The digit models' domain check, the refusals it makes, and ``aeinfer denoise``'s routing.

Every bundled digit model carries a calibrated check (its card's ``domain``); inputs outside it
are refused with one line naming a better model unless ``--force``, ``score`` flags them, and
``aeinfer denoise`` (no ``--model``) sends them to the photo denoiser. Large single digits come
back in their own ink and paper colours, with more detail than a median filter.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_error, invoke, ok, snapshot
from PIL import Image, ImageFilter

import aeinfer
from aeinfer import domain
from aeinfer.card import read_card
from aeinfer.errors import OutOfDomainError
from aeinfer.mnist import load_split
from aeinfer.zoo import MODELS_DIR, PHOTO_MODEL, bundled_names

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
DIGIT_MODELS = sorted(n for n in bundled_names() if read_card(MODELS_DIR / n).domain is not None)
NOT_DIGITS = sorted((EXAMPLES / "not-digits").iterdir())
DIGIT_PHOTOS = sorted((EXAMPLES / "digit-photos").iterdir())
NAVY, CREAM = (25, 35, 110), (238, 230, 205)


def test_every_mnist_model_has_a_domain_check() -> None:
    families = {read_card(MODELS_DIR / n).family for n in DIGIT_MODELS}
    assert families == {"dense", "sparse", "deep", "conv", "denoise", "lstm", "vae", "convt"}


@pytest.mark.parametrize("name", DIGIT_MODELS)
def test_digits_accepted_and_non_digits_refused(name: str, mnist_dir: Path) -> None:
    model = aeinfer.load(name)
    digits = load_split("test", mnist_dir).images[:200]
    scores = model.score([Image.fromarray(d) for d in digits])
    assert np.mean([s.in_domain for s in scores]) >= 0.98
    photos = model.score([Image.open(p) for p in DIGIT_PHOTOS])
    assert np.mean([s.in_domain for s in photos]) >= 0.9
    for path in NOT_DIGITS:
        with pytest.raises(OutOfDomainError, match="not one digit") as refused:
            model.reconstruct(Image.open(path))
        # The model to use instead travels with the error, across processes too (Ray).
        assert refused.value.instead == "photo"
        again = pickle.loads(pickle.dumps(refused.value))
        assert (str(again), again.instead) == (str(refused.value), "photo")


def test_refusal_is_one_line_naming_a_better_model(tmp_path: Path) -> None:
    page = tmp_path / "page.jpg"
    shutil.copy(EXAMPLES / "not-digits" / "digits-row.jpg", page)
    before = snapshot(tmp_path)
    result = invoke("denoise", page, "--model", "denoise")
    line = assert_one_error(result, "page.jpg", "--force")
    assert f"--model {PHOTO_MODEL}" in line
    assert snapshot(tmp_path) == before  # nothing written, the input untouched
    for command in (
        ("reconstruct", page, "--per-file"),
        ("encode", page, "-o", tmp_path / "z.npy"),
    ):
        assert_one_error(invoke(*command), "page.jpg", "--force")
    assert snapshot(tmp_path) == before


def test_force_runs_the_digit_model_anyway(tmp_path: Path) -> None:
    page = tmp_path / "page.jpg"
    shutil.copy(EXAMPLES / "not-digits" / "text.jpg", page)
    ok("denoise", page, "--model", "denoise", "--force", "-o", tmp_path / "out.png")
    assert Image.open(tmp_path / "out.png").size == Image.open(page).size


def test_score_flags_out_of_domain() -> None:
    result = ok("score", EXAMPLES / "not-digits" / "blank.jpg", "--model", "denoise")
    assert "out of domain" in result.stdout
    report = json.loads(
        ok("score", EXAMPLES / "not-digits" / "text.jpg", "--json", "-m", "vae").stdout
    )
    (row,) = report["scores"]
    assert row["in_domain"] is False and row["percentile"] is None


@pytest.mark.skipif(PHOTO_MODEL not in bundled_names(), reason="no photo model bundled")
def test_denoise_routes_each_file_to_its_model(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "noisy-7.png", tmp_path / "digit.png")
    shutil.copy(EXAMPLES / "not-digits" / "digits-row.jpg", tmp_path / "row.jpg")
    shutil.copy(DIGIT_PHOTOS[0], tmp_path / "photo-of-a-digit.jpg")
    report = json.loads(ok("denoise", tmp_path, "-o", tmp_path / "out", "--json").stdout)
    models = {Path(r["input"]).name: r["model"] for r in report["files"]}
    assert models == {
        "digit.png": "denoise",
        "row.jpg": PHOTO_MODEL,
        "photo-of-a-digit.jpg": "denoise",
    }
    for record in report["files"]:
        assert Image.open(record["output"]).size == Image.open(record["input"]).size
    # The Quickstart's digit comes out clean: the digit model, not the photo denoiser.
    plain = ok("denoise", tmp_path / "digit.png", "-o", tmp_path / "d.png")
    assert "(denoise)" in plain.stderr


@pytest.mark.skipif(PHOTO_MODEL not in bundled_names(), reason="no photo model bundled")
def test_routing_restores_only_what_it_keeps_and_holds_large_pictures_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A photo sent on to the photo denoiser is not restored by the digit model first (at a
    photo's size that restore was the peak of memory), and large pictures are prepared one
    chunk each (tasks.CHUNK_BYTES), in input order, a bad file among them."""
    from aeinfer import tasks
    from aeinfer.model import load_model

    digits = tasks.pipeline(load_model("denoise", device="cpu"))
    photos = tasks.pipeline(load_model(PHOTO_MODEL, device="cpu"))
    shutil.copy(EXAMPLES / "noisy-7.png", tmp_path / "a-digit.png")
    shutil.copy(NOT_DIGITS[0], tmp_path / "b-page.jpg")
    (tmp_path / "c-broken.png").write_bytes(b"not a picture")
    shutil.copy(DIGIT_PHOTOS[0], tmp_path / "d-digit-photo.jpg")
    sources = sorted(tmp_path.iterdir())

    restored: list[tuple[int, ...]] = []
    real_restore = type(digits.adapter).restore_denoised

    def counting(adapter, result, state):  # type: ignore[no-untyped-def]
        restored.append(result.shape)
        return real_restore(adapter, result, state)

    monkeypatch.setattr(type(digits.adapter), "restore_denoised", counting)
    runs: list[int] = []
    real_grouped = tasks._grouped

    def counting_runs(pipe, fn, ready, scale, in_place=False):  # type: ignore[no-untyped-def]
        runs.append(len(ready))
        return real_grouped(pipe, fn, ready, scale, in_place)

    monkeypatch.setattr(tasks, "_grouped", counting_runs)
    together = list(tasks.denoise_routed_each(digits, photos, sources))
    assert [o.label for o in together] == [str(p) for p in sources]
    assert [getattr(o, "model", None) for o in together] == [
        "denoise",
        PHOTO_MODEL,
        None,
        "denoise",
    ]
    assert isinstance(together[2], tasks.Failed) and "c-broken.png" in str(together[2].error)
    assert len(restored) == 2  # the two digits, not the page
    assert runs[0] == 3  # the digit model ran the three readable inputs in one chunk

    monkeypatch.setattr(tasks, "CHUNK_BYTES", 1)  # every input is "large": one per chunk
    runs.clear()
    apart = list(tasks.denoise_routed_each(digits, photos, sources))
    assert [o.label for o in apart] == [o.label for o in together]
    assert runs.count(1) == len(runs) and len(runs) == 4  # 3 digit runs + the page's photo run
    for a, b in zip(together, apart, strict=True):
        if isinstance(a, tasks.Done):  # a batch of three or one at a time: the same pictures
            diff = a.output.pixels.astype(int) - b.output.pixels.astype(int)
            assert a.output.pixels.shape == b.output.pixels.shape and np.abs(diff).max() <= 1


@pytest.mark.skipif(PHOTO_MODEL not in bundled_names(), reason="no photo model bundled")
def test_a_job_holds_one_outcome_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the next input is read, no earlier outcome is alive (each holds its picture, tensors
    and result: for 12 MP photos, hundreds of MB): a folder costs the memory of one file."""
    import gc

    from aeinfer import jobs, tasks
    from aeinfer.model import load_model

    digits = tasks.pipeline(load_model("denoise", device="cpu"))
    photos = tasks.pipeline(load_model(PHOTO_MODEL, device="cpu"))
    for name, source in (
        ("a.png", EXAMPLES / "noisy-7.png"),
        ("b.jpg", NOT_DIGITS[0]),
        ("c.jpg", NOT_DIGITS[1]),
        ("d.jpg", DIGIT_PHOTOS[0]),
    ):
        shutil.copy(source, tmp_path / name)
    alive: list[int] = []
    real_prepare = tasks._prepare

    def prepare(pipe, index, source, label):  # type: ignore[no-untyped-def]
        gc.collect()
        alive.append(sum(isinstance(o, tasks.Done) for o in gc.get_objects()))
        return real_prepare(pipe, index, source, label)

    monkeypatch.setattr(tasks, "_prepare", prepare)
    # Nor while a result is encoded: its outcome's tensors were let go of first (the routing's
    # generator held the photo's, 480 MB of a 40 MP photo during its PNG encoding).
    encoding: list[int] = []
    real_output_bytes = tasks.output_bytes

    def output_bytes(raw, suffix, label=""):  # type: ignore[no-untyped-def]
        gc.collect()
        encoding.append(sum(isinstance(o, tasks.Done) for o in gc.get_objects()))
        return real_output_bytes(raw, suffix, label)

    monkeypatch.setattr(tasks, "output_bytes", output_bytes)
    # One at a time: the chunk of a batchable model is then one input too.
    monkeypatch.setattr(tasks, "CHUNK_BYTES", 1)
    files = sorted(tmp_path.iterdir())
    report = jobs.map_files(digits, files, tmp_path / "out", "denoised", route=photos)
    assert report.processed == 4 and not report.failed
    assert len(alive) == 6 and alive == [0] * 6  # 4 digit preparations, 2 photo ones
    assert encoding == [0] * 4
    alive.clear()
    encoding.clear()
    report = jobs.map_files(photos, files, tmp_path / "out2", "denoised")
    assert report.processed == 4 and alive == [0] * 4 and encoding == [0] * 4


def large_digit(digit: np.ndarray, side: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """Navy pen strokes on cream paper, ``side`` pixels square, and the ink mask."""
    mask = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))
    alpha = np.clip((mask / 255.0 - 0.35) / 0.1, 0, 1)[..., None]
    page = np.array(CREAM, np.float64) * (1 - alpha) + np.array(NAVY, np.float64) * alpha
    return np.round(page).astype(np.uint8), alpha[..., 0]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_large_digit_keeps_its_colours_and_beats_a_median_filter(mnist_dir: Path) -> None:
    clean, alpha = large_digit(load_split("test", mnist_dir).images[0])
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).round().astype(np.uint8)
    out = np.asarray(aeinfer.load("denoise").denoise(Image.fromarray(noisy)))
    assert out.shape == clean.shape
    ink = np.median(out[alpha > 0.99].astype(float), axis=0)
    paper = np.median(out[alpha < 0.01].astype(float), axis=0)
    assert np.abs(ink - NAVY).max() < 20 and np.abs(paper - CREAM).max() < 6
    median = np.asarray(Image.fromarray(noisy).filter(ImageFilter.MedianFilter(5)))
    assert psnr(out, clean) > psnr(median, clean) + 1.0


def test_the_quickstart_digit_comes_back_with_smooth_edges(mnist_dir: Path) -> None:
    """σ 127 on 112 pixels: a 3×3 median of the input left its ragged edges and specks in the
    result (530 edge pixels against the clean 7's 360, 21.6 dB); the wider median paint
    chooses at this noise does not (400, 23.7 dB)."""
    seven = Image.fromarray(load_split("test", mnist_dir).images[0])  # what make_examples scales
    clean = np.asarray(seven.resize((112, 112), Image.Resampling.BICUBIC))
    out = np.asarray(aeinfer.load("denoise").denoise(EXAMPLES / "noisy-7.png"))

    def edges(page: np.ndarray) -> int:
        ink = page > 127
        return int((ink[:, 1:] != ink[:, :-1]).sum() + (ink[1:] != ink[:-1]).sum())

    assert out.shape == clean.shape
    assert edges(out) < 1.2 * edges(clean)
    assert psnr(out, clean) > 23.0


def test_ink_running_off_the_edge_is_not_a_digit() -> None:
    """A portrait's dark clothes: one dark mark on light, reaching the picture's bottom edge."""
    page = np.full((240, 200), 235, np.uint8)
    page[120:, 50:150] = 30  # shoulders to the bottom edge
    page[60:125, 80:120] = 40  # a head on them
    with pytest.raises(OutOfDomainError, match="runs off the picture's edge"):
        aeinfer.load("denoise").denoise(Image.fromarray(page))
    # The same figures at MNIST's own 28×28 are not gated: strokes there may touch the frame.
    small = np.asarray(Image.fromarray(page).resize((28, 28)))
    verdict = aeinfer.load("denoise").score(Image.fromarray(small))
    assert "edge" not in verdict.reason


MOON_THUMBNAIL = {
    "contrast": 0.145, "spread": 0.034, "marks": 0.0, "share": 0.0, "paper": 0.947, "ink": 0.002,
    "unevenness": 0.222, "fill": 0.0, "aspect": 0.0, "off_colour": 0.016, "edge": 0.0,
    "framed": 0.0, "mid_grey": 0.281, "reconstruction": -3.078,
}  # fmt: skip
"""The figures of scikit-image's moon shrunk to 150×100 and blurred (σ 2), as the denoise model
measured them: no mark at all, yet a calibrated score above the threshold."""


@pytest.mark.parametrize("name", [n for n in bundled_names() if read_card(MODELS_DIR / n).domain])
def test_a_picture_without_a_clear_mark_is_not_a_digit(name: str) -> None:
    check = read_card(MODELS_DIR / name).domain
    assert check is not None
    verdict = domain.judge(check, MOON_THUMBNAIL, contrast_floor=0.1)
    assert not verdict.in_domain and "no mark stands out" in verdict.reason
    faint = {**MOON_THUMBNAIL, "marks": 1.0, "share": 1.0, "contrast": domain.FAINT_MIN - 0.01}
    assert domain.gated(faint) and not domain.gated({**faint, "contrast": 0.5})
    # MNIST's own 28×28 frame is exempt: heavy noise can hide every mark of a real digit there.
    assert not domain.gated({**MOON_THUMBNAIL, "framed": 1.0})


def test_uneven_light_is_not_a_sheet_of_paper() -> None:
    """Sky darkening across the picture behind one dark subject (the cameraman)."""
    ys, xs = np.mgrid[0:256, 0:256]
    sky = 250 - 0.6 * ys - 0.2 * xs
    sky[90:170, 100:150] = 25  # a subject that does not reach the edge
    photo = np.clip(sky, 0, 255).astype(np.uint8)
    score = aeinfer.load("denoise").score(Image.fromarray(photo))
    assert score.in_domain is False and score.percentile is None
