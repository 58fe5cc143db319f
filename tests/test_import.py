"""Import hygiene: the runtime never pulls in torch/onnx or the train/export side, and the
command line starts light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import aeinfer

HEAVY_TRAINING = ("torch", "onnx", "onnxscript")
HEAVY_RUNTIME = ("numpy", "onnxruntime", "PIL")
RUNTIME_MODULES = (
    "api",
    "card",
    "model",
    "session",
    "zoo",
    "cli",
    "pictures",
    "signals",
    "jobs",
    "tasks",
    "adapters",
    "render",
    "plots",
    "inputs",
    "atomic",
    "scores",
    "mnist",
)
INFER = Path(aeinfer.__file__).resolve().parent
TRAINING_SIDE = ("aeinfer.train", "aeinfer.export")
# The only code of the runtime package allowed to import the training side: the commands of
# infer/cli.py that train, export and download (MNIST, photos), inside their function bodies.
CLI_FILE = "cli.py"
TRAINING_COMMANDS = frozenset({"train", "export_cmd", "data_download", "data_photos"})


def _imported_after(code: str) -> set[str]:
    """Run ``code`` in a fresh interpreter and return every module name it imported."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _modules_after(code: str) -> set[str]:
    """The top-level modules ``code`` imported in a fresh interpreter."""
    return {name.split(".")[0] for name in _imported_after(code)}


def _infer_modules() -> list[str]:
    """Every module of the runtime package, by its import name."""
    names = []
    for path in sorted(INFER.rglob("*.py")):
        parts = path.relative_to(INFER).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(("aeinfer", *parts)))
    return names


def _is_training_side(module: str) -> bool:
    return any(module == side or module.startswith(f"{side}.") for side in TRAINING_SIDE)


def _imported_names(node: ast.AST, package: str) -> list[str]:
    """The modules an import statement (or an ``importlib.import_module("...")`` /
    ``__import__("...")`` call with a literal name) in ``package`` may load."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from . import x, from ..card import y
            parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*parent, base] if base else parent)
        return [base, *(f"{base}.{alias.name}" for alias in node.names)]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def _training_imports(tree: ast.AST, package: str = "aeinfer") -> list[tuple[ast.AST, list[str]]]:
    """(node, enclosing function names, outermost first) of each import of the training side."""
    found: list[tuple[ast.AST, list[str]]] = []

    def visit(node: ast.AST, functions: list[str]) -> None:
        if any(_is_training_side(module) for module in _imported_names(node, package)):
            found.append((node, functions))
        inner = functions
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = [*functions, node.name]
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, [])
    return found


def test_runtime_imports_leave_out_torch_and_onnx() -> None:
    modules = ", ".join(f"aeinfer.{name}" for name in RUNTIME_MODULES)
    imported = _imported_after(f"import aeinfer\naeinfer.load\nimport {modules}")
    # Sanity: the runtime modules were really imported (numpy comes with aeinfer.model).
    assert {f"aeinfer.{name}" for name in RUNTIME_MODULES} <= imported
    assert "numpy" in imported
    tops = {name.split(".")[0] for name in imported}
    for heavy in HEAVY_TRAINING:
        assert heavy not in tops, f"importing the runtime imported {heavy}"


def test_no_runtime_module_imports_the_training_side_at_import_time() -> None:
    """Only the training commands of infer/cli.py import aeinfer.train or aeinfer.export, and
    only inside their bodies: the runtime installs and runs without torch and onnx."""
    files = sorted(INFER.rglob("*.py"))
    assert INFER / CLI_FILE in files and INFER / "model.py" in files
    allowed_in_cli: set[str] = set()
    for path in files:
        where = path.relative_to(INFER)
        package = ".".join(("aeinfer", *where.parent.parts))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, functions in _training_imports(tree, package):
            line = f"{where}:{getattr(node, 'lineno', '?')}"
            assert functions, f"{line}: module-level import of the training side"
            assert str(where) == CLI_FILE, f"{line}: imports the training side (in {functions})"
            assert functions[0] in TRAINING_COMMANDS, f"{line}: in {functions[0]}(), not a command"
            allowed_in_cli.add(functions[0])
    # The scan sees the imports it allows: the training commands really import the other side.
    assert {"train", "export_cmd"} <= allowed_in_cli


def test_the_scan_catches_training_imports() -> None:
    source = (
        "import aeinfer.train.trainer\n"
        "from aeinfer import export\n"
        "from aeinfer.card import read_card\n"
        "def command():\n"
        "    from aeinfer.export.checkpoint import export_checkpoint\n"
        "    def inner():\n"
        "        import aeinfer.train as t\n"
        "from . import train\n"
        "from .export import fixtures\n"
        "from .adapters import image\n"
        "importlib.import_module('aeinfer.export.variants')\n"
    )
    found = [(node.lineno, functions) for node, functions in _training_imports(ast.parse(source))]
    assert found == [
        (1, []),
        (2, []),
        (5, ["command"]),
        (7, ["command", "inner"]),
        (8, []),
        (9, []),
        (11, []),
    ]
    # In a subpackage, '..' reaches the package root.
    nested = ast.parse("from ..train import data\nfrom .. import card\n")
    assert [n.lineno for n, _ in _training_imports(nested, "aeinfer.adapters")] == [1]


def test_importing_every_runtime_module_loads_nothing_of_the_training_side() -> None:
    names = _infer_modules()
    assert {f"aeinfer.{name}" for name in RUNTIME_MODULES} <= set(names)
    assert "aeinfer.adapters.mnist_digit" in names
    imported = _imported_after("\n".join(f"import {name}" for name in names))
    assert set(names) <= imported
    training = sorted(name for name in imported if _is_training_side(name))
    assert not training, f"importing the runtime package loaded {training}"
    tops = {name.split(".")[0] for name in imported}
    for heavy in HEAVY_TRAINING:
        assert heavy not in tops, f"importing the runtime package imported {heavy}"


def test_plain_import_is_light() -> None:
    modules = _modules_after("import aeinfer")
    for heavy in (*HEAVY_TRAINING, *HEAVY_RUNTIME):
        assert heavy not in modules, f"`import aeinfer` imported {heavy}"


def test_cli_import_is_light() -> None:
    modules = _modules_after("import aeinfer.cli")
    assert "typer" in modules  # the command line itself was imported
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
