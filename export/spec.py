"""What a model is, told from its example batch and a few keywords: the card's shapes.

The example is one batch in the encoder's input layout, and it says most of it:

- ``(N, C, H, W)`` — an image item (C, H, W), C = 1 (grey) or 3 (RGB);
- ``(N, C, T)`` — a signal item (C, T);
- ``(N, D)`` — a flat input: the item it flattens is ``item_shape`` — (1, 28, 28) for MNIST's
  dense models — or, by default, a one-channel signal of D values.

``item_shape`` also covers graphs that leave out size-1 axes (an LSTM reading (N, 28, 28) rows
of a (1, 28, 28) image). ``free_axes`` names the item axes of any size (a fully convolutional
model: ``("height", "width")``; a 1-D one: ``("time",)``), whose sizes must then be multiples of
``multiple_of``. The latent's axes follow from running the encoder: a vector, or a feature map
whose free axes follow the input's by a stride (measured, and checked to be whole).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aeinfer.card import (
    BATCH,
    CHANNELS,
    FEATURES,
    HEIGHT,
    IMAGE,
    ITEM_AXES,
    SIGNAL,
    TIME,
    WIDTH,
    Axis,
)
from aeinfer.errors import ExportError

IMAGE_CHANNELS = {1: ("L",), 3: ("R", "G", "B")}


@dataclass(frozen=True)
class Layout:
    """The item a model takes and how its graph holds it."""

    modality: str
    item: tuple[Axis, ...]
    """The item's axes (channels, height, width / channels, time)."""
    graph: tuple[Axis, ...]
    """The encoder input's axes after the batch axis (the item's, without size-1 axes, or one
    features axis)."""
    channels: tuple[str, ...]

    @property
    def free(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.item if a.size is None)

    def tensor_axes(self) -> list[dict[str, object]]:
        return [axis_json(Axis(BATCH, None)), *(axis_json(a) for a in self.graph)]


def axis_json(axis: Axis) -> dict[str, object]:
    out: dict[str, object] = {"name": axis.name, "size": axis.size}
    if axis.multiple_of != 1:
        out["multiple_of"] = axis.multiple_of
    if axis.stride is not None:
        out["stride"] = axis.stride
    return out


def layout_of(
    example_shape: Sequence[int],
    item_shape: Sequence[int] | None,
    free_axes: Sequence[str],
    multiple_of: int,
    channel_names: Sequence[str] | None,
) -> Layout:
    """The :class:`Layout` an example of ``example_shape`` (batch first) and the keywords say."""
    per_item = tuple(int(s) for s in example_shape[1:])
    if item_shape is None:
        if len(per_item) == 3 or len(per_item) == 2:
            item_shape = per_item
        elif len(per_item) == 1:
            item_shape = (1, per_item[0])
        else:
            raise ExportError(
                f"example of shape {tuple(example_shape)}: expected (N, C, H, W) images, "
                "(N, C, T) signals or (N, D) flat inputs"
            )
    item_shape = tuple(int(s) for s in item_shape)
    modality = {3: IMAGE, 2: SIGNAL}.get(len(item_shape))
    if modality is None:
        raise ExportError(f"item_shape {item_shape}: an item is (C, H, W) or (C, T)")
    names = ITEM_AXES[modality]
    if modality == IMAGE and item_shape[0] not in IMAGE_CHANNELS and channel_names is None:
        raise ExportError(
            f"an image item has 1 (grey) or 3 (RGB) channels, the example has {item_shape[0]}; "
            "for other data pass it as a signal (N, C, T) or name the channels"
        )
    unknown = sorted(set(free_axes) - set(names[1:]))
    if unknown:
        raise ExportError(
            f"free_axes {', '.join(unknown)}: a {modality}'s free axes are among "
            f"{', '.join(names[1:])}"
        )
    if multiple_of < 1 or (multiple_of > 1 and not free_axes):
        raise ExportError("multiple_of applies to free axes (and must be ≥ 1)")
    item = tuple(
        Axis(n, None, multiple_of) if n in free_axes else Axis(n, s)
        for n, s in zip(names, item_shape, strict=True)
    )
    for axis, size in zip(item, item_shape, strict=True):
        if axis.size is None and size % multiple_of:
            raise ExportError(
                f"the example's {axis.name} {size} is not a multiple of {multiple_of}"
            )
    if per_item == item_shape:
        graph = item
    elif len(per_item) == 1 and per_item[0] == math.prod(item_shape) and not free_axes:
        graph = (Axis(FEATURES, per_item[0]),)
    elif per_item == tuple(s for s in item_shape if s != 1):
        graph = tuple(a for a, s in zip(item, item_shape, strict=True) if s != 1)
    else:
        raise ExportError(
            f"example of shape {tuple(example_shape)} does not hold items of shape {item_shape}: "
            "it must be the item, the item without size-1 axes, or the item flattened"
        )
    if channel_names is None:
        channels = IMAGE_CHANNELS.get(item_shape[0]) if modality == IMAGE else None
        channels = channels or tuple(f"c{i}" for i in range(item_shape[0]))
    else:
        channels = tuple(str(c) for c in channel_names)
        if len(channels) != item_shape[0]:
            raise ExportError(f"{len(channels)} channel names for {item_shape[0]} channels")
    return Layout(modality, item, graph, channels)


def latent_axes(
    code_shape: Sequence[int], example_shape: Sequence[int], layout: Layout
) -> tuple[Axis, ...]:
    """The latent's axes, from a code's shape (per item) and the example's: a vector is one
    features axis; a map (channels, height, width) / (channels, time) keeps the item's names,
    its free axes following the input's by a whole stride."""
    code = tuple(int(s) for s in code_shape)
    if len(code) == 1:
        if layout.free:
            raise ExportError(
                "a model of free input size needs a feature-map latent (its code is a vector, "
                f"{code}); a flattening layer fixes the input size"
            )
        return (Axis(FEATURES, code[0]),)
    names = ITEM_AXES[layout.modality] if len(code) == len(layout.item) else None
    if names is None:
        if layout.free:
            raise ExportError(f"latent of shape {code} cannot follow free input axes")
        return tuple(Axis(f"dim{i}", s) for i, s in enumerate(code))
    sizes = dict(
        zip((a.name for a in layout.item), example_shape[-len(layout.item) :], strict=True)
    )
    axes = [Axis(CHANNELS, code[0])]
    for name, size in zip(names[1:], code[1:], strict=True):
        if name not in layout.free:
            axes.append(Axis(name, size))
            continue
        stride, rest = divmod(sizes[name], size)
        if rest or stride < 1:
            raise ExportError(
                f"latent {name} {size} is not the input's {sizes[name]} over a whole stride"
            )
        multiple = next(a.multiple_of for a in layout.item if a.name == name)
        if multiple % stride:
            raise ExportError(
                f"the encoder divides {name} by {stride}: declare multiple_of as a multiple "
                f"of {stride}"
            )
        axes.append(Axis(name, None, stride=stride))
    return tuple(axes)


SPATIAL = (HEIGHT, WIDTH, TIME)

__all__ = ["Layout", "axis_json", "latent_axes", "layout_of"]
