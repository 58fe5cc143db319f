"""Tests for the model card (aeinfer.card, format 2) and the reading of format 1 (card_v1)."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aeinfer.adapters import ADAPTERS, adapter_for
from aeinfer.adapters.mnist_digit import MnistDigit
from aeinfer.card import (
    DOCUMENTED,
    FP32,
    ITEM_AXES,
    PRECISIONS,
    TASKS,
    Card,
    card_from_metadata,
    dumps,
    field_docs,
    graph_problems,
    item_layout,
    metadata_props,
    parse_card,
    read_card,
    verify_checksums,
)
from aeinfer.card_v1 import MNIST_DIGIT_PARAMS, upgrade
from aeinfer.errors import ModelIntegrityError, ModelNotFoundError

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "infer" / "models"
BUNDLED = sorted(p.name for p in MODELS.iterdir() if (p / "card.json").is_file())
DIGIT_MODELS = [n for n in BUNDLED if n != "photo"]


def test_the_photo_card_describes_a_free_size_colour_denoiser() -> None:
    card = read_card(MODELS / "photo")
    assert card.modality == "image" and card.data.describe() == "(N, 3, H%2, W%2)"
    assert card.preparation.adapter == "tiles" and "denoise" in card.tasks
    assert card.domain is None
    held_out = card.provenance["training"]["held_out_files"]
    assert held_out and not set(held_out) & set(card.provenance["training"]["data"].split(": ")[1])
    verify_checksums(card)


V1_DENSE = REPO / "tests" / "fixtures" / "v1-dense"


def ort_session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bundled_json(name: str = "dense") -> dict[str, Any]:
    return json.loads((MODELS / name / "card.json").read_text(encoding="utf-8"))


def v1_json() -> dict[str, Any]:
    return json.loads((V1_DENSE / "card.json").read_text(encoding="utf-8"))


def problems(data: Any) -> str:
    """The one-line message parse_card raises for ``data``."""
    with pytest.raises(ModelIntegrityError) as info:
        parse_card(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def axis(name: str, size: int | None, **extra: int) -> dict[str, Any]:
    return {"name": name, "size": size, **extra}


def free_card(stride: int | None = 4, multiple_of: int = 4) -> dict[str, Any]:
    """A fully convolutional RGB image card: free height and width, a feature-map latent."""
    extra = {"multiple_of": multiple_of}
    item = [axis("channels", 3), axis("height", None, **extra), axis("width", None, **extra)]
    spatial = {} if stride is None else {"stride": stride}
    latent = [axis("channels", 8), axis("height", None, **spatial), axis("width", None, **spatial)]

    def tensor(name: str, axes: list[dict[str, Any]]) -> dict[str, Any]:
        return {"name": name, "dtype": "float32", "axes": [axis("batch", None), *axes]}

    data = bundled_json("conv")
    data.update(
        name="photo-ae",
        family="custom",
        data={
            "modality": "image",
            "axes": item,
            "channels": ["R", "G", "B"],
            "range": [0.0, 1.0],
            "clip": True,
            "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
        },
        encoder={"inputs": [tensor("image", item)], "outputs": [tensor("latent", latent)]},
        decoder={"inputs": [tensor("latent", latent)], "outputs": [tensor("image", item)]},
        latent={"kind": "deterministic", "axes": latent, "prior": None},
        preparation={"adapter": "tiles", "version": 1, "params": {"margin": 8, "tile": 64}},
        score=None,
    )
    return data


# ------------------------------------------------------------------------------ bundled cards


@pytest.mark.parametrize("name", DIGIT_MODELS)
def test_every_bundled_card_parses_as_format_2(name: str) -> None:
    raw = bundled_json(name)
    assert raw["format_version"] == 2
    card = read_card(MODELS / name)
    assert card.format_version == 2 and card.name == name
    assert card.directory == (MODELS / name).resolve()
    assert card.modality == "image" and card.data.describe() == "(N, 1, 28, 28)"
    assert card.precisions[0] == FP32 and set(card.precisions) <= set(PRECISIONS)
    assert set(card.tasks) <= set(TASKS)
    assert card.variational == ("sample" in card.tasks) == (name == "vae")
    assert ("denoise" in card.tasks) == (name == "denoise")
    assert card.preparation.adapter == "mnist_digit"
    assert card.preparation.version == MnistDigit.version
    fit = ("frame", "fit", "centre", "model_polarity", "border_fraction", "ink_grid")
    assert {k: card.preparation.params[k] for k in fit} == {k: MNIST_DIGIT_PARAMS[k] for k in fit}
    assert card.domain is not None and card.domain.features
    assert card.score is not None and len(card.score.quantiles) == 101
    assert item_layout(card.data, card.encoder.inputs[0]) is not None
    for precision in card.precisions:
        for role in ("encoder", "decoder"):
            assert card.graph_path(role, precision).is_file()
    verify_checksums(card)
    adapter_for(card)
    summary = card.summary()
    assert summary["name"] == name and summary["item"] == "(N, 1, 28, 28)"
    assert summary["precisions"] == list(card.precisions)


@pytest.mark.parametrize("name", BUNDLED)
def test_to_json_round_trip(name: str) -> None:
    card = read_card(MODELS / name)
    data = card.to_json()
    assert data == bundled_json(name)  # the file is exactly what to_json writes
    assert parse_card(data) == card
    assert parse_card(json.loads(dumps(card))) == card
    assert json.loads(dumps(card)) == data


def test_round_trip_of_a_free_size_card() -> None:
    card = parse_card(free_card())
    assert card.data.describe() == "(N, 3, H%4, W%4)"
    assert card.data.free_axes == ("height", "width")
    assert card.latent.axes[1].stride == 4
    assert card.data.normalization is not None and card.data.normalization.std == (0.25,) * 3
    assert parse_card(card.to_json()) == card
    assert card.to_json()["data"]["axes"][1] == {"name": "height", "size": None, "multiple_of": 4}
    assert card.to_json()["latent"]["axes"][1] == {"name": "height", "size": None, "stride": 4}
    adapter_for(card)


# ------------------------------------------------------------------------------------ problems


def test_several_problems_are_named_in_one_error() -> None:
    data = bundled_json()
    data["name"] = "../Evil Name"
    data["tasks"] = ["encode", "fly", "teleport"]
    data["graphs"] = {
        "fp8": data["graphs"]["fp16"],
        "fp16": {**data["graphs"]["fp16"], "encoder": {"file": "../x.onnx", "sha256": "abc"}},
    }
    data["data"]["range"] = [1.0, 0.0]
    del data["family"]
    message = problems(data)
    assert message.startswith("card.json: 9 problems in the model card: ")
    for expected in (
        "card.name: '../Evil Name' is not a safe model name",
        "card.tasks: unknown fly, teleport; valid: encode, decode, reconstruct, denoise",
        "card.family: missing",
        "data.range: expected [low, high] with low < high, or null; got [1.0, 0.0]",
        "data.clip: clipping needs a range",  # the range it had is not one
        "graphs.fp8: unknown precision; valid: fp32, fp16, int8",
        "graphs.fp16.encoder.file: '../x.onnx' is not a plain file name in the model directory",
        "graphs.fp16.encoder.sha256: expected 64 lower-case hex digits",
        "graphs: the fp32 graph pair is missing",
    ):
        assert expected in message


def edited(change: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(base if base is not None else bundled_json())
    change(data)
    return data


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return change


CONSISTENCY = {
    "encoder input cannot hold the item": (
        _set("encoder.inputs.0.axes.1.size", 780),
        "encoder.inputs[0].axes: cannot hold the item",
    ),
    "decoder output cannot hold the item": (
        _set("decoder.outputs.0.axes.1.name", "pixels"),
        "decoder.outputs[0].axes: cannot hold the item",
    ),
    "gaussian needs two outputs": (
        _set("latent.kind", "gaussian"),
        "encoder.outputs: a gaussian latent needs 2 output(s)",
    ),
    "deterministic needs one output": (
        lambda d: d["encoder"]["outputs"].append({**d["encoder"]["outputs"][0], "name": "x"}),
        "encoder.outputs: a deterministic latent needs 1 output(s)",
    ),
    "codes that are not the latent": (
        _set("decoder.inputs.0.axes.1.size", 16),
        "decoder.inputs: the decoder takes one input: batch then the latent's axes",
    ),
    "sample needs a prior": (
        lambda d: d["tasks"].append("sample"),
        "card.tasks: sample needs a prior and a latent of fixed shape",
    ),
    "unknown task": (_set("tasks", ["encode", "paint"]), "card.tasks: unknown paint; valid:"),
    "unsafe name": (_set("name", "a/b"), "card.name: 'a/b' is not a safe model name"),
    "upper-case name": (_set("name", "Dense"), "card.name: 'Dense' is not a safe model name"),
    "fp32 graphs missing": (
        lambda d: d["graphs"].pop("fp32"),
        "graphs: the fp32 graph pair is missing",
    ),
    "unknown precision": (
        lambda d: d["graphs"].update(bf16=d["graphs"]["fp16"]),
        "graphs.bf16: unknown precision; valid: fp32, fp16, int8",
    ),
    "channel names": (
        _set("data.channels", ["R", "G", "B"]),
        "data.channels: names 3 channels, the axis has 1",
    ),
    "image axes": (
        _set("data.axes.1.name", "rows"),
        "data.axes: a image item's axes are channels, height, width",
    ),
    "clip without range": (_set("data.range", None), "data.clip: clipping needs a range"),
    "normalisation per channel": (
        _set("data.normalization", {"mean": [0.5, 0.5], "std": [1.0, 0.0]}),
        "data.normalization: needs one mean and one std per channel",
    ),
    "batch axis first": (
        _set("encoder.inputs.0.axes.0.name", "items"),
        "encoder.inputs[0].axes: the first axis must be the free batch axis",
    ),
    "fixed axis with a multiple": (
        _set("data.axes.1.multiple_of", 4),
        "data.axes[1]: a fixed axis takes no multiple_of or stride",
    ),
    "repeated axis names": (
        _set("latent.axes", [axis("features", 4), axis("features", 4)]),
        "latent.axes: axis names repeat: features",
    ),
    "unknown dtype": (
        _set("encoder.inputs.0.dtype", "float16"),
        "encoder.inputs[0].dtype: 'float16' is not one of float32",
    ),
    "unknown latent kind": (
        _set("latent.kind", "discrete"),
        "latent.kind: 'discrete' is not one of deterministic, gaussian",
    ),
    "unknown modality": (
        _set("data.modality", "video"),
        "data.modality: 'video' is not one of image, signal",
    ),
    "decreasing quantiles": (
        _set("score.quantiles", [0.3, 0.2, 0.1]),
        "score.quantiles: must not decrease",
    ),
}


@pytest.mark.parametrize("rule", sorted(CONSISTENCY))
def test_consistency_rules(rule: str) -> None:
    change, expected = CONSISTENCY[rule]
    message = problems(edited(change))
    assert expected in message, message


FREE_RULES = {
    "free latent axis needs a stride": (
        free_card(stride=None),
        "latent.axes[1]: a free latent axis needs a stride and the name of the item axis",
    ),
    "stride must divide the multiple": (
        free_card(stride=3),
        "latent.axes[1]: stride 3 needs a free item axis 'height' whose multiple_of it divides",
    ),
    "sample needs a fixed latent": (
        edited(
            _set("latent.prior", "standard_normal"), edited(_set("tasks", ["sample"]), free_card())
        ),
        "card.tasks: sample needs a prior and a latent of fixed shape",
    ),
    "item axes take no stride": (
        edited(_set("data.axes.1.stride", 2), free_card()),
        "data.axes: item axes take no stride",
    ),
}


@pytest.mark.parametrize("rule", sorted(FREE_RULES))
def test_consistency_rules_of_free_size_cards(rule: str) -> None:
    data, expected = FREE_RULES[rule]
    assert expected in problems(data)


def test_unreadable_formats() -> None:
    message = problems({**bundled_json(), "format_version": 3})
    expected = "3 is not a format this aeinfer reads (1 or 2); upgrade aeinfer"
    assert f"card.format_version: {expected}" in message
    assert message.startswith("card.json: 1 problem in the model card")
    assert "card: expected an object, got list" in problems([1, 2])
    assert "card.format_version: missing" in problems({})
    with pytest.raises(ModelIntegrityError, match=r"^my card: "):
        parse_card({}, label="my card")


def test_read_card_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not a model directory"):
        read_card(tmp_path / "nowhere")
    with pytest.raises(ModelNotFoundError, match=r"card\.json: model card missing"):
        read_card(tmp_path)
    (tmp_path / "card.json").write_text("{not json")
    with pytest.raises(ModelIntegrityError, match="unreadable model card"):
        read_card(tmp_path)
    model = tmp_path / "dense"
    shutil.copytree(MODELS / "dense", model)
    (model / "decoder.int8.onnx").unlink()
    with pytest.raises(ModelNotFoundError, match=r"decoder\.int8\.onnx: int8 graph missing"):
        read_card(model)


def test_verify_checksums_finds_a_modified_graph(tmp_path: Path) -> None:
    model = tmp_path / "dense"
    shutil.copytree(MODELS / "dense", model)
    card = read_card(model)
    verify_checksums(card)
    graph = model / "encoder.fp16.onnx"
    graph.write_bytes(graph.read_bytes()[:-10])
    with pytest.raises(ModelIntegrityError, match=r"encoder\.fp16\.onnx: sha256 .* does not match"):
        verify_checksums(card)


# ------------------------------------------------------------------------------ graph_problems


def arg(name: str, shape: list[Any], type_: str = "tensor(float)") -> SimpleNamespace:
    """What ONNX Runtime's get_inputs()/get_outputs() give: name, type and shape."""
    return SimpleNamespace(name=name, type=type_, shape=shape)


@pytest.fixture(scope="module")
def dense() -> Card:
    return read_card(MODELS / "dense")


def test_graph_problems_agreeing_graph(dense: Card) -> None:
    encoder = dense.encoder
    inputs, outputs = [arg("image", ["batch", 784])], [arg("latent", [None, 32])]
    assert graph_problems(encoder, inputs, outputs) == []
    # A fixed size the card calls fixed, but the graph leaves free, is accepted.
    assert graph_problems(encoder, [arg("image", ["N", "F"])], [arg("latent", ["N", 32])]) == []


@pytest.mark.parametrize(
    ("inputs", "outputs", "expected"),
    [
        ([arg("pixels", ["b", 784])], [arg("latent", ["b", 32])],
         ["input named 'pixels', the card says 'image'"]),
        ([arg("image", ["b", 784], "tensor(float16)")], [arg("latent", ["b", 32])],
         ["input 'image' has type tensor(float16), the card says float32"]),
        ([arg("image", ["b", 28, 28])], [arg("latent", ["b", 32])],
         ["input 'image' has rank 3, the card says 2"]),
        ([arg("image", ["b", 784])], [arg("latent", ["b", 16])],
         ["output 'latent' axis features is 16, the card says 32"]),
        ([arg("image", [1, 784])], [arg("latent", ["b", 32])],
         ["input 'image' axis batch is fixed at 1, the card says free"]),
        ([arg("image", ["b", 784]), arg("mask", ["b", 784])], [arg("latent", ["b", 32])],
         ["2 input(s) (image, mask), the card describes 1"]),
        ([arg("x", [1, 780], "tensor(double)")], [],
         ["input named 'x', the card says 'image'",
          "input 'x' has type tensor(double), the card says float32",
          "input 'x' axis batch is fixed at 1, the card says free",
          "input 'x' axis features is 780, the card says 784",
          "0 output(s) (), the card describes 1"]),
    ],
)  # fmt: skip
def test_graph_problems_fake_graphs(
    dense: Card, inputs: list[Any], outputs: list[Any], expected: list[str]
) -> None:
    assert graph_problems(dense.encoder, inputs, outputs) == expected


def test_graph_problems_free_axes() -> None:
    card = parse_card(free_card())
    inputs = [arg("image", ["batch", 3, "height", "width"])]
    outputs = [arg("latent", ["batch", 8, "h", "w"])]
    assert graph_problems(card.encoder, inputs, outputs) == []
    fixed = [arg("image", ["batch", 3, 64, "width"])]
    assert graph_problems(card.encoder, fixed, outputs) == [
        "input 'image' axis height is fixed at 64, the card says free"
    ]


@pytest.mark.parametrize("name", BUNDLED)
def test_graph_problems_real_sessions(name: str) -> None:
    card = read_card(MODELS / name)
    for precision in card.precisions:
        for role in ("encoder", "decoder"):
            session = ort_session(card.graph_path(role, precision))
            spec = card.encoder if role == "encoder" else card.decoder
            assert graph_problems(spec, session.get_inputs(), session.get_outputs()) == []


def test_graph_problems_real_sessions_of_another_model() -> None:
    dense, conv = read_card(MODELS / "dense"), read_card(MODELS / "conv")
    session = ort_session(conv.graph_path("encoder"))
    found = graph_problems(dense.encoder, session.get_inputs(), session.get_outputs())
    assert "input 'image' has rank 4, the card says 2" in found
    assert "output 'latent' has rank 4, the card says 2" in found


# ---------------------------------------------------------------------------------- format 1


@pytest.fixture
def v1_dense(tmp_path: Path) -> Path:
    """A copy of the real format-1 model (the fixture itself is never modified)."""
    model = tmp_path / "v1-dense"
    shutil.copytree(V1_DENSE, model)
    return model


def test_v1_card_is_read_as_format_2(v1_dense: Path) -> None:
    before = (V1_DENSE / "card.json").read_bytes()
    card = read_card(v1_dense)
    assert (v1_dense / "card.json").read_bytes() == before  # read, never rewritten
    assert card.format_version == 2 and card.name == "dense" and card.family == "dense"
    assert card.data.describe() == "(N, 1, 28, 28)"
    assert card.data.channels == ("L",) and card.data.range == (0.0, 1.0) and card.data.clip
    assert [(a.name, a.size) for a in card.encoder.inputs[0].axes] == [
        ("batch", None),
        ("features", 784),
    ]
    assert card.encoder.outputs[0].name == "latent" and card.latent.shape == (32,)
    assert card.latent.kind == "deterministic" and card.latent.prior is None
    assert card.tasks == ("encode", "decode", "reconstruct", "score", "interpolate")
    assert card.preparation.adapter == "mnist_digit" and card.preparation.version == 1
    assert dict(card.preparation.params) == MNIST_DIGIT_PARAMS
    assert card.score is not None and card.score.metric == "mse"
    assert card.score.quantiles[0] == pytest.approx(0.000768061)
    assert card.precisions == (FP32,)
    assert card.graph_file("encoder").sha256 == v1_json()["files"]["encoder.onnx"]["sha256"]
    assert card.provenance["upgraded_from_format"] == 1
    assert card.provenance["training"]["epochs"] == 100
    assert card.metrics["primary"] == "bce"
    verify_checksums(card)
    adapter_for(card)
    # The upgraded card is a format-2 card in its own right.
    assert parse_card(card.to_json()) == card


def test_v1_graphs_pass_graph_problems(v1_dense: Path) -> None:
    card = read_card(v1_dense)
    for role in ("encoder", "decoder"):
        session = ort_session(card.graph_path(role))
        spec = card.encoder if role == "encoder" else card.decoder
        assert graph_problems(spec, session.get_inputs(), session.get_outputs()) == []
        # The graph's own metadata (format 1) upgrades to the same card, but the graph files.
        said = card_from_metadata(session.get_modelmeta().custom_metadata_map)
        assert said.pop("role") == role
        from_graph = parse_card(said).to_json()
        expected = card.to_json()
        assert from_graph.pop("graphs")["fp32"]["encoder"]["sha256"] == ""
        expected.pop("graphs")
        assert from_graph == expected


@pytest.mark.parametrize(
    ("layout", "axes"),
    [
        ("flat", [("batch", None), ("features", 784)]),
        ("image", [("batch", None), ("channels", 1), ("height", 28), ("width", 28)]),
        ("sequence", [("batch", None), ("height", 28), ("width", 28)]),
    ],
)
def test_v1_layouts_map_to_named_axes(layout: str, axes: list[tuple[str, int | None]]) -> None:
    data = v1_json()
    data["input"]["layout"] = layout
    card = parse_card(data)
    for tensor in (card.encoder.inputs[0], card.decoder.outputs[0]):
        assert [(a.name, a.size) for a in tensor.axes] == axes
    assert card.data.describe() == "(N, 1, 28, 28)"  # the item is the same whatever the layout
    assert item_layout(card.data, card.encoder.inputs[0]) == tuple(size for _, size in axes[1:])


def test_v1_unknown_layout_is_refused() -> None:
    data = v1_json()
    data["input"]["layout"] = "spiral"
    assert "encoder.inputs[0].axes: cannot hold the item" in problems(data)


def test_v1_families_and_latents_map_to_tasks() -> None:
    data = v1_json()
    data["family"] = "denoise"
    assert parse_card(data).tasks == (
        "encode",
        "decode",
        "reconstruct",
        "denoise",
        "score",
        "interpolate",
    )
    data = v1_json()
    data["latent"] = {"kind": "gaussian", "shape": [2]}
    data["training"]["model_config"]["latent_dim"] = 2
    card = parse_card(data)
    assert card.variational and card.latent.prior == "standard_normal"
    assert [t.name for t in card.encoder.outputs] == ["mean", "logvar"]
    assert "sample" in card.tasks and "denoise" not in card.tasks
    data = v1_json()
    data["latent"] = {"kind": "deterministic", "shape": [8, 4, 4]}
    card = parse_card(data)
    assert [(a.name, a.size) for a in card.latent.axes] == [
        ("channels", 8),
        ("height", 4),
        ("width", 4),
    ]


def test_v1_upgrade_leaves_its_input_alone() -> None:
    data = v1_json()
    frozen = copy.deepcopy(data)
    upgraded = upgrade(data)
    assert data == frozen
    assert upgraded["format_version"] == 2
    assert upgraded["graphs"]["fp32"]["decoder"] == {
        "file": "decoder.onnx",
        "sha256": frozen["files"]["decoder.onnx"]["sha256"],
        "bytes": frozen["files"]["decoder.onnx"]["bytes"],
    }


# ---------------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("role", ["encoder", "decoder"])
def test_metadata_props_round_trip(dense: Card, role: str) -> None:
    props = metadata_props(dense, role)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in props.items())
    assert all(key.startswith("aeinfer.") for key in props)
    assert "aeinfer.graphs" not in props  # a file cannot carry its own hash
    said = card_from_metadata({**props, "other.key": "not ours {"})
    assert said.pop("role") == role
    expected = dense.to_json()
    expected.pop("graphs")
    assert said == expected
    assert metadata_props(dense.to_json(), role) == props


def test_card_from_metadata_refuses_non_json() -> None:
    with pytest.raises(ModelIntegrityError, match=r"graph metadata 'aeinfer\.name' is not JSON"):
        card_from_metadata({"aeinfer.name": "{"})


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_graphs_carry_their_card(name: str) -> None:
    card = read_card(MODELS / name)
    expected = card.to_json()
    expected.pop("graphs")
    for role in ("encoder", "decoder"):
        session = ort_session(card.graph_path(role))
        said = card_from_metadata(session.get_modelmeta().custom_metadata_map)
        assert said.pop("role") == role
        assert said == expected


# -------------------------------------------------------------------------------- documentation


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda cls: cls.__name__)
def test_every_card_field_is_documented(cls: type) -> None:
    documented = field_docs(cls)
    public = [f.name for f in fields(cls) if not f.metadata.get("internal")]
    assert [name for name, _, _ in documented] == public
    for name, type_, doc in documented:
        assert type_, name
        assert doc.strip(), f"{cls.__name__}.{name} has no documentation"
    assert cls.__doc__ and cls.__doc__.strip()


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_adapter_parameter_is_documented(name: str) -> None:
    for f in fields(ADAPTERS[name].Params):
        assert f.metadata.get("doc", "").strip(), f"{name}.{f.name} has no documentation"


def test_item_axes_vocabulary() -> None:
    assert ITEM_AXES == {"image": ("channels", "height", "width"), "signal": ("channels", "time")}
