"""Tests for aeinfer.inputs: which files a job reads, and where each result goes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from aeinfer.errors import InputError
from aeinfer.inputs import OUTPUT_TAGS, Plan, expand_inputs, is_previous_output, plan_outputs, walk
from aeinfer.pictures import IMAGE_SUFFIXES, OUTPUT_FORMATS
from aeinfer.signals import SIGNAL_SUFFIXES

PNG = ".png"


def touch(root: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not read here")
        paths.append(path)
    return paths


def rels(pairs: Iterable[tuple[Path, Path]]) -> list[str]:
    return [rel.as_posix() for _, rel in pairs]


def plan_images(inputs: list[Path], output: Path | None, tag: str = "denoised") -> Plan:
    """The plan an image job makes: PNG results."""
    return plan_outputs(
        inputs,
        output,
        tag,
        input_suffixes=IMAGE_SUFFIXES,
        output_suffix=PNG,
        output_suffixes=IMAGE_SUFFIXES,
    )


def plan_signals(inputs: list[Path], output: Path | None, tag: str = "reconstructed") -> Plan:
    """The plan a signal job makes: each result in its input's own format."""
    return plan_outputs(
        inputs,
        output,
        tag,
        input_suffixes=SIGNAL_SUFFIXES,
        output_suffix=None,
        output_suffixes=SIGNAL_SUFFIXES,
    )


def written(plan: Plan) -> None:
    """Do what a job would: write every planned output (making folders where planned)."""
    for _, target in plan.pairs:
        if plan.make_folders:
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"result")


# ------------------------------------------------------------------------------- expand_inputs


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    root = tmp_path / "scans"
    touch(root, "a.png", "b/c.JPG", "b/deep/d.bmp", "z.tiff", "B.png", "a/x.png")
    # Never inputs: earlier results, hidden files and folders, files of other kinds.
    touch(root, "a.denoised.png", "b/c.reconstructed.png", "b/e.DENOISED.PNG")
    touch(root, ".secret.png", ".hidden/e.png", "readme.txt", "notes.csv")
    return root


def test_expand_inputs_order_and_layout(scans: Path, tmp_path: Path) -> None:
    single = touch(tmp_path, "one.png")[0]
    pairs = expand_inputs([scans, single], IMAGE_SUFFIXES)
    # Sorted by path parts (so a folder's files come together), then the next input.
    assert rels(pairs) == [
        "B.png",
        "a/x.png",
        "a.png",
        "b/c.JPG",
        "b/deep/d.bmp",
        "z.tiff",
        "one.png",
    ]
    assert pairs[3] == (scans / "b" / "c.JPG", Path("b/c.JPG"))
    assert pairs[-1] == (single, Path("one.png"))
    assert expand_inputs([scans], IMAGE_SUFFIXES) == pairs[:-1]  # deterministic
    # Inputs keep the order they were given in.
    assert expand_inputs([single, scans], IMAGE_SUFFIXES)[0] == (single, Path("one.png"))


def test_expand_inputs_skips_hidden_files_and_earlier_outputs(scans: Path) -> None:
    names = {file.name for file, _ in expand_inputs([scans], IMAGE_SUFFIXES)}
    assert not any(name.startswith(".") for name in names)
    assert not any(is_previous_output(name) for name in names)
    assert "e.png" not in names and "readme.txt" not in names
    # The suffixes asked for decide which files a folder gives.
    assert rels(expand_inputs([scans], SIGNAL_SUFFIXES)) == ["notes.csv"]


def test_a_file_named_on_purpose_is_an_input_whatever_its_name(scans: Path) -> None:
    for name in ("readme.txt", "a.denoised.png", ".secret.png"):
        assert expand_inputs([scans / name], IMAGE_SUFFIXES) == [(scans / name, Path(name))]


def test_expand_inputs_excludes_a_folder(scans: Path) -> None:
    pairs = expand_inputs([scans], IMAGE_SUFFIXES, exclude=[scans / "b"])
    assert rels(pairs) == ["B.png", "a/x.png", "a.png", "z.tiff"]
    # Another spelling of the same folder is the same folder.
    again = expand_inputs([scans], IMAGE_SUFFIXES, exclude=[scans / "a" / ".." / "b"])
    assert again == pairs
    assert walk(scans, IMAGE_SUFFIXES, [scans / "b"]) == pairs


def test_expand_inputs_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"ghost: no such file or directory$"):
        expand_inputs([tmp_path / "ghost"], IMAGE_SUFFIXES)
    empty = tmp_path / "empty"
    touch(empty, "old.denoised.png", ".hidden.png", "text.txt")
    looked_for = r"empty: no input files found \(looked for \.avif, \.bmp, "
    with pytest.raises(InputError, match=looked_for) as e:
        expand_inputs([empty], IMAGE_SUFFIXES)
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match=r"\(looked for \.csv, \.npy, \.wav\)$"):
        expand_inputs([empty], SIGNAL_SUFFIXES)


@pytest.mark.parametrize(
    ("name", "previous"),
    [
        ("scan.denoised.png", True),
        ("scan.reconstructed.npy", True),
        ("scan.jpg.denoised.png", True),
        ("SCAN.Denoised.PNG", True),
        ("denoised.png", False),
        ("scan-denoised.png", False),
        ("scan.denoised", False),
        ("scan.png", False),
    ],
)
def test_is_previous_output(name: str, previous: bool) -> None:
    assert OUTPUT_TAGS == ("denoised", "reconstructed")
    assert is_previous_output(name) is previous


# -------------------------------------------------------------------------------- plan_outputs


def test_plan_beside_inputs(scans: Path) -> None:
    plan = plan_images([scans], None)
    assert plan.failed == [] and plan.notes == [] and plan.make_folders is False
    assert plan.pairs == [
        (scans / "B.png", scans / "B.denoised.png"),
        (scans / "a" / "x.png", scans / "a" / "x.denoised.png"),
        (scans / "a.png", scans / "a.denoised.png"),
        (scans / "b" / "c.JPG", scans / "b" / "c.denoised.png"),
        (scans / "b" / "deep" / "d.bmp", scans / "b" / "deep" / "d.denoised.png"),
        (scans / "z.tiff", scans / "z.denoised.png"),
    ]


def test_plan_keeps_a_signals_own_format(tmp_path: Path) -> None:
    data = tmp_path / "data"
    touch(data, "a.npy", "b.CSV", "c.wav")
    plan = plan_signals([data], None)
    assert [target.name for _, target in plan.pairs] == [
        "a.reconstructed.npy",
        "b.reconstructed.csv",
        "c.reconstructed.wav",
    ]


def test_plan_single_named_file(tmp_path: Path) -> None:
    source = touch(tmp_path, "in.jpg")[0]
    for suffix in sorted(OUTPUT_FORMATS):
        target = tmp_path / "out" / f"result{suffix}"
        plan = plan_images([source], target)
        assert plan.pairs == [(source, target)] and plan.make_folders is False
        assert plan.failed == [] and plan.notes == []


def test_plan_folder_layout(scans: Path, tmp_path: Path) -> None:
    single = touch(tmp_path, "one.jpg")[0]
    out = tmp_path / "cleaned"
    plan = plan_images([scans, single], out)
    assert plan.make_folders is True and plan.failed == [] and plan.notes == []
    assert [
        (file.relative_to(tmp_path), target.relative_to(out)) for file, target in plan.pairs
    ] == [
        (Path("scans/B.png"), Path("B.png")),
        (Path("scans/a/x.png"), Path("a/x.png")),
        (Path("scans/a.png"), Path("a.png")),
        (Path("scans/b/c.JPG"), Path("b/c.png")),
        (Path("scans/b/deep/d.bmp"), Path("b/deep/d.png")),
        (Path("scans/z.tiff"), Path("z.png")),
        (Path("one.jpg"), Path("one.png")),
    ]
    # A name with an image suffix is still a folder when there are several inputs.
    looks_like_a_file = tmp_path / "out.png"
    plan = plan_images([scans], looks_like_a_file)
    assert plan.make_folders is True
    assert all(looks_like_a_file in target.parents for _, target in plan.pairs)


def test_two_inputs_to_one_output_are_disambiguated_beside_them(tmp_path: Path) -> None:
    jpg, png, other = touch(tmp_path, "scan.jpg", "scan.png", "other.gif")
    plan = plan_images([tmp_path], None)
    assert plan.failed == []
    assert sorted(plan.pairs) == sorted(
        [
            (jpg, tmp_path / "scan.jpg.denoised.png"),
            (png, tmp_path / "scan.png.denoised.png"),
            (other, tmp_path / "other.denoised.png"),
        ]
    )
    assert plan.notes == [
        f"{jpg}: another input also maps to {tmp_path / 'scan.denoised.png'}; "
        "writing scan.jpg.denoised.png instead",
        f"{png}: another input also maps to {tmp_path / 'scan.denoised.png'}; "
        "writing scan.png.denoised.png instead",
    ]
    # The disambiguated names are earlier outputs to the next run, never inputs.
    written(plan)
    assert plan_images([tmp_path], None).pairs == plan.pairs


def test_two_inputs_to_one_output_are_disambiguated_in_a_folder(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    jpg, png, deep = touch(scans, "scan.jpg", "scan.png", "sub/scan.bmp")
    out = tmp_path / "out"
    plan = plan_images([scans], out)
    assert plan.failed == []
    assert plan.pairs == [
        (jpg, out / "scan.jpg.png"),
        (png, out / "scan.png.png"),
        (deep, out / "sub" / "scan.png"),  # another folder: no clash
    ]
    assert len(plan.notes) == 2
    assert all("another input also maps to" in note for note in plan.notes)


def test_the_same_input_twice_fails_once_and_is_never_lost(tmp_path: Path) -> None:
    source = touch(tmp_path, "a.png")[0]
    plan = plan_images([source, source], None)
    assert plan.pairs == [(source, tmp_path / "a.png.denoised.png")]
    assert plan.failed == [
        (source, f"{source}: two inputs map to {tmp_path / 'a.png.denoised.png'}; rename one")
    ]


def test_rerunning_with_the_output_folder_inside_the_inputs(
    scans: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``aeinfer denoise scans -o scans/cleaned`` three times: the same inputs each time,
    never ``cleaned/cleaned/...``."""
    monkeypatch.chdir(scans.parent)
    runs = []
    for output in (Path("scans/cleaned"), Path("scans/cleaned"), scans / "." / "cleaned"):
        plan = plan_images([Path("scans")], output)
        assert plan.failed == [] and plan.notes == []
        runs.append([(file.resolve(), target.resolve()) for file, target in plan.pairs])
        written(plan)
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) == 6
    cleaned = scans / "cleaned"
    assert all(cleaned not in file.parents for file, _ in runs[0])
    assert all(target.parent == cleaned or cleaned in target.parents for _, target in runs[0])
    assert not (cleaned / "cleaned").exists()
    assert sorted(p.relative_to(cleaned).as_posix() for p in cleaned.rglob("*.png")) == [
        "B.png",
        "a.png",
        "a/x.png",
        "b/c.png",
        "b/deep/d.png",
        "z.png",
    ]


def test_rerunning_beside_the_inputs_reads_the_same_files(scans: Path) -> None:
    first = plan_images([scans], None)
    written(first)
    second = plan_images([scans], None)
    assert second.pairs == first.pairs and second.failed == []


def test_an_output_that_would_overwrite_an_input_fails(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a, b = touch(data, "a.npy", "b.wav")
    # Results of a signal job written into the input folder itself, under the same names.
    plan = plan_signals([data], data)
    assert plan.pairs == []
    assert plan.failed == [
        (a, f"{a}: its output {a} would overwrite an input"),
        (b, f"{b}: its output {b} would overwrite an input"),
    ]
    # An image job's PNG result over a PNG input, by a single named output...
    png = touch(tmp_path, "scan.png")[0]
    plan = plan_images([png], png)
    assert plan.pairs == [] and plan.failed == [
        (png, f"{png}: its output {png} would overwrite an input")
    ]
    # ...or over another input of the same job.
    first, second = touch(tmp_path / "two", "x.jpg", "x.png")
    plan = plan_images([first, second], tmp_path / "two")
    assert (second, tmp_path / "two" / "x.png.png") in plan.pairs
    assert plan.failed == []  # disambiguated: x.jpg.png and x.png.png, neither an input


def test_missing_inputs_fail_without_stopping_the_others(tmp_path: Path) -> None:
    source = touch(tmp_path, "a.png")[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    plan = plan_images([tmp_path / "ghost.png", source, empty], None)
    assert plan.pairs == [(source, tmp_path / "a.denoised.png")]
    assert [(path.name, message) for path, message in plan.failed] == [
        ("ghost.png", f"{tmp_path / 'ghost.png'}: no such file or directory"),
        (
            "empty",
            f"{empty}: no input files found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})",
        ),
    ]
