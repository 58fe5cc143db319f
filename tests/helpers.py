"""Helpers the test modules share: running the command line in-process, and synthetic pictures
of the kind users bring (a thick "7" of dark ink on tinted paper).

Importable from any test module (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from typer.testing import CliRunner, Result

from aeinfer.cli import app

ERROR_PREFIX = "aeinfer: error:"
WIDTH, HEIGHT = 300, 200
SEVEN = [(105, 45), (195, 45), (135, 165)]

runner = CliRunner()


# --- the command line -----------------------------------------------------------------------------


def invoke(*args: object, stdin: bytes | None = None) -> Result:
    """Run the CLI in-process; no exception may escape, no traceback may be printed."""
    result = runner.invoke(app, [str(arg) for arg in args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    return result


def ok(*args: object, stdin: bytes | None = None) -> Result:
    result = invoke(*args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(ERROR_PREFIX)]


def assert_one_error(result: Result, *names: str) -> str:
    """Exit code 1, exactly one error line naming each of ``names``, nothing on stdout."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    for name in names:
        assert name in errors[0], errors[0]
    assert result.stdout_bytes == b""
    return errors[0]


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``, with file contents hashed."""
    return {
        str(path.relative_to(root)): "<dir>"
        if path.is_dir()
        else hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
    }


# --- pictures -------------------------------------------------------------------------------------


def ink_mask(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A thick "7" as a boolean (H, W) mask, True where the ink is."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    sx, sy = width / WIDTH, height / HEIGHT
    draw.line([(x * sx, y * sy) for x, y in SEVEN], fill=255, width=max(1, round(18 * sx)))
    return np.asarray(canvas) > 127


def dark_on_light() -> np.ndarray:
    """Grey levels in [0, 1]: dark ink on light paper with a gentle gradient and a little noise."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    values = 0.86 + 0.1 * xs / WIDTH + 0.03 * ys / HEIGHT
    values = np.clip(values + rng.normal(0.0, 0.02, (HEIGHT, WIDTH)), 0.0, 1.0)
    values[ink_mask()] = 0.08
    return values


def u8(values: np.ndarray) -> np.ndarray:
    return (np.clip(values, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def photo_rgb() -> np.ndarray:
    """An RGB "photo" (H, W, 3) uint8: warm-tinted paper, blue-black ink."""
    grey = dark_on_light()
    tint = np.stack([grey * 1.0, grey * 0.96, grey * 0.88], axis=-1)
    tint[ink_mask()] = (0.1, 0.1, 0.2)
    return u8(tint)


def icc_profile(space: bytes) -> bytes:
    """A header-only ICC profile (ICC.1:2010 §7.2) for the data colour ``space``, with a tag
    table of no tags and a marker of its own: enough for a file to carry, and to tell apart."""
    header = bytearray(128)
    header[0:4] = (132).to_bytes(4, "big")
    header[8:12] = bytes([4, 0x40, 0, 0])  # version 4.4
    header[12:16] = b"mntr"
    header[16:20] = space
    header[20:24] = b"XYZ "
    header[36:40] = b"acsp"
    header[100:116] = b"aeinfer-test-icc"  # the profile ID field: any 16 bytes
    return bytes(header) + bytes(4)


def tiled_copy(model: Path, folder: Path, tile: int) -> Path:
    """``folder``: a copy of the model directory ``model`` whose card runs it in tiles of
    ``tile`` pixels (the same graphs; a directory, as ``--model DIR`` takes). Its fixtures,
    made for the original card's parameters, are left out."""
    shutil.copytree(model, folder)
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    card["preparation"]["params"]["tile"] = tile
    (folder / "card.json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    (folder / "fixtures.json").unlink(missing_ok=True)
    return folder
