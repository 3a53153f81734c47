"""The evaluation mask: which voxels the headline metrics measure, from the HR reference alone.

Whole-volume metrics on MRI are dominated by the background: on the skull-stripped demo
head 60.8 % of the voxels are exactly 0, and a post-process that zeroes whatever the LR
input says is dark lifts trilinear by 1.6 dB PSNR and SSIM from 0.49 to 0.90 without
changing one voxel of tissue. The headline metrics are therefore computed inside a mask
that every method shares and that no method can influence.

The rule (one rule for skull-stripped and whole-head references): the **HR foreground**,
voxels of the scaled HR reference strictly above 0.1 × its 99.9th percentile
(:mod:`srbench.data.foreground`: the one foreground srbench has, the one the ``kspace``
degradation's SNR uses). On a skull-stripped reference the background is exactly 0, so
this is the brain without its faintest edge voxels; on a whole-head or knee reference it
is the tissue without the air and its noise. A reference without foreground (a constant
volume) is measured over every voxel, so every metric stays defined.

What it leaves out besides the background: tissue darker than a tenth of the reference's
bright level (cortical bone, air in sinuses, flow voids), whose HR value is mostly noise.
Filling such enclosed holes was measured and rejected: it adds 0.3 % (heads) to 3.5 %
(knee) of voxels whose LR is dark too, and there a post-process that zeroes what the LR
calls dark moved the headline PSNR by up to 0.35 dB instead of 0.15 dB. No dilation either,
for the same reason: the band around the object is where an LR-only guess of the
background disagrees with the reference.

How the metrics use it (:func:`srbench.measurement.compute_metrics`): a metric that
declares ``masked = True`` receives the mask and reports its headline inside it; any other
metric receives the prediction with every voxel outside the mask replaced by the HR
reference's value (:func:`outside_replaced`), so no metric value can depend on what a
method writes into the background.
"""

from __future__ import annotations

import torch

from srbench.data.foreground import foreground_mask



def evaluation_mask(hr: torch.Tensor) -> torch.Tensor:
    """The evaluation mask of an HR reference.

    Args:
        hr: ``(W, H, D)`` HR reference after the intensity convention (scaled to [0, 1]
            by its own minimum and maximum, :mod:`srbench.metrics.convention`).

    Returns:
        ``(W, H, D)`` bool tensor on ``hr``'s device; all True when the rule selects nothing.
    """
    if hr.dim() != 3:
        raise ValueError(f"the evaluation mask needs a (W, H, D) volume, got shape {tuple(hr.shape)}")
    mask = foreground_mask(hr.detach().to(torch.float32))
    if not bool(mask.any()):
        return torch.ones(hr.shape, dtype=torch.bool, device=hr.device)
    return mask


def outside_replaced(sr: torch.Tensor, hr: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``sr`` inside ``mask`` and ``hr`` outside it: a new ``(W, H, D)`` tensor whose
    comparison with ``hr`` cannot depend on ``sr``'s background."""
    return torch.where(mask, sr, hr.to(sr.dtype))


def inside(volume: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The voxels of ``volume`` inside ``mask`` as a 1D tensor (every voxel when ``mask`` is None)."""
    return volume.reshape(-1) if mask is None else volume[mask]


def mask_fraction(mask: torch.Tensor) -> float:
    """Fraction of the volume's voxels inside ``mask`` (0 to 1)."""
    return float(torch.count_nonzero(mask)) / max(mask.numel(), 1)
