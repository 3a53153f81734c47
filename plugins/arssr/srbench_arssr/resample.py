"""Exact area (box-filter) down-sampling to any size, on srbench's grid convention.

An output voxel ``i`` of an axis going from ``n`` to ``m`` voxels covers the input interval
``[i·r, (i+1)·r)`` with ``r = n / m`` (in input voxel edges); its value is the mean of the
input over that interval, input voxels partly inside counted by the covered fraction. Its
centre is input index ``(i + 0.5)·r − 0.5``, the LR voxel centre of :func:`srbench.grid.lr_affine`
for the effective scale ``r``. For an integer ``r`` this is exactly the ``paper-linear``
degradation (the mean of each ``r``-voxel block).
"""

from __future__ import annotations

import torch


def area_matrix(n_in: int, n_out: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(n_out, n_in)`` weights whose rows sum to 1 (the covered fraction of each input voxel)."""
    ratio = n_in / n_out
    i = torch.arange(n_out, dtype=torch.float64)[:, None]
    j = torch.arange(n_in, dtype=torch.float64)[None, :]
    overlap = torch.minimum(j + 1, (i + 1) * ratio) - torch.maximum(j, i * ratio)
    return (overlap.clamp_min(0) / ratio).to(dtype)


def area_downsample(x: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
    """Area-average ``(B, C, W, H, D)`` to ``(B, C, *size)`` (each output size ≤ the input's)."""
    mw, mh, md = (area_matrix(n, m, dtype=x.dtype).to(x.device) for n, m in zip(x.shape[-3:], size, strict=True))
    return torch.einsum("bcxyz,ix,jy,kz->bcijk", x, mw, mh, md)
