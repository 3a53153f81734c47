"""ESRGAN-3D's configuration and its ``paper`` and ``cpu`` presets.

One run has two stages, both through the core training loop:

1. **VGG stage** (``vgg_iterations`` steps, sub-run ``<run>/vgg/``): the 3D VGG-19 learns
   to grade how much of the track's degradation was blended into an HR training patch
   (:mod:`srbench_esrgan3d.pretext`).
2. **GAN stage** (``iterations`` steps, the run itself): ESRGAN's schedule, a PSNR-oriented
   L1 warm-up of the generator for the first ``warmup_fraction`` of the steps, then the GAN phase with
   ``perceptual_weight·L_percep + gan_weight·L_G^Ra + pixel_weight·L1`` and the
   discriminator on ``L_D^Ra``. Learning rates halve at the given fractions of each phase.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from srbench.errors import InputError
from srbench.training.config import TrainingConfig

from srbench_esrgan3d.networks import discriminator_output_size


@dataclasses.dataclass
class Esrgan3dConfig(TrainingConfig):
    """ESRGAN-3D options (sizes in voxels, learning rates for Adam).

    Attributes:
        channels: generator feature channels (ESRGAN: 64).
        growth: dense-block growth channels (ESRGAN: 32).
        blocks: number of RRDBs in the generator trunk.
        residual_scale: scaling of the residual branches (ESRGAN: 0.2).
        global_residual: add trilinear interpolation of the LR input to the output.
        d_channels: discriminator width of its first stage (ESRGAN: 64).
        d_stages: stride-2 stages of the discriminator (ESRGAN: 5).
        d_hidden: hidden linear width of the discriminator (ESRGAN: 100).
        vgg_width: first-layer width of the 3D VGG-19 (VGG-19: 64).
        vgg_batch_norm: batch norm after each VGG conv (``vgg19_bn`` layout).
        vgg_levels: degradation levels the VGG learns to tell apart (pre-training task).
        vgg_iterations: steps of the VGG pre-training stage.
        vgg_lr: Adam learning rate of the VGG stage.
        warmup_fraction: fraction of ``iterations`` spent in the PSNR-oriented (L1 only)
            warm-up at the start of the GAN stage (ESRGAN: 1M warm-up, then 400k GAN).
        warmup_lr: generator learning rate of the warm-up (ESRGAN: 2e-4).
        warmup_milestones: fractions of the warm-up where its learning rate halves
            (ESRGAN: every 200k of 1M steps).
        lr: generator and discriminator learning rate of the GAN phase (ESRGAN: 1e-4).
        gan_milestones: fractions of the GAN phase where the learning rates halve
            (ESRGAN: 50k, 100k, 200k, 300k of 400k steps).
        beta1, beta2: Adam's coefficients (ESRGAN: 0.9, 0.999).
        perceptual_weight: weight of L_percep (ESRGAN: 1).
        gan_weight: weight of L_G^Ra (ESRGAN: 0.005).
        pixel_weight: weight of the L1 loss in the GAN phase (ESRGAN: 0.01).
    """

    channels: int = 64
    growth: int = 32
    blocks: int = 3
    residual_scale: float = 0.2
    global_residual: bool = False
    d_channels: int = 64
    d_stages: int = 5
    d_hidden: int = 100
    vgg_width: int = 64
    vgg_batch_norm: bool = True
    vgg_levels: int = 4
    vgg_iterations: int = 20000
    vgg_lr: float = 1e-4
    warmup_fraction: float = 0.25
    warmup_lr: float = 2e-4
    warmup_milestones: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
    lr: float = 1e-4
    gan_milestones: tuple[float, ...] = (0.125, 0.25, 0.5, 0.75)
    beta1: float = 0.9
    beta2: float = 0.999
    perceptual_weight: float = 1.0
    gan_weight: float = 0.005
    pixel_weight: float = 0.01

    def validate(self) -> None:
        super().validate()
        positive = ("channels", "growth", "blocks", "d_channels", "d_stages", "d_hidden", "vgg_width", "vgg_iterations")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise InputError(f"option {name}: must be a positive integer, got {getattr(self, name)!r}")
        if self.vgg_levels < 2:
            raise InputError(f"option vgg_levels: needs at least 2 levels, got {self.vgg_levels}")
        if not 0.0 <= float(self.warmup_fraction) <= 1.0:
            raise InputError(f"option warmup_fraction: must be a fraction in [0, 1], got {self.warmup_fraction!r}")
        for name in ("warmup_milestones", "gan_milestones"):
            values = getattr(self, name)
            if any(not 0.0 < float(v) < 1.0 for v in values) or list(values) != sorted(values):
                raise InputError(f"option {name}: expected increasing fractions in (0, 1), got {values!r}")
        for name in ("vgg_lr", "warmup_lr", "lr"):
            if float(getattr(self, name)) <= 0:
                raise InputError(f"option {name}: must be positive, got {getattr(self, name)!r}")
        if min(discriminator_output_size((self.patch_size,) * 3, stages=self.d_stages)) < 1:
            raise InputError(
                f"option patch_size: {self.patch_size} is too small for d_stages={self.d_stages} "
                f"(needs at least {2**self.d_stages})"
            )
        if self.patch_size % 16:
            raise InputError(f"option patch_size: the VGG-19 pools 4 times, so it must be a multiple of 16, got {self.patch_size}")


PAPER_DEVIATIONS: tuple[str, ...] = (
    "generator trunk of 3 RRDBs instead of ESRGAN's 23 (the three-player GAN's generator size; "
    "the paper does not state the ESRGAN-3D size)",
    "3D VGG-19 pre-trained on the track's training volumes by grading how degraded a patch is "
    "(HR blended with the trilinear up-sampling of its LR version at several levels), not on "
    "ImageNet classification",
    "same total budget as the three-player GAN (60,000 iterations, batch 4, 64^3 patches): "
    "20,000 L1 warm-up + 40,000 GAN iterations, ESRGAN's learning-rate milestones scaled to them",
)

CPU_DEVIATIONS: tuple[str, ...] = PAPER_DEVIATIONS[:2] + (
    "global residual: the generator predicts the correction to trilinear interpolation",
    "small widths: 1 RRDB, 16 channels, growth 8; VGG-19 width 4; discriminator width 8 with 3 stages",
    "32^3 HR patches, batch 4, stride 8; 60 VGG + 240 warm-up + 60 GAN iterations to fit 15 minutes on 2 CPU cores",
)

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "iterations": 60000,
        "warmup_fraction": 0.25,
        "vgg_iterations": 20000,
        "batch_size": 4,
        "patch_size": 64,
        "patch_stride": 16,
        "checkpoint_every": 1000,
        "log_every": 10,
        "deviations": PAPER_DEVIATIONS,
    },
    "cpu": {
        "iterations": 300,
        "warmup_fraction": 0.8,
        "vgg_iterations": 60,
        "batch_size": 4,
        "patch_size": 32,
        "patch_stride": 8,
        "channels": 16,
        "growth": 8,
        "blocks": 1,
        "global_residual": True,
        "d_channels": 8,
        "d_stages": 3,
        "d_hidden": 32,
        "vgg_width": 4,
        "vgg_lr": 1e-3,
        "warmup_lr": 1e-3,
        "lr": 1e-4,
        "checkpoint_every": 50,
        "log_every": 5,
        "deviations": CPU_DEVIATIONS,
    },
}
"""Preset name → field overrides of :class:`Esrgan3dConfig`."""
