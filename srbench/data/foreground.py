"""The HR foreground: srbench's one definition of "the foreground" of a reference volume.

A voxel is foreground when its intensity lies strictly above ``FOREGROUND_FRACTION``
(0.1) × the volume's ``FOREGROUND_PERCENTILE`` (99.9th) percentile (numpy's default
linear interpolation). The percentile instead of the maximum keeps a few hot voxels from
moving the threshold; the fraction assumes background near zero, as in MRI magnitude
images (on the demo heads it keeps the head and drops the air around it).

Used by:

- the ``kspace`` degradation's noise level, ``σ = mean(HR foreground) / snr``
  (:func:`srbench.data.degradations.foreground_mean`, on the HR volume in scanner units);
- the ``bias`` metric (:mod:`srbench.metrics.bias`), on the HR volume after the metrics'
  intensity convention (its minimum mapped to 0, so for a volume whose minimum is 0 the
  foreground is the same set of voxels as in scanner units).

A volume with no voxel above the threshold (a constant one, or one with at least 99.9 %
of its voxels at one value that is its maximum) has an empty foreground; each user says
what it does then.
"""

from __future__ import annotations

import numpy as np
import torch

#: a voxel is foreground strictly above this fraction ...
FOREGROUND_FRACTION = 0.1
#: ... of this percentile of the volume (linear interpolation, numpy's default)
FOREGROUND_PERCENTILE = 99.9


def foreground_threshold(values: np.ndarray) -> float:
    """``FOREGROUND_FRACTION × percentile(values, FOREGROUND_PERCENTILE)``, computed in the
    dtype of ``values`` (an array of any shape, e.g. one volume's voxels)."""
    return float(FOREGROUND_FRACTION * np.percentile(values, FOREGROUND_PERCENTILE))


def foreground_mask(volume: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the foreground voxels of ``volume`` (any shape, e.g. ``(W, H, D)``),
    on its device; all False when the foreground is empty."""
    values = volume.detach()
    threshold = foreground_threshold(values.cpu().numpy().reshape(-1))
    return values > threshold
