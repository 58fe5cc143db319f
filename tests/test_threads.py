"""Threads: the process-wide ONNX Runtime pool (``aeinfer.session.share_threads``).

ONNX Runtime sets that pool once per process and then refuses sessions that do not use it, so
every case runs in a child process: a library import leaves it alone, the aeinfer command and
an application that opts in share it, results equal the pool-per-session ones exactly, the
exporter's and doctor's own sessions still start in such a process, and a pool made by other
code first is used rather than fought.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aeinfer.session import cpu_threads

ZOO = ("dense", "vae", "denoise")


def run_child(program: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


RECONSTRUCT = """
    import json, sys
    import numpy as np
    import aeinfer
    from aeinfer import session
    if sys.argv[1] == "shared":
        session.share_threads()
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    out = {name: aeinfer.load(name, device="cpu").reconstruct(x).tolist() for name in sys.argv[2:]}
    print(json.dumps({"pool": session.shared_threads(), "out": out}))
"""


def test_the_library_leaves_the_pool_alone_and_sharing_changes_no_result() -> None:
    alone = run_child(RECONSTRUCT, "own", *ZOO)
    shared = run_child(RECONSTRUCT, "shared", *ZOO)
    assert alone["pool"] is None, "import and load must not make the process-wide pool"
    assert shared["pool"] == cpu_threads()
    for name in ZOO:
        a = np.asarray(alone["out"][name])  # type: ignore[index]
        b = np.asarray(shared["out"][name])  # type: ignore[index]
        np.testing.assert_allclose(a, b, atol=1e-6, err_msg=name)


def test_the_command_shares_one_pool(tmp_path: Path) -> None:
    picture = tmp_path / "seven.png"
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(picture)
    result = run_child(
        """
        import json, sys
        from aeinfer import session
        from aeinfer.cli import main
        sys.argv = ["aeinfer", "encode", sys.argv[1], "-o", sys.argv[2], "--model", "dense",
                    "--device", "cpu", "--force"]
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        print(json.dumps({"pool": session.shared_threads()}))
        """,
        str(picture),
        str(tmp_path / "codes.npy"),
    )
    assert result["pool"] == cpu_threads()
    assert np.load(tmp_path / "codes.npy").shape == (1, 32)


def test_exporter_and_doctor_sessions_start_inside_the_pool() -> None:
    result = run_child(
        """
        import json
        import onnx
        import numpy as np
        import aeinfer
        from aeinfer import session
        from aeinfer.doctor import run_checks
        from aeinfer.export.runner import GraphRunner
        session.share_threads()
        model = aeinfer.load("dense", device="cpu")
        graph = onnx.load(str(model.card.graph_path("encoder")))
        runner = GraphRunner(graph, use_ort=True)
        code = runner.run({runner.inputs[0]: np.zeros((2, 784), np.float32)})[0]
        report = run_checks()
        print(json.dumps({"code": list(code.shape), "doctor": report.lines}))
        """
    )
    assert result["code"] == [2, 32]
    assert any("starts" in line for line in result["doctor"]), result["doctor"]  # type: ignore[union-attr]


def test_a_pool_made_elsewhere_is_used() -> None:
    result = run_child(
        """
        import json
        import numpy as np
        import onnxruntime as ort
        import aeinfer
        from aeinfer import session
        ort.set_global_thread_pool_sizes(1, 1)  # the application made it first
        made = session.share_threads()
        x = np.zeros((3, 1, 28, 28), np.float32)
        shape = aeinfer.load("dense", device="cpu").reconstruct(x).shape
        print(json.dumps({"made": made, "shape": list(shape)}))
        """
    )
    assert result["made"] == -1  # SHARED_ELSEWHERE: not ours, its size unknown
    assert result["shape"] == [3, 1, 28, 28]


def test_share_threads_refuses_a_pool_of_no_threads() -> None:
    from aeinfer import session

    with pytest.raises(ValueError, match="at least 1"):
        session.share_threads(-2)


@pytest.mark.parametrize(
    ("command", "shares"), [("denoise", True), ("serve", True), ("export", False), ("train", False)]
)
def test_which_commands_share_the_pool(command: str, shares: bool) -> None:
    # train and export quantize with ONNX Runtime's own sessions, which the pool would refuse.
    result = run_child(
        """
        import json, sys
        from aeinfer import session
        from aeinfer.cli import main
        sys.argv = ["aeinfer", sys.argv[1], "--help"]
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        print(json.dumps({"wanted": session._shared_wanted}))
        """,
        command,
    )
    assert result["wanted"] is shares


def test_int8_variants_refused_in_a_shared_pool_with_a_reason() -> None:
    result = run_child(
        """
        import json
        from pathlib import Path
        from aeinfer import session
        from aeinfer.errors import ExportError
        from aeinfer.export.variants import add_variants
        session.share_threads()
        try:
            add_variants(Path("unused"), None, "bce", machine="x", precisions=("int8",))
        except ExportError as exc:
            print(json.dumps({"error": str(exc)}))
        """
    )
    assert "share_threads" in result["error"] and "quantizer" in result["error"]  # type: ignore[operator]
