"""Synthetic volumes and affines for the conformance battery, srbench's own tests and the
evaluation's time estimate (no data files needed).

Intensities imitate scanner units (roughly 0 to 1000) so a model that forgets the
intensity normalisation of :mod:`srbench.data.intensity` is caught; affines are oblique
(rotated, anisotropic, translated) so a model that ignores them is caught as well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from srbench.interfaces import Volume


def smooth_volume(
    shape: Sequence[int], *, seed: int, low: float = 20.0, high: float = 900.0, border: int = 0
) -> torch.Tensor:
    """A smooth positive ``(W, H, D)`` float32 volume: a few Gaussian blobs plus a little noise.

    Args:
        shape: ``(W, H, D)`` in voxels.
        seed: the only source of randomness.
        low, high: approximate intensity range, in arbitrary scanner units.
        border: voxels of exact zero (air around a head) on every face.
    """
    generator = torch.Generator().manual_seed(int(seed))
    axes = [torch.linspace(0.0, 1.0, int(n), dtype=torch.float64) for n in shape]
    grids = torch.meshgrid(*axes, indexing="ij")
    out = torch.zeros(tuple(int(n) for n in shape), dtype=torch.float64)
    for _ in range(5):
        centre = 0.2 + 0.6 * torch.rand(3, generator=generator, dtype=torch.float64)
        width = 0.15 + 0.2 * float(torch.rand(1, generator=generator))
        weight = 0.5 + float(torch.rand(1, generator=generator))
        distance = sum((g - float(c)) ** 2 for g, c in zip(grids, centre, strict=True))
        out += weight * torch.exp(-distance / (2 * width**2))
    out = out / out.max()
    out += 0.02 * torch.rand(out.shape, generator=generator, dtype=torch.float64)
    out = low + (high - low) * out
    if border:
        inside = out[border:-border, border:-border, border:-border].clone()
        out.zero_()
        out[border:-border, border:-border, border:-border] = inside
    return out.to(torch.float32)


def unit_volume(shape: Sequence[int], *, seed: int) -> torch.Tensor:
    """A smooth ``(W, H, D)`` float32 volume scaled to exactly [0, 1] (what metrics receive)."""
    volume = smooth_volume(shape, seed=seed).to(torch.float64)
    volume = (volume - volume.min()) / (volume.max() - volume.min())
    return volume.to(torch.float32)


def oblique_affine(spacing: Sequence[float] = (1.2, 0.9, 2.0)) -> np.ndarray:
    """A 4×4 float64 voxel→world affine: rotated 30° about z, voxel sizes ``spacing`` (mm), off-origin."""
    angle = math.radians(30.0)
    rotation = np.array(
        [[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0], [0.0, 0.0, 1.0]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([float(s) for s in spacing])
    affine[:3, 3] = [-31.5, 12.25, 7.0]
    return affine


def lr_volume(shape: Sequence[int], *, seed: int = 0) -> Volume:
    """An LR :class:`~srbench.interfaces.Volume` of ``shape`` ``(W, H, D)`` voxels: a
    :func:`smooth_volume` with the :func:`oblique_affine`; its source names no file."""
    return Volume(data=smooth_volume(shape, seed=seed), affine=oblique_affine(), source="synthetic LR volume")
