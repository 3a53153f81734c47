"""The HR foreground: srbench's one definition of "the foreground" of a reference volume.

A voxel is foreground when its intensity lies strictly above ``FOREGROUND_FRACTION``
(0.1) × the volume's ``FOREGROUND_PERCENTILE`` (99.9th) percentile (numpy's default
linear interpolation). The percentile instead of the maximum keeps a few hot voxels from
moving the threshold; the fraction assumes background near zero, as in MRI magnitude
images (on the demo heads it keeps the head and drops the air around it). On a
skull-stripped reference (background exactly 0) it is the brain less its darkest voxels
(CSF on T1w); on a whole-head reference it also holds scalp, fat and other non-brain
tissue above the threshold.

Used by:

- the ``kspace`` degradation's noise level, ``σ = mean(HR foreground) / snr``
  (:func:`srbench.data.degradations.foreground_mean`, on the HR volume in scanner units);
- :func:`foreground_bias`, the mean signed error over it, which the ``bias`` metric
  (:mod:`srbench.metrics.bias`) and the leaderboard figures' row labels report, on the HR
  volume after the metrics' intensity convention (its minimum mapped to 0, so for a volume whose minimum is 0 the
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


def foreground_bias(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """Mean of ``sr − hr`` over the foreground of ``hr`` (every voxel when it has none).

    Args:
        sr: ``(W, H, D)`` float32 volume, scaled by the intensity convention.
        hr: the ``(W, H, D)`` reference on the same grid and scale.

    Returns:
        The bias in units of the HR intensity range (a number in [−1, 1] for volumes in [0, 1]).
    """
    if sr.shape != hr.shape:
        raise ValueError(f"shapes differ: {tuple(sr.shape)} vs {tuple(hr.shape)}")
    reference = hr.detach().to(torch.float32)
    difference = sr.detach().to(device=reference.device, dtype=torch.float32) - reference  # a new tensor
    mask = foreground_mask(reference)
    count = int(torch.count_nonzero(mask))
    if count == 0:
        return float(difference.sum(dtype=torch.float64)) / difference.numel()
    # zeroing the background in place is 4× faster than gathering the foreground (20 M voxels)
    return float(difference.mul_(mask).sum(dtype=torch.float64)) / count
