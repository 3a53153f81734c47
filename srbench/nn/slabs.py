"""Run the up-sampling head of a network slab by slab at inference, to bound its memory.

An RRDB generator's head (3³ conv to ``C·s³`` channels on the LR grid, pixel shuffle, two
3³ convs on the SR grid) holds about three ``C·s³``-channel LR tensors at once, several
times the trunk's activations. Its receptive field is one LR voxel plus two SR voxels, so
slabs with ``1 + ceil(2 / s)`` LR voxels of context (``s`` the factor along the slab axis)
give exactly the unsliced result.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from srbench.tiling import run_tiled, slab_plan

HEAD_SLABS = 2
"""Slabs of the head at inference: with in-place activations its peak then matches the
trunk's (an RRDB generator's), and the halo adds about 1 % of the head's work (measured in
benchmarks/README.md)."""


def run_head(head: Callable[[torch.Tensor], torch.Tensor], features: torch.Tensor, *, scale: tuple[int, int, int]) -> torch.Tensor:
    """``head(features)``, computed in slabs when autograd is off and the volume is large enough.

    Shapes: ``(B, C, w, h, d)`` LR features → ``head``'s ``(B, C', w·sx, h·sy, d·sz)``.
    """
    shape = tuple(int(n) for n in features.shape[2:])
    axis = max(range(3), key=lambda a: shape[a])
    halo = 1 + math.ceil(2 / scale[axis])
    if torch.is_grad_enabled() or shape[axis] < 2 * HEAD_SLABS * halo:
        return head(features)
    return run_tiled(features, head, plan=slab_plan(shape, slabs=HEAD_SLABS, halo=halo), out_scale=scale)  # type: ignore[arg-type]
