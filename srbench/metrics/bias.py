"""Intensity bias: the mean signed error of SR against HR over the HR foreground.

``bias(sr, hr) = Σ_F (sr − hr) / |F|`` on the volumes the intensity convention hands every
metric (:mod:`srbench.metrics.convention`: both scaled by the HR reference's minimum and
maximum, so HR spans [0, 1], SR then clipped to [0, 1]). The value is therefore in units
of the HR intensity range, within [−1, 1]: ``+0.042`` means that inside the foreground SR
is on average 4.2 % of the HR range brighter than HR, ``−0.042`` as much darker, 0 that it
is unbiased (identical volumes give exactly 0).

In an evaluation ``F`` is the evaluation mask (:mod:`srbench.metrics.mask`), which is the
HR foreground of :mod:`srbench.data.foreground`, as it is without a mask: the voxels of the scaled
HR volume strictly above 0.1 × its 99.9th percentile (the convention maps the HR minimum
to 0, so for an MRI volume whose minimum is 0 these are the voxels above 0.1 × the 99.9th
percentile in scanner units, the same voxels the ``kspace`` degradation's SNR uses). Air
is left out so that a method's offset is not diluted by how much background a field of
view holds. When ``F`` is empty (a constant HR volume, or one with at least 99.9 % of its
voxels at its minimum) the mean is taken over every voxel instead, so the value is always
finite, never NaN (the results store refuses NaN).

It is a diagnostic, not a score: its output declares no better direction (``outputs =
{"bias": None}``, see :class:`srbench.interfaces.Metric`), so leaderboards show it signed
and never rank by it. PSNR, SSIM and NRMSE penalise a bias without showing it (a uniform
offset ``b`` alone limits PSNR to ``−20 log10 |b|`` dB: 32 dB for ``b = 0.025``). Because SR is clipped to the HR range,
an overshoot above the HR maximum counts only up to the maximum (and an undershoot only
down to the minimum); near the ends of the range the bias is then smaller in magnitude
than in scanner units.

The sum is accumulated in float64 over float32 differences; the metric is not symmetric
(the foreground comes from HR, and swapping the arguments flips the sign).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import torch

from srbench.data.foreground import foreground_bias
from srbench.interfaces import ColumnDisplay
from srbench.metrics.mask import inside


class BiasMetric:
    """The ``bias`` diagnostic (signed; no better direction) as a :class:`~srbench.interfaces.Metric`."""

    name = "bias"
    description = (
        "mean signed error SR − HR inside the evaluation mask (the HR foreground), as a "
        "fraction of the HR intensity range; 0 = unbiased, + = brighter than HR"
    )
    outputs = MappingProxyType({"bias": None})
    display = MappingProxyType({"bias": ColumnDisplay(label="Bias", percent=True)})
    symmetric = False
    masked = True

    def compute(self, sr: torch.Tensor, hr: torch.Tensor, *, affine: np.ndarray | None = None,
                mask: torch.Tensor | None = None) -> dict[str, float]:
        """``{"bias": value}`` for ``(W, H, D)`` volumes already scaled to [0, 1], over the
        ``(W, H, D)`` bool evaluation ``mask`` when given, else over the HR foreground."""
        if mask is None:
            return {"bias": foreground_bias(sr, hr)}
        difference = inside(sr, mask).to(torch.float32) - inside(hr, mask).to(torch.float32)
        return {"bias": float(difference.sum(dtype=torch.float64)) / max(difference.numel(), 1)}
