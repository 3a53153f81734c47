"""Peak signal-to-noise ratio inside the evaluation mask and over the whole volume.

``psnr(sr, hr)`` equals ``skimage.metrics.peak_signal_noise_ratio(hr, sr, data_range=1)``
on the same float32 arrays (to about 1e-6 dB): ``10 · log10(data_range² / MSE)`` with the
mean squared error accumulated in float64 (see :mod:`srbench.metrics.reductions`).

The headline ``psnr`` is computed over the voxels of the evaluation mask
(:mod:`srbench.metrics.mask`); ``psnr_volume`` over every voxel (the value scikit-image
gives). Identical volumes have MSE 0 and PSNR ``+inf`` (``float("inf")``, as scikit-image
returns); results stores keep it as an IEEE infinity.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import torch

from srbench.interfaces import ColumnDisplay
from srbench.metrics.mask import inside
from srbench.metrics.reductions import square_sums


def mean_squared_error(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """Mean of ``(sr - hr)²`` over all voxels of two same-shaped float32 tensors."""
    sums = square_sums(sr, hr)
    return sums.error / sums.count


def psnr(sr: torch.Tensor, hr: torch.Tensor, *, data_range: float = 1.0) -> float:
    """PSNR in dB of ``sr`` against ``hr``, both ``(W, H, D)`` float32 in [0, ``data_range``].

    Returns ``math.inf`` when the volumes are identical.
    """
    mse = mean_squared_error(sr, hr)
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(float(data_range) ** 2 / mse)


class PSNRMetric:
    """The ``psnr`` metric (dB, higher is better) as a :class:`~srbench.interfaces.Metric`."""

    name = "psnr"
    description = (
        "peak signal-to-noise ratio inside the evaluation mask, dB (data range 1); psnr_volume: over every voxel "
        "(= skimage peak_signal_noise_ratio)"
    )
    outputs = MappingProxyType({"psnr": True, "psnr_volume": True})
    display = MappingProxyType({
        "psnr": ColumnDisplay(label="PSNR", order=10, unit="dB", key=True),
        "psnr_volume": ColumnDisplay(label="PSNR whole volume", group="psnr", order=10, unit="dB"),
    })
    symmetric = True
    masked = True

    def compute(self, sr: torch.Tensor, hr: torch.Tensor, *, affine: np.ndarray | None = None,
                mask: torch.Tensor | None = None) -> dict[str, float]:
        """``{"psnr": dB inside mask, "psnr_volume": dB}`` for ``(W, H, D)`` volumes already
        scaled to [0, 1]; ``mask`` is the ``(W, H, D)`` bool evaluation mask (None: every voxel)."""
        return {"psnr": psnr(inside(sr, mask), inside(hr, mask), data_range=1.0),
                "psnr_volume": psnr(sr, hr, data_range=1.0)}
