"""Batch jobs on Ray Data (:mod:`aeinfer.cluster`) against the single-machine jobs.

One local Ray cluster of 2 CPUs, started by this module, serves every test: results equal the
single-process job's, byte for byte; an actor killed mid-job (SIGKILL, found by its process
title) still leaves every output written once and nothing lost; a bad file is a reported
failure, not a failed job; URIs (``file://``) go through the filesystem layer; the command
line's ``--ray`` gives the single-machine outputs and messages.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_error, invoke, ok, snapshot

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
pq = pytest.importorskip("pyarrow.parquet")

from aeinfer import cluster, jobs  # noqa: E402
from aeinfer.card import DENOISE, ENCODE, RECONSTRUCT, SCORE  # noqa: E402
from aeinfer.model import load_model  # noqa: E402
from aeinfer.tasks import pipeline  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DIGIT_PHOTOS = REPO / "examples" / "digit-photos"
NOT_DIGITS = REPO / "examples" / "not-digits"
ACTOR_TITLE = b"MapWorker"
"""Ray titles each Ray Data actor's process ``ray::MapWorker(MapBatches(Worker))``."""
SMALL = cluster.Cluster(batch_size=2, actors=2)


@pytest.fixture(scope="module", autouse=True)
def local_cluster() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        object_store_memory=200 * 2**20,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
    )
    # Ray Data sets its logger to DEBUG; under pytest's log capture every step would be logged.
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """12 digit photos (some in a subfolder), two non-digits, and one file that is no image."""
    root = tmp_path / "in"
    (root / "more").mkdir(parents=True)
    photos = sorted(DIGIT_PHOTOS.glob("*.jpg"))[:12]
    for index, photo in enumerate(photos):
        shutil.copy(photo, (root if index % 3 else root / "more") / photo.name)
    for other in sorted(NOT_DIGITS.iterdir())[:2]:
        shutil.copy(other, root / other.name)
    (root / "broken.png").write_bytes(b"not a picture")
    return root


def _single(task: str, model: str) -> object:
    return pipeline(load_model(model, "cpu"))


def _routed_work() -> cluster.Work:
    return cluster.Work(DENOISE, "denoise", route="photo")


def test_denoise_equals_single_machine(folder: Path, tmp_path: Path) -> None:
    before = snapshot(folder)
    one = jobs.map_files(
        _single(DENOISE, "denoise"),
        [folder],
        tmp_path / "one",
        jobs.DENOISED_TAG,
        route=_single(DENOISE, "photo"),
    )
    many = cluster.map_files(
        [str(folder)], str(tmp_path / "many"), "denoised", _routed_work(), SMALL
    )
    assert snapshot(folder) == before, "an input was modified"
    assert len(one.written) == len(many.written) == 14
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "many")
    assert [(str(p), m) for p, m in one.failed] == [(str(p), m) for p, m in many.failed]
    assert len(many.failed) == 1 and "broken.png" in many.failed[0][1]
    by_model = {r["model"] for r in many.records}
    assert by_model == {"denoise", "photo"}, "the non-digits go to the photo model on Ray too"
    assert [r["model"] for r in one.records] == [r["model"] for r in many.records]


def test_ensemble_on_ray_equals_single_machine(tmp_path: Path) -> None:
    """``--ensemble --ray``: the routed photo model averages the 8 flips and rotations in the
    actors as on one machine (the digit model, not trained on rotations, is left as it is)."""
    source = tmp_path / "in"
    source.mkdir()
    for other in sorted(NOT_DIGITS.iterdir())[:2]:
        shutil.copy(other, source / other.name)
    averaged = pipeline(load_model("photo", "cpu"), ensemble=True)
    digits = _single(DENOISE, "denoise")
    one = jobs.map_files(digits, [source], tmp_path / "one", jobs.DENOISED_TAG, route=averaged)
    work = cluster.Work(DENOISE, "denoise", route="photo", ensemble=True)
    many = cluster.map_files([str(source)], str(tmp_path / "many"), "denoised", work, SMALL)
    assert len(one.written) == len(many.written) == 2
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "many")
    plain = jobs.map_files(
        digits, [source], tmp_path / "plain", jobs.DENOISED_TAG, route=_single(DENOISE, "photo")
    )
    assert len(plain.written) == 2
    assert snapshot(tmp_path / "plain") != snapshot(tmp_path / "one")  # the passes differ


def test_precision_on_ray_reaches_the_routed_model(tmp_path: Path) -> None:
    """``--precision int8 --ray``: the photo model the non-digits are routed to runs its int8
    graphs in the actors, as on one machine, not its fp32 ones."""
    source = tmp_path / "in"
    source.mkdir()
    for other in sorted(NOT_DIGITS.iterdir())[:2]:
        shutil.copy(other, source / other.name)
    digits = pipeline(load_model("denoise", "cpu", "int8"))
    photo = pipeline(load_model("photo", "cpu", "int8"))
    one = jobs.map_files(digits, [source], tmp_path / "one", jobs.DENOISED_TAG, route=photo)
    work = cluster.Work(DENOISE, "denoise", "int8", route="photo")
    many = cluster.map_files([str(source)], str(tmp_path / "many"), "denoised", work, SMALL)
    assert len(one.written) == len(many.written) == 2
    assert {r["model"] for r in many.records} == {"photo"}
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "many")
    plain = cluster.map_files(
        [str(source)], str(tmp_path / "plain"), "denoised", _routed_work(), SMALL
    )
    assert len(plain.written) == 2
    assert snapshot(tmp_path / "plain") != snapshot(tmp_path / "many")  # fp32 differs


def test_existing_outputs_are_skipped(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = cluster.map_files([str(folder)], str(out), "denoised", _routed_work(), SMALL)
    kept = snapshot(out)
    again = cluster.map_files([str(folder)], str(out), "denoised", _routed_work(), SMALL)
    assert len(again.skipped) == len(first.written) and not again.written
    assert snapshot(out) == kept


def _table(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def test_encode_table_equals_single_machine(folder: Path, tmp_path: Path) -> None:
    one = jobs.encode_table(_single(ENCODE, "conv"), [folder], tmp_path / "one.parquet", force=True)
    many = cluster.encode_table(
        [str(folder)], tmp_path / "many.parquet", cluster.Work(ENCODE, "conv", force=True), SMALL
    )
    assert one.detail["shape"] == many.detail["shape"] == (14, 8, 4, 4)
    a, b = _table(tmp_path / "one.parquet"), _table(tmp_path / "many.parquet")
    assert [(r["path"], r["item"]) for r in a] == [(r["path"], r["item"]) for r in b]
    assert np.allclose([r["code"] for r in a], [r["code"] for r in b], atol=1e-6)
    assert [m for _, m in one.failed] == [m for _, m in many.failed]
    assert len(many.failed) == 1
    codes = jobs.read_codes(tmp_path / "many.parquet")
    assert codes.shape == (14, 8, 4, 4)


def test_encode_refuses_out_of_domain_without_force(folder: Path, tmp_path: Path) -> None:
    many = cluster.encode_table(
        [str(folder)], tmp_path / "codes.parquet", cluster.Work(ENCODE, "conv"), SMALL
    )
    refused = [m for _, m in many.failed if "broken.png" not in m]
    assert len(refused) == 2 and all("--force" in m for m in refused)
    assert many.detail["rows"] == 12


def test_score_equals_single_machine(folder: Path) -> None:
    one = jobs.score_files(_single(SCORE, "conv"), [folder])
    many = cluster.score_files([str(folder)], cluster.Work(SCORE, "conv"), SMALL)
    assert [r.as_dict() for r in one.rows] == [r.as_dict() for r in many.rows]
    assert [m for _, m in one.failed] == [m for _, m in many.failed]
    assert sum(r.in_domain is False for r in many.rows) == 2


def _actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if ACTOR_TITLE in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_killed_actor_loses_nothing(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for photo in sorted(DIGIT_PHOTOS.glob("*.jpg"))[:24]:
        shutil.copy(photo, inputs / photo.name)
    killed: list[int] = []

    def kill_one(done: int, total: int) -> None:
        if not killed and done < total:
            pids = _actor_pids()
            assert pids, "no Ray Data actor process found"
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    work = cluster.Work(RECONSTRUCT, "conv", force=True, side_by_side=True)
    many = cluster.map_files(
        [str(inputs)], str(tmp_path / "out"), "reconstructed", work, SMALL, progress=kill_one
    )
    assert killed, "the job ended before an actor could be killed"
    assert not many.failed
    assert len(many.written) == len(set(many.written)) == 24, "an output lost or reported twice"
    one = jobs.map_files(
        _single(RECONSTRUCT, "conv"),
        [inputs],
        tmp_path / "one",
        jobs.RECONSTRUCTED_TAG,
        task=RECONSTRUCT,
        side_by_side=True,
        force=True,
    )
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "one")
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "out").iterdir())
    assert len(one.written) == 24


def test_uris_through_the_filesystem_layer(folder: Path, tmp_path: Path) -> None:
    many = cluster.map_files(
        [f"file://{folder}"], f"file://{tmp_path / 'out'}", "denoised", _routed_work(), SMALL
    )
    assert len(many.written) == 14 and len(many.failed) == 1
    assert (tmp_path / "out" / "more").is_dir()
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.png")) == sorted(
        f"{p.stem}.png" for p in folder.rglob("*") if p.is_file() and p.name != "broken.png"
    )


def test_build_on_a_dataset_read_by_ray(folder: Path) -> None:
    """The documented entry point: a dataset Ray read (path, bytes) → rows with results."""
    dataset = ray.data.read_binary_files(str(folder / "more"), include_paths=True)
    rows = cluster.build(dataset, _routed_work(), cluster.Cluster(batch_size=2)).take_all()
    assert len(rows) == 4 and all(r["status"] == cluster.DONE for r in rows)
    assert all(r["result"].startswith(b"\x89PNG") for r in rows)


def test_command_line_with_ray(folder: Path, tmp_path: Path) -> None:
    result = invoke("denoise", folder, "-o", tmp_path / "out", "--ray", "local", "--json")
    assert result.exit_code == 1  # broken.png
    assert "broken.png" in result.stderr and "denoised 14 file(s)" in result.stderr
    ok("encode", folder / "more", "-o", tmp_path / "c.parquet", "-m", "conv", "--ray", "local")
    assert len(_table(tmp_path / "c.parquet")) == 4
    refused = invoke("encode", folder, "-o", tmp_path / "c.npy", "--ray", "local")
    assert_one_error(refused, "c.npy", ".parquet")
    sheet = invoke("reconstruct", folder, "-o", tmp_path / "s.png", "--ray", "local")
    assert_one_error(sheet, "--per-file")
    uri = invoke("denoise", f"file://{folder}", "-o", tmp_path / "x")
    assert_one_error(uri, "--ray")


def test_parquet_rows_in_and_out(folder: Path, tmp_path: Path) -> None:
    """Files as Parquet rows (path, bytes) in; results as Parquet rows out."""
    pa = pytest.importorskip("pyarrow")
    files = sorted(p for p in (folder / "more").iterdir())
    table = pa.table({"path": [p.name for p in files], "bytes": [p.read_bytes() for p in files]})
    pq.write_table(table, tmp_path / "inputs.parquet")
    out = tmp_path / "denoised.parquet"
    many = cluster.map_files(
        [str(tmp_path / "inputs.parquet")], str(out), "denoised", _routed_work(), SMALL
    )
    assert many.written == [out] and many.processed == 4 and not many.failed
    rows = _table(out)
    assert [r["path"] for r in rows] == [p.name for p in files]
    one = jobs.map_files(
        _single(DENOISE, "denoise"), [folder / "more"], tmp_path / "one", "denoised",
        route=_single(DENOISE, "photo"),
    )  # fmt: skip
    assert [r["result"] for r in rows] == [t.read_bytes() for t in one.written]
    codes = cluster.encode_table(
        [str(tmp_path / "inputs.parquet")], tmp_path / "codes.parquet",
        cluster.Work(ENCODE, "conv", force=True), SMALL,
    )  # fmt: skip
    assert codes.detail["shape"] == (4, 8, 4, 4)
    refused = invoke("denoise", tmp_path / "inputs.parquet", "-o", tmp_path / "x", "--ray", "local")
    assert_one_error(refused, "-o RESULTS.parquet")


def test_a_fresh_command_prints_only_its_own_lines(tmp_path: Path) -> None:
    """A command that starts Ray itself (not this module's cluster: a new process) shows only
    aeinfer's lines on stderr: not Ray's start-up line about its log level, nor its warnings."""
    source = tmp_path / "in"
    source.mkdir()
    for photo in sorted(DIGIT_PHOTOS.glob("*.jpg"))[:2]:
        shutil.copy(photo, source / photo.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "aeinfer", "encode", str(source), "-o", str(tmp_path / "c.parquet"),
         "--ray", "local"],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("aeinfer:") for line in lines), lines
    assert len(_table(tmp_path / "c.parquet")) == 2
