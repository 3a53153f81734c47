"""The intensity normalisation models see (documented in the README).

Every learned model works on LR intensities mapped by ``(x − lo) / (hi − lo)`` where
``lo`` is the LR volume's minimum and ``hi`` its 99.9th percentile, and maps its output
back with the inverse. The statistics come from the LR input only (a model never sees
HR), so datasets that differ only by an intensity scale give the same normalised input.
Training patches are normalised with the statistics of the training volume's own
degraded LR version.
"""

from __future__ import annotations

import torch

UPPER_PERCENTILE = 99.9


def normalisation_range(lr: torch.Tensor) -> tuple[float, float]:
    """``(lo, hi)`` for an LR volume of any shape: minimum and 99.9th percentile."""
    flat = lr.detach().reshape(-1).to(torch.float32)
    lo = float(flat.min())
    k = max(1, min(flat.numel(), int(round(flat.numel() * UPPER_PERCENTILE / 100.0))))
    hi = float(flat.kthvalue(k).values) if flat.numel() > 1 else lo
    if hi - lo <= 1e-8:
        hi = float(flat.max())
    if hi - lo <= 1e-8:  # constant volume: identity mapping shifted to 0
        hi = lo + 1.0
    return lo, hi


def normalise(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Map intensities so that ``lo → 0`` and ``hi → 1``."""
    return (x - lo) / (hi - lo)


def denormalise(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Inverse of :func:`normalise`."""
    return x * (hi - lo) + lo
