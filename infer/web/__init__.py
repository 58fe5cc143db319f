"""The browser page: ONNX Runtime Web runs the models' graphs in the page, none on a server.

A *site* is a folder of static files any web server can serve:

- ``index.html``, ``style.css``, ``js/*.js`` — the page (``infer/web/page/`` in the package):
  the vae's latent explorer, a digit drawn with the mouse or a finger and its reconstruction and
  denoised version, and a photo denoised in tiles;
- ``data/vae-latent.json`` — the bundled vae's codes of 3000 MNIST test digits with their labels
  (``scripts/web_data.py``), the explorer's scatter;
- ``vendor/`` — ONNX Runtime Web's ES module and its SIMD-threaded WASM (14 MB). They are built
  from the npm registry by ``node web/build.mjs`` (pinned by ``web/package-lock.json``) into the
  git-ignored ``infer/web/vendor/``, or any folder ``$AEINFER_WEB_VENDOR`` names; they are in
  neither the repository nor the wheel;
- ``models/index.json`` and ``models/NAME/{card.json, encoder.onnx, decoder.onnx}`` — the
  models the page may run (fp32 graphs; cards in format 2): by default every bundled image model
  whose preparation the page implements (``mnist_digit``, ``tiles``).

The page prepares inputs in JavaScript from each card's ``preparation`` (``js/prep.js``), checked
against the Python adapters with every model's ``fixtures.json``.

:func:`assets` gives a site ready to serve — built once into a per-user cache and reused until
any of its sources changes — or raises :class:`~aeinfer.errors.WebAssetsMissing` saying how to
build the vendored files. :func:`write_site` writes one into a folder (``aeinfer web DIR``),
never replacing a file that differs without ``overwrite``. Threads in the page need
cross-origin isolation: serve with :data:`ISOLATION_HEADERS` (:mod:`aeinfer.web.static` is a
small static server that does); without them the page runs single-threaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aeinfer.errors import CapabilityError, InputError, OutputError, WebAssetsMissing
from aeinfer.names import CARD_FILE, FP32

HERE = Path(__file__).resolve().parent
PAGE_DIR = HERE / "page"
"""The page's own files (HTML, CSS, JavaScript, data), shipped in the package."""
VENDOR_DIR = HERE / "vendor"
"""Where ``node web/build.mjs`` puts ONNX Runtime Web (git-ignored, not in the wheel)."""
VENDOR_ENV = "AEINFER_WEB_VENDOR"
CACHE_ENV = "AEINFER_WEB_CACHE"
VENDOR_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
"""ONNX Runtime Web's WASM-only ES module, its Emscripten loader and the SIMD-threaded binary:
all the page needs. The WebGPU build (28 MB more) is left out."""
VENDOR_MANIFEST = "manifest.json"
BUILD_HINT = (
    "the page's ONNX Runtime Web files are not built: run `node web/build.mjs` in an aeinfer "
    f"checkout (needs node and npm), or set {VENDOR_ENV} to a folder holding them"
)
PAGE_ADAPTERS = ("mnist_digit", "tiles")
"""Preparations the page implements in JavaScript (js/prep.js)."""
LATENT_MODEL = "vae"
LATENT_DATA = PAGE_DIR / "data" / "vae-latent.json"
MODELS = "models"
INDEX = "index.json"
VENDOR = "vendor"
GROUPS = ("page", "runtime", "models", "data")
SITE_PREFIX = "site-"
COMPLETE = ".complete"
STALE_SECONDS = 24 * 3600
"""Cached sites unused for this long are removed when a new one is built."""
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
"""Headers that make the page cross-origin isolated, so ONNX Runtime Web may use threads."""


def vendor_dir() -> Path:
    """The folder holding ONNX Runtime Web's files: ``$AEINFER_WEB_VENDOR``, else the
    package's ``vendor/``; :class:`WebAssetsMissing` when a file is missing."""
    env = os.environ.get(VENDOR_ENV)
    folder = Path(env).expanduser() if env else VENDOR_DIR
    missing = [name for name in VENDOR_FILES if not (folder / name).is_file()]
    if len(missing) == len(VENDOR_FILES):
        raise WebAssetsMissing(f"{BUILD_HINT} (none in {folder})")
    if missing:
        raise WebAssetsMissing(f"{BUILD_HINT} ({folder} lacks {', '.join(missing)})")
    return folder


def vendor_info() -> dict[str, Any]:
    """What ``web/build.mjs`` recorded about the vendored files (version, sizes), or {}."""
    path = vendor_dir() / VENDOR_MANIFEST
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return {}


# --- which models ---------------------------------------------------------------------------------


def _page_can_run(card: Any) -> bool:
    return card.modality == "image" and card.preparation.adapter in PAGE_ADAPTERS


def page_models(models: Iterable[str | Path] | None = None, *, strict: bool = True) -> list[Any]:
    """The cards of the models a site carries: ``models`` (bundled names or model directories),
    else every bundled model the page can run. A named model the page cannot run is an error,
    or with ``strict=False`` left out."""
    from aeinfer.card import read_card
    from aeinfer.zoo import bundled_names, resolve

    if models is None:
        cards = [read_card(resolve(name)) for name in bundled_names()]
        return [card for card in cards if _page_can_run(card)]
    cards = [read_card(resolve(model)) for model in models]
    if not strict:
        cards = [card for card in cards if _page_can_run(card)]
    seen: set[str] = set()
    for card in cards:
        if not _page_can_run(card):
            raise CapabilityError(
                f"model {card.name!r}: the page runs image models prepared by "
                f"{' or '.join(PAGE_ADAPTERS)}, not {card.modality} ({card.preparation.adapter})"
            )
        if card.name in seen:
            raise InputError(f"model {card.name!r} given twice (a site holds one per name)")
        seen.add(card.name)
    return cards


# --- the files of a site --------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteFile:
    """One file of a site: its path in the site, and its bytes or the file they come from."""

    path: str
    group: str
    """One of GROUPS: how sizes are reported."""
    source: Path | None = None
    data: bytes | None = None

    def _file(self) -> Path:
        if self.source is None:
            raise ValueError(f"{self.path}: neither bytes nor a source file")
        return self.source

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self._file().stat().st_size

    def read(self) -> bytes:
        return self.data if self.data is not None else self._file().read_bytes()

    def stamp(self) -> str:
        """What changes when the file's content may have: size and mtime, or a hash."""
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        stat = self._file().stat()
        return f"{self.source}:{stat.st_size}:{stat.st_mtime_ns}"


def explicit_params(card: Any) -> dict[str, Any]:
    """The card's preparation parameters as this aeinfer's adapter reads them, defaults filled
    in: what the page's JavaScript is given, so that it never relies on defaults of its own."""
    from aeinfer.adapters import adapter_for

    params = dataclasses.asdict(adapter_for(card).params)
    return {key: list(v) if isinstance(v, tuple) else v for key, v in params.items()}


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def site_files(
    models: Iterable[str | Path] | None = None, *, strict: bool = True
) -> list[SiteFile]:
    """Every file of a site (see the module docstring) for :func:`page_models`; raises
    WebAssetsMissing without the vendored ONNX Runtime Web."""
    vendor = vendor_dir()
    files: list[SiteFile] = []
    for path in sorted(PAGE_DIR.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            relative = path.relative_to(PAGE_DIR).as_posix()
            group = "data" if relative.startswith("data/") else "page"
            files.append(SiteFile(relative, group, source=path))
    for name in (*VENDOR_FILES, VENDOR_MANIFEST):
        if (vendor / name).is_file():
            files.append(SiteFile(f"{VENDOR}/{name}", "runtime", source=vendor / name))
    index = []
    for card in page_models(models, strict=strict):
        base = f"{MODELS}/{card.name}"
        graphs = {}
        for role in ("encoder", "decoder"):
            graph = card.graph_file(role, FP32)
            graphs[role] = f"{role}.onnx"
            files.append(SiteFile(f"{base}/{role}.onnx", "models", source=card.graph_path(role)))
            if graph.bytes != card.graph_path(role).stat().st_size:
                raise OutputError(f"{card.graph_path(role)}: size differs from the model card")
        served = card.to_json()
        served["preparation"]["params"] = explicit_params(card)
        # The site holds the fp32 pair only, under fixed names; the card says so.
        served["graphs"] = {FP32: served["graphs"][FP32]}
        for role in ("encoder", "decoder"):
            served["graphs"][FP32][role]["file"] = graphs[role]
        files.append(SiteFile(f"{base}/{CARD_FILE}", "models", data=_json_bytes(served)))
        index.append({
            "name": card.name,
            "family": card.family,
            "description": card.description,
            "adapter": card.preparation.adapter,
            "tasks": list(card.tasks),
            "latent": list(card.latent.shape),
            "card": f"{base}/{CARD_FILE}",
        })  # fmt: skip
    files.append(SiteFile(f"{MODELS}/{INDEX}", "models", data=_json_bytes({"models": index})))
    return files


# --- writing a site -------------------------------------------------------------------------------


@dataclass
class SiteReport:
    """What :func:`write_site` did, file by file, and the sizes per group."""

    directory: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    runtime: dict[str, Any] = field(default_factory=dict)


def write_site(
    directory: Path, models: Sequence[str | Path] | None = None, *, overwrite: bool = False
) -> SiteReport:
    """Write a site into ``directory`` (created if missing). A file already there with other
    content is skipped (and listed) unless ``overwrite``; one with the same content is left."""
    from aeinfer.atomic import write_bytes_atomic

    files = site_files(models)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory}: exists and is not a folder")
    report = SiteReport(directory, runtime=vendor_info())
    report.models = [f.path.split("/")[1] for f in files if f.path.endswith("/" + CARD_FILE)]
    for item in files:
        report.sizes[item.group] = report.sizes.get(item.group, 0) + item.size
        target = directory / item.path
        data = item.read()
        if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
            report.unchanged.append(item.path)
            continue
        if target.exists() and not overwrite:
            report.skipped.append(item.path)
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{target.parent}: cannot create ({exc.strerror})") from exc
        write_bytes_atomic(data, target, overwrite=overwrite)
        report.written.append(item.path)
    return report


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 50_000 else f"{size / 1e3:.0f} KB"


def report_lines(report: SiteReport) -> list[str]:
    """What ``aeinfer web`` says: what was written, the sizes, and how to serve the folder."""
    directory = report.directory
    total = sum(report.sizes.values())
    runtime = " ".join(filter(None, ["ONNX Runtime Web", report.runtime.get("version")]))
    sizes = {group: _megabytes(report.sizes.get(group, 0)) for group in GROUPS}
    parts = [
        f"page {sizes['page']}",
        f"{runtime} {sizes['runtime']}",
        f"models {sizes['models']} ({', '.join(report.models) or 'none'})",
        f"data {sizes['data']}",
    ]
    done = f"wrote {len(report.written)} file(s)"
    if report.unchanged:
        done += f", {len(report.unchanged)} unchanged"
    if report.skipped:
        done += f", skipped {len(report.skipped)}"
    return [
        f"{done} in {directory} ({_megabytes(total)}: {'; '.join(parts)})",
        f"serve {directory} at / with any static web server, e.g. "
        f"`python -m aeinfer.web.static {directory}`, and open index.html; for threads the "
        "server must send Cross-Origin-Opener-Policy: same-origin and "
        "Cross-Origin-Embedder-Policy: require-corp (that one does; without them the page "
        "runs single-threaded). `aeinfer serve` serves the page itself at /.",
    ]


# --- a cached site for servers --------------------------------------------------------------------


def cache_root() -> Path:
    """``$AEINFER_WEB_CACHE``, else ``$XDG_CACHE_HOME/aeinfer/web``, else
    ``~/.cache/aeinfer/web``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aeinfer" / "web"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _build(files: list[SiteFile], final: Path) -> None:
    """Write ``files`` into a fresh folder beside ``final`` and rename it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the site from a server of another user
    try:
        for item in files:
            target = staging / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if item.source is not None:
                _link_or_copy(item.source, target)
            else:
                target.write_bytes(item.read())
        (staging / COMPLETE).write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"), encoding="utf-8")
        try:
            staging.rename(final)
        except OSError:
            if not (final / COMPLETE).is_file():  # not another process's identical build
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prune(root: Path, keep: Path) -> None:
    """Remove cached sites other than ``keep`` not used for :data:`STALE_SECONDS`."""
    now = time.time()
    for site in root.glob(f"{SITE_PREFIX}*"):
        marker = site / COMPLETE
        with contextlib.suppress(OSError):
            if site != keep and now - marker.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(site, ignore_errors=True)


def assets(models: Sequence[str | Path] | None = None) -> Path:
    """The folder of a site ready to serve at ``/`` (see the module docstring), for ``models``
    (bundled names or model directories, e.g. a server's; those the page cannot run are left
    out; default every bundled model the page can run).

    Built into :func:`cache_root` once — the page's and models' files hard-linked where the
    file system allows, else copied — and reused while none of its sources changes; where the
    cache cannot be written, into a temporary folder. Raises :class:`WebAssetsMissing` (one line
    saying how to build them) when ONNX Runtime Web's files are not built.
    """
    files = site_files(models, strict=False)
    key = hashlib.sha256("\n".join(f"{f.path}={f.stamp()}" for f in files).encode()).hexdigest()
    root = cache_root()
    site = root / f"{SITE_PREFIX}{key[:20]}"
    if (site / COMPLETE).is_file():
        with contextlib.suppress(OSError):
            os.utime(site / COMPLETE)
        return site
    try:
        _build(files, site)
    except OSError:
        site = Path(tempfile.mkdtemp(prefix="aeinfer-web-")) / "site"
        _build(files, site)
        return site
    _prune(root, site)
    return site


__all__ = [
    "BUILD_HINT",
    "ISOLATION_HEADERS",
    "LATENT_DATA",
    "LATENT_MODEL",
    "PAGE_ADAPTERS",
    "SiteFile",
    "SiteReport",
    "WebAssetsMissing",
    "assets",
    "cache_root",
    "explicit_params",
    "page_models",
    "report_lines",
    "site_files",
    "vendor_dir",
    "vendor_info",
    "write_site",
]
