"""ESRGAN's training schedule as pure functions of the iteration (nothing to checkpoint).

Iterations ``0 .. warmup_iterations − 1`` are the PSNR-oriented warm-up (generator on L1
only); the rest is the GAN phase. Each phase halves its learning rate at fixed fractions
of its own length, as ESRGAN's multi-step schedules do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from srbench_esrgan3d.config import Esrgan3dConfig


def multistep_lr(base: float, *, step: int, length: int, milestones: Sequence[float]) -> float:
    """``base`` halved once for every milestone fraction ``m`` with ``step ≥ round(m·length)``."""
    halvings = sum(1 for m in milestones if step >= round(float(m) * length))
    return base * 0.5**halvings


def in_warmup(iteration: int, *, warmup_iterations: int) -> bool:
    """True while ``iteration`` (0-based) belongs to the L1 warm-up."""
    return iteration < warmup_iterations


def generator_lr(iteration: int, *, config: Esrgan3dConfig) -> float:
    """The generator's learning rate at ``iteration`` (warm-up or GAN phase)."""
    warmup = int(config.warmup_iterations)
    if in_warmup(iteration, warmup_iterations=warmup):
        return multistep_lr(config.warmup_lr, step=iteration, length=warmup, milestones=config.warmup_milestones)
    return gan_lr(iteration, config=config)


def gan_lr(iteration: int, *, config: Esrgan3dConfig) -> float:
    """The GAN phase's learning rate (generator and discriminator) at ``iteration``."""
    warmup = int(config.warmup_iterations)
    length = int(config.iterations) - warmup
    return multistep_lr(config.lr, step=iteration - warmup, length=length, milestones=config.gan_milestones)
