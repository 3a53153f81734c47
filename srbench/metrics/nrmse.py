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

import torch

from srbench.metrics.reductions import square_sums


def nrmse(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """NRMSE of ``sr`` against the reference ``hr``, both ``(W, H, D)`` float32 (unitless)."""
    sums = square_sums(sr, hr, reference=True)
    if sums.reference == 0.0:
        return 0.0 if sums.error == 0.0 else math.inf
    return math.sqrt(sums.error / sums.count) / math.sqrt(sums.reference / sums.count)
