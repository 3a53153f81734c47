"""Normalised root mean squared errors: Euclidean (scikit-image's) and by the data range (the paper's).

Two normalisations, both named on every board:

- ``nrmse`` (Euclidean), computed inside the evaluation mask (:mod:`srbench.metrics.mask`);
  ``nrmse_volume`` is the same over every voxel;
- ``nrmse_range``: ``sqrt(mean((sr - hr)²)) / (max(hr) - min(hr))`` inside the mask, the
  root mean squared error over the HR reference's intensity range, the normalisation of the
  reference paper's Table I (under the intensity convention the range is 1, so it equals
  the RMSE, and ``psnr = -20 log10(nrmse_range)`` over the same voxels).

``nrmse(sr, hr)`` equals ``skimage.metrics.normalized_root_mse(hr, sr)`` (its default
``normalization='euclidean'``): ``sqrt(mean((sr - hr)²)) / sqrt(mean(hr²))``. The HR
volume is the reference, so the metric is not symmetric.

An all-zero HR volume has no norm (under the intensity convention this is what a constant
HR reference becomes). scikit-image then divides by zero; here the value is defined as
0 when SR is all zero too (identical volumes) and ``+inf`` otherwise, never NaN.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import torch

from srbench.interfaces import ColumnDisplay
from srbench.metrics.mask import inside
from srbench.metrics.reductions import square_sums


def nrmse(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """Euclidean NRMSE of ``sr`` against the reference ``hr``, equal-shaped float32 (unitless)."""
    sums = square_sums(sr, hr, reference=True)
    if sums.reference == 0.0:
        return 0.0 if sums.error == 0.0 else math.inf
    return math.sqrt(sums.error / sums.count) / math.sqrt(sums.reference / sums.count)


def range_rmse(sr: torch.Tensor, hr: torch.Tensor, *, data_range: float = 1.0) -> float:
    """RMSE of ``sr`` against ``hr`` divided by ``data_range`` (unitless; any equal shapes)."""
    sums = square_sums(sr, hr)
    return math.sqrt(sums.error / max(sums.count, 1)) / float(data_range)


class NRMSEMetric:
    """The ``nrmse`` metric (lower is better; HR is the reference) as a :class:`~srbench.interfaces.Metric`."""

    name = "nrmse"
    description = (
        "nrmse: RMSE / root mean square of HR inside the evaluation mask (Euclidean, = skimage normalized_root_mse); "
        "nrmse_range: RMSE / HR intensity range inside the mask (the paper's Table I); nrmse_volume: Euclidean, every voxel"
    )
    outputs = MappingProxyType({"nrmse": False, "nrmse_range": False, "nrmse_volume": False})
    display = MappingProxyType({
        "nrmse": ColumnDisplay(label="NRMSE (Euclidean)", order=30),
        "nrmse_range": ColumnDisplay(label="NRMSE (range)", order=31),
        "nrmse_volume": ColumnDisplay(label="NRMSE (Euclidean) whole volume", group="nrmse", order=30),
    })
    symmetric = False
    masked = True

    def compute(self, sr: torch.Tensor, hr: torch.Tensor, *, affine: np.ndarray | None = None,
                mask: torch.Tensor | None = None) -> dict[str, float]:
        """The three columns for ``(W, H, D)`` volumes already scaled to [0, 1] (so the HR
        range is 1); ``mask`` is the ``(W, H, D)`` bool evaluation mask (None: every voxel)."""
        sr_in, hr_in = inside(sr, mask), inside(hr, mask)
        return {"nrmse": nrmse(sr_in, hr_in), "nrmse_range": range_rmse(sr_in, hr_in), "nrmse_volume": nrmse(sr, hr)}
