"""Normalised root mean squared error, equal to scikit-image's (Euclidean normalisation).

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
from srbench.metrics.reductions import square_sums


def nrmse(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """NRMSE of ``sr`` against the reference ``hr``, both ``(W, H, D)`` float32 (unitless)."""
    sums = square_sums(sr, hr, reference=True)
    if sums.reference == 0.0:
        return 0.0 if sums.error == 0.0 else math.inf
    return math.sqrt(sums.error / sums.count) / math.sqrt(sums.reference / sums.count)


class NRMSEMetric:
    """The ``nrmse`` metric (lower is better; HR is the reference) as a :class:`~srbench.interfaces.Metric`."""

    name = "nrmse"
    description = "root mean squared error / root mean square of HR (= skimage normalized_root_mse, euclidean)"
    outputs = MappingProxyType({"nrmse": False})
    display = MappingProxyType({"nrmse": ColumnDisplay(label="NRMSE", order=30)})
    symmetric = False

    def compute(self, sr: torch.Tensor, hr: torch.Tensor, *, affine: np.ndarray | None = None) -> dict[str, float]:
        """``{"nrmse": value}`` for ``(W, H, D)`` volumes already scaled to [0, 1]."""
        return {"nrmse": nrmse(sr, hr)}
