"""DCSRN's training configuration and its ``paper`` and ``cpu`` presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from srbench.errors import InputError
from srbench.training.config import TrainingConfig


@dataclasses.dataclass
class DCSRNConfig(TrainingConfig):
    """Training options of DCSRN (sizes in voxels).

    Attributes:
        first_channels: filters of the first 3×3×3 convolution (paper: 48).
        growth: growth rate of the dense block (paper: 24).
        units: dense units in the block (paper: 4).
        final_kernel: kernel edge of the output convolution (paper: 1).
        residual: add the trilinear interpolation to the output (deviation, ``cpu``).
        loss: ``l2`` (paper: mean squared error) or ``l1``.
        learning_rate: Adam step size.
        betas: Adam's (β1, β2).
    """

    first_channels: int = 48
    growth: int = 24
    units: int = 4
    final_kernel: int = 1
    residual: bool = False
    loss: Literal["l2", "l1"] = "l2"
    learning_rate: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)

    def validate(self) -> None:
        super().validate()
        for name in ("first_channels", "growth", "units", "final_kernel"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"option {name}: must be a positive integer, got {getattr(self, name)!r}")
        if self.final_kernel % 2 == 0:
            raise InputError(f"option final_kernel: must be odd (1, 3...), got {self.final_kernel}")
        if not self.learning_rate > 0:
            raise InputError(f"option learning_rate: must be positive, got {self.learning_rate!r}")


PAPER_DEVIATIONS = (
    "trilinear interpolation to the HR grid is done inside the network (the paper feeds an "
    "already interpolated volume): same computation, so the network maps LR to HR patches",
    "LR made by the track's degradation (paper-linear by default); the DCSRN paper used k-space truncation "
    "(available as the 'kspace' degradation)",
    "iterations and batch size are not stated in the DCSRN paper: the reference paper's 60,000 iterations are used",
    "Adam learning rate 1e-4: the DCSRN paper's value was not available to us",
)

CPU_DEVIATIONS = (
    *PAPER_DEVIATIONS[:2],
    "global residual: the output is trilinear(LR) + network(trilinear(LR)), last convolution zero-initialised",
    "24³ HR patches (12³ LR), 700 iterations, learning rate 1e-3 (CPU budget)",
    "L1 loss instead of L2 (sharper, more robust to the few high-intensity voxels; faster gain in PSNR on CPU)",
)

PRESETS: Mapping[str, Mapping[str, Any]] = {
    "paper": {
        "iterations": 60000,
        "batch_size": 4,
        "patch_size": 64,
        "patch_stride": 16,
        "checkpoint_every": 1000,
        "loss": "l2",
        "learning_rate": 1e-4,
        "deviations": PAPER_DEVIATIONS,
    },
    "cpu": {
        "iterations": 700,
        "batch_size": 4,
        "patch_size": 24,
        "patch_stride": 16,
        "checkpoint_every": 100,
        "residual": True,
        "loss": "l1",
        "learning_rate": 1e-3,
        "deviations": CPU_DEVIATIONS,
    },
}
