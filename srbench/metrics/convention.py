"""The one intensity convention every metric uses: HR min/max → [0, 1], SR clipped.

Methods output intensities in the scanner units of their input, so before any metric the
SR volume and its HR reference are mapped together, by the same affine intensity map
taken from the HR reference alone:

``hr01 = (hr - min(hr)) / (max(hr) - min(hr))`` (so ``hr01`` spans exactly [0, 1]) and
``sr01 = clip((sr - min(hr)) / (max(hr) - min(hr)), 0, 1)``.

Clipping stops a method from being rewarded or punished for values outside the
reference's range (which the metrics' ``data_range = 1`` assumes). A constant HR
reference has no range; it is mapped with a range of 1 instead (``hr01`` is then all
zeros), so no NaN can appear. The name and description below are written into every
leaderboard header.

Why the maximum and not a robust percentile: the range only fixes the units of PSNR's
peak and of NRMSE (range); a percentile would clip the reference's brightest tissue
(vessels, fat) to the peak and hide errors there, and the range is the reference's, the
same for every method, so no method can move it.
"""

from __future__ import annotations

import torch

from srbench.errors import SrbenchRuntimeError

#: ``-mask``: headline metrics inside the evaluation mask (:mod:`srbench.metrics.mask`);
#: rows of the whole-volume convention before it (``hr-minmax-01``) are never mixed with these
CONVENTION_NAME = "hr-minmax-01-mask"
CONVENTION_DESCRIPTION = (
    "SR and HR scaled by the HR reference's min and max over the whole volume to [0, 1], data range 1 "
    "(the HR maximum, not a percentile: the reference's own brightest voxel is the peak); SR then clipped to "
    "[0, 1], so undershoot below the HR minimum counts as the minimum and overshoot above the maximum as the "
    "maximum; headline metrics inside the evaluation mask (HR voxels > 0.1 × the HR 99.9th percentile; "
    "outside it the prediction is replaced by the reference), whole-volume values as "
    "secondary columns"
)


def scale_pair(sr: torch.Tensor, hr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Map ``sr`` and ``hr`` to [0, 1] by the HR reference's min and max.

    Args:
        sr: ``(W, H, D)`` super-resolved volume, any real dtype, scanner units.
        hr: ``(W, H, D)`` reference volume on the same grid, same units.

    Returns:
        ``(sr01, hr01)``: new contiguous float32 tensors of shape ``(W, H, D)`` in [0, 1],
        on ``hr``'s device.

    Raises:
        SrbenchRuntimeError: the shapes differ, or a volume holds NaN or infinite voxels
            (a model that produced them must not get a score).
    """
    if sr.shape != hr.shape:
        raise SrbenchRuntimeError(
            f"cannot compare volumes of different shapes: SR {tuple(sr.shape)} vs HR {tuple(hr.shape)}"
        )
    if sr.dim() != 3:
        raise SrbenchRuntimeError(f"metrics need 3D (W, H, D) volumes, got shape {tuple(sr.shape)}")
    hr32 = hr.detach().to(dtype=torch.float32)
    sr32 = sr.detach().to(device=hr32.device, dtype=torch.float32)
    for name, volume in (("SR", sr32), ("HR", hr32)):
        if not bool(torch.isfinite(volume).all()):
            raise SrbenchRuntimeError(f"the {name} volume contains NaN or infinite voxels; it cannot be scored")
    lo, hi = (float(v) for v in torch.aminmax(hr32))
    span = hi - lo
    if not span > 0.0:
        span = 1.0
    scale = 1.0 / span
    hr01 = (hr32 - lo).mul_(scale).clamp_(0.0, 1.0)
    sr01 = (sr32 - lo).mul_(scale).clamp_(0.0, 1.0)
    return sr01.contiguous(), hr01.contiguous()
