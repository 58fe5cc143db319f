"""The receptive radius of a fully convolutional autoencoder, measured by autograd.

The ``tiles`` adapter keeps each tile's core and throws away a margin around it; the result is
seamless only if the margin covers every input pixel an output pixel depends on. That distance
is measured on the torch modules: the gradient of one output pixel of decoder(encoder(x)) with
respect to x is non-zero exactly where that pixel looks. Several output positions (one per
phase of the model's stride grid) and several random inputs are combined, so a ReLU that happens
to be off for one input does not hide a dependency. A model whose output pixel depends on the
whole input (a global pooling or attention) cannot be tiled, and export says so.
"""

from __future__ import annotations

import torch
from torch import nn

from aeinfer.errors import ExportError

DRAWS = 3
START_SIDE = 64
MAX_SIDE = 1024


def receptive_radius(
    encoder: nn.Module, decoder: nn.Module, channels: int, multiple_of: int, spatial_dims: int = 2
) -> int:
    """The largest distance (in input pixels, along any free axis) between an output pixel and
    an input pixel it depends on."""
    side = max(START_SIDE, 4 * multiple_of)
    side += -side % multiple_of
    generator = torch.Generator().manual_seed(0)
    while side <= MAX_SIDE:
        shape = (1, channels, *([side] * spatial_dims))
        centre = (side // 2) - (side // 2) % multiple_of
        reach = 0
        for _ in range(DRAWS):
            for phase in range(multiple_of):
                x = torch.rand(shape, generator=generator).requires_grad_(True)
                out = decoder(encoder(x))
                position = (centre + phase,) * spatial_dims
                out[(0, slice(None), *position)].sum().backward()
                grad = x.grad
                if grad is None:  # pragma: no cover - an output that ignores its input
                    continue
                touched = grad.abs().sum(dim=(0, 1)) > 0
                for axis in range(spatial_dims):
                    hits = torch.nonzero(
                        touched.any(dim=tuple(a for a in range(spatial_dims) if a != axis))
                    )
                    if len(hits):
                        pos = position[axis]
                        reach = max(reach, int(pos - hits.min()), int(hits.max() - pos))
        if reach < side // 2 - multiple_of:
            return reach
        side *= 2
    raise ExportError(
        f"an output pixel depends on inputs more than {MAX_SIDE // 2} pixels away (a global "
        "operation?): this model cannot be served in tiles; export it with fixed sizes"
    )


__all__ = ["receptive_radius"]
