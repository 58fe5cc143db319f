"""The torch modules of a bundled model, rebuilt from its card and its ONNX graphs' weights.

The benchmark scripts compare ONNX Runtime with torch eager on the same weights. The training
checkpoints they would read (``runs/zoo/<family>/last.pt``) are git-ignored; without one, the
family's modules are built from the card's ``provenance.training.model_config`` and their
state is read from the fp32 graphs' initializers, which the exporter names after the modules'
parameters. Where a name is missing (a graph the exporter rewrote, like the sub-pixel fold of
the conv decoders) this raises: those models need their checkpoint.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

import aeinfer
from aeinfer.card import FP32, ROLES, Card
from aeinfer.train.registry import get_family
from aeinfer.train.trainer import config_of


class NotRebuildable(Exception):
    """The graphs do not hold the modules' parameters under their names."""


def modules_of_card(card: Card) -> tuple[Any, torch.nn.Module, torch.nn.Module]:
    """(family module, encoder, decoder) of the card's architecture, freshly initialised."""
    family = get_family(card.family)
    stored = card.provenance["training"]["model_config"]
    # Keep only the config's own fields: v1 cards also recorded derived sizes (input_dim).
    fields = {f.name for f in dataclasses.fields(family.Config)}
    config = config_of(family, {key: stored[key] for key in stored if key in fields})
    encoder, decoder = family.build(config)
    return family, encoder.eval(), decoder.eval()


def modules_from_graphs(name: str) -> tuple[Any, torch.nn.Module, torch.nn.Module]:
    """(family module, encoder, decoder) of bundled model ``name``, in eval mode, with the
    weights of its fp32 graphs."""
    import onnx  # here: modules_of_card alone must not pay for importing it
    from onnx import numpy_helper

    card = aeinfer.load(name, device="cpu").card
    family, encoder, decoder = modules_of_card(card)
    for role, module in zip(ROLES, (encoder, decoder), strict=True):
        graph = onnx.load(str(card.graph_path(role, FP32))).graph
        weights = {init.name: init for init in graph.initializer}
        state = {}
        for key, value in module.state_dict().items():
            if key not in weights:
                raise NotRebuildable(f"{name} {role}: the graph has no weight named {key!r}")
            array = numpy_helper.to_array(weights[key])
            if tuple(array.shape) != tuple(value.shape):
                raise NotRebuildable(f"{name} {role}: {key} is {array.shape}, not {value.shape}")
            state[key] = torch.from_numpy(array.copy())
        module.load_state_dict(state)
        module.eval()
    return family, encoder, decoder
