"""Continuous voxel coordinates between an LR grid and the SR grid, on srbench's convention.

An SR voxel ``i`` at per-axis scale ``s`` (the effective scale ``n_out / n_in`` of
:func:`srbench.grid.effective_scale`) has its centre at the continuous LR voxel index
``u = (i + 0.5) / s − 0.5``: the inverse of :func:`srbench.grid.sr_affine`. Sampling at
``u`` with ``grid_sample(align_corners=False)`` uses the normalised coordinate
``(2u + 1) / n − 1`` of an LR axis with ``n`` voxels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def lr_positions(n_out: int, scale: float, *, start: int = 0, stop: int | None = None) -> torch.Tensor:
    """Continuous LR indices ``(i + 0.5) / scale − 0.5`` of SR voxels ``start ≤ i < stop``, float32 ``(K,)``."""
    stop = n_out if stop is None else stop
    i = torch.arange(start, stop, dtype=torch.float64)
    return ((i + 0.5) / scale - 0.5).to(torch.float32)


def normalised(positions: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """Map continuous indices ``(..., 3)`` on a grid of ``sizes`` (3,) voxels to ``[-1, 1]`` (align_corners=False)."""
    return (2.0 * positions + 1.0) / sizes.to(positions) - 1.0


def owner_ranges(n_out: int, n_in: int, scale: float, *, cores: Sequence[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Split an axis into tiles for tiled inference.

    ``cores`` are consecutive ``(start, stop)`` ranges of LR voxels partitioning
    ``[0, n_in)``; an SR voxel belongs to the core holding the LR voxel nearest to its
    centre. Returns, per core, ``(lr_start, lr_stop, sr_start, sr_stop)``; the SR ranges
    partition ``[0, n_out)``.
    """
    u = lr_positions(n_out, scale).to(torch.float64)
    owner = torch.clamp(torch.floor(u + 0.5), 0, n_in - 1).to(torch.int64)
    ranges = []
    for lr_start, lr_stop in cores:
        inside = torch.nonzero((owner >= lr_start) & (owner < lr_stop)).flatten()
        if inside.numel():
            ranges.append((lr_start, lr_stop, int(inside[0]), int(inside[-1]) + 1))
    return ranges
