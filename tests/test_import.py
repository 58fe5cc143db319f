"""Import hygiene: the runtime never pulls in torch/onnx, and ``--version`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import aeinfer

HEAVY_TRAINING = ("torch", "onnx", "onnxscript")
HEAVY_RUNTIME = ("numpy", "onnxruntime")


def _modules_after(code: str) -> set[str]:
    """Run ``code`` in a fresh interpreter and return the top-level modules it imported."""
    script = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_runtime_imports_leave_out_torch_and_onnx() -> None:
    modules = _modules_after(
        "import aeinfer\n"
        "aeinfer.load\n"
        "import aeinfer.model, aeinfer.session, aeinfer.zoo, aeinfer.cli, aeinfer.imageio, "
        "aeinfer.jobs"
    )
    # Sanity: the runtime modules were really imported (numpy comes with aeinfer.model).
    assert {"aeinfer", "numpy"} <= modules
    for heavy in HEAVY_TRAINING:
        assert heavy not in modules, f"importing the runtime imported {heavy}"


def test_plain_import_is_light() -> None:
    modules = _modules_after("import aeinfer")
    for heavy in (*HEAVY_TRAINING, *HEAVY_RUNTIME):
        assert heavy not in modules, f"`import aeinfer` imported {heavy}"


def test_cli_import_is_light() -> None:
    modules = _modules_after("import aeinfer.cli")
    for heavy in (*HEAVY_TRAINING, *HEAVY_RUNTIME):
        assert heavy not in modules, f"`import aeinfer.cli` imported {heavy}"


def test_version_flag_prints_version_without_heavy_imports() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aeinfer.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"aeinfer {aeinfer.__version__}"
    # -X importtime writes one line per imported module to stderr: "import time: ... | name".
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "typer" in imported  # the importtime log really is there
    for heavy in (*HEAVY_TRAINING, *HEAVY_RUNTIME):
        assert heavy not in imported, f"`aeinfer --version` imported {heavy}"


def test_version_matches_distribution_metadata() -> None:
    from importlib.metadata import version

    assert aeinfer.__version__ == version("aeinfer")


def test_version_entry_point_answers_before_the_cli_framework() -> None:
    # The console script (aeinfer.__main__:main) prints the version without importing Typer.
    modules = _modules_after(
        "import sys\nsys.argv = ['aeinfer', '--version']\nfrom aeinfer.__main__ import main\nmain()"
    )
    for heavy in ("typer", "pydantic", "rich", *HEAVY_TRAINING, *HEAVY_RUNTIME):
        assert heavy not in modules, f"`aeinfer --version` imported {heavy}"
    shown = subprocess.run(
        [sys.executable, "-m", "aeinfer", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"aeinfer {aeinfer.__version__}"


def test_installed_runtimes_agrees_with_importlib_metadata() -> None:
    from importlib.metadata import PackageNotFoundError, version

    from aeinfer.session import RUNTIME_DISTRIBUTIONS, installed_runtimes

    expected = {}
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            expected[name] = version(name)
        except PackageNotFoundError:
            continue
    assert installed_runtimes() == expected
