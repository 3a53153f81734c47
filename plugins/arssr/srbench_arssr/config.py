"""ArSSR's training configuration and its ``paper`` and ``cpu`` presets."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

from srbench.errors import InputError
from srbench.training.config import TrainingConfig


@dataclasses.dataclass
class ArSSRConfig(TrainingConfig):
    """Training options of ArSSR (sizes in voxels).

    The core's patch source supplies HR patches of ``patch_size``; each training step
    draws, per patch, a scale ``s ~ U[scale_min, scale_max]``, crops an HR cube of
    ``round(lr_patch · s)`` voxels at a random place, area-averages it to ``lr_patch``³ LR
    voxels and samples ``samples`` HR voxels of the crop as decoder targets.

    Attributes:
        encoder: ``rdn``, ``rescnn`` or ``srresnet`` (the paper's three choices).
        feature_dim: channels of the encoder's feature map (paper: 128).
        encoder_channels: hidden width of the encoder (paper: 64).
        encoder_depth: RDN blocks / ResCNN groups / SRResNet blocks; ``None`` = the paper's (8 / 3 / 18).
        decoder_width: MLP width (paper: 256).
        decoder_layers: Linear+ReLU layers per MLP stage (paper: 4).
        coordinates: decoder coordinate, ``global`` (paper) or ``local`` (deviation).
        residual: decode a correction to trilinear interpolation (deviation).
        lr_patch: LR patch edge in LR voxels (paper: 10).
        scale_min: lower bound of the training scale (paper: 2).
        scale_max: upper bound of the training scale (paper: 4).
        samples: HR voxels sampled per patch (paper: 8000).
        learning_rate: Adam step size (paper: 1e-4).
        betas: Adam's (β1, β2).
    """

    encoder: Literal["rdn", "rescnn", "srresnet"] = "rdn"
    feature_dim: int = 128
    encoder_channels: int = 64
    encoder_depth: int | None = None
    decoder_width: int = 256
    decoder_layers: int = 4
    coordinates: Literal["global", "local"] = "global"
    residual: bool = False
    lr_patch: int = 10
    scale_min: float = 2.0
    scale_max: float = 4.0
    samples: int = 8000
    learning_rate: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)

    def validate(self) -> None:
        super().validate()
        for name in ("feature_dim", "encoder_channels", "decoder_width", "decoder_layers", "lr_patch", "samples"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"option {name}: must be a positive integer, got {getattr(self, name)!r}")
        if self.decoder_layers < 2:
            raise InputError(f"option decoder_layers: must be at least 2, got {self.decoder_layers}")
        if self.encoder_depth is not None and self.encoder_depth < 1:
            raise InputError(f"option encoder_depth: must be a positive integer or none, got {self.encoder_depth!r}")
        if not 1.0 <= self.scale_min <= self.scale_max:
            raise InputError(f"option scale_min/scale_max: need 1 <= scale_min <= scale_max, got {self.scale_min}, {self.scale_max}")
        needed = math.floor(self.lr_patch * self.scale_max + 0.5)
        if self.patch_size < needed:
            raise InputError(
                f"option patch_size: {self.patch_size} HR voxels cannot hold an LR patch of {self.lr_patch} at scale "
                f"{self.scale_max} (needs at least {needed})"
            )
        if not self.learning_rate > 0:
            raise InputError(f"option learning_rate: must be positive, got {self.learning_rate!r}")


COMMON_DEVIATIONS = (
    "training LR made by exact area averaging of the HR crop to lr_patch³ (equal to paper-linear at integer "
    "scales); the authors' code used cubic-spline zoom (scipy order 3)",
    "scale sampling inside the training step: HR patches come from the core patch source "
    "(patch_size HR voxels) and each step crops round(lr_patch·s) voxels per patch",
    "features sampled with border padding (the authors' grid_sample pads with zeros)",
    "no learning-rate halving every 200 epochs (the authors' code); constant Adam step",
)

PAPER_DEVIATIONS = (
    *COMMON_DEVIATIONS,
    "training length: the authors count 2,500 epochs of their own patch set; the reference paper's "
    "60,000 iterations are used (batch 15 as in the authors' code)",
)

CPU_DEVIATIONS = (
    *COMMON_DEVIATIONS,
    "global residual: the decoder predicts a correction to the trilinear value at the query point "
    "(last layer zero-initialised, no final ReLU)",
    "local coordinates: the decoder sees the offset from the nearest LR voxel centre (sub-voxel phase) "
    "instead of the patch-normalised position",
    "small ResCNN encoder (32 channels, 2 groups of 6 convolutions), 64 feature channels, decoder width 128, "
    "batch 8, 2000 samples per patch, 2000 iterations, learning rate 5e-4 (CPU budget)",
)

PRESETS: Mapping[str, Mapping[str, Any]] = {
    "paper": {
        "iterations": 60000,
        "batch_size": 15,
        "patch_size": 40,
        "patch_stride": 16,
        "checkpoint_every": 1000,
        "encoder": "rdn",
        "deviations": PAPER_DEVIATIONS,
    },
    "cpu": {
        "iterations": 2000,
        "batch_size": 8,
        "patch_size": 40,
        "patch_stride": 16,
        "checkpoint_every": 200,
        "encoder": "rescnn",
        "feature_dim": 64,
        "encoder_channels": 32,
        "encoder_depth": 2,
        "decoder_width": 128,
        "coordinates": "local",
        "residual": True,
        "samples": 2000,
        "learning_rate": 5e-4,
        "deviations": CPU_DEVIATIONS,
    },
}
