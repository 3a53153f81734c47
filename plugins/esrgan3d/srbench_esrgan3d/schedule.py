"""ESRGAN's training schedule as pure functions of the iteration (nothing to checkpoint).

The first ``round(warmup_fraction · iterations)`` iterations are the PSNR-oriented warm-up
(generator on L1 only); the rest is the GAN phase. Both scale with the run length, so
``--iterations`` keeps ESRGAN's proportions (a resumed run given more iterations continues
on the schedule of its new length). Each phase halves its learning rate at fixed fractions
of its own length, as ESRGAN's multi-step schedules do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from srbench_esrgan3d.config import Esrgan3dConfig


def multistep_lr(base: float, *, step: int, length: int, milestones: Sequence[float]) -> float:
    """``base`` halved once for every milestone fraction ``m`` with ``step ≥ max(1, round(m·length))``
    (a phase always starts at ``base``)."""
    halvings = sum(1 for m in milestones if step >= max(1, round(float(m) * length)))
    return base * 0.5**halvings


def warmup_iterations(config: Esrgan3dConfig) -> int:
    """Number of warm-up iterations: ``round(warmup_fraction · iterations)``."""
    return int(round(float(config.warmup_fraction) * int(config.iterations)))


def in_warmup(iteration: int, *, config: Esrgan3dConfig) -> bool:
    """True while ``iteration`` (0-based) belongs to the L1 warm-up."""
    return iteration < warmup_iterations(config)


def generator_lr(iteration: int, *, config: Esrgan3dConfig) -> float:
    """The generator's learning rate at ``iteration`` (warm-up or GAN phase)."""
    warmup = warmup_iterations(config)
    if iteration < warmup:
        return multistep_lr(config.warmup_lr, step=iteration, length=warmup, milestones=config.warmup_milestones)
    return gan_lr(iteration, config=config)


def gan_lr(iteration: int, *, config: Esrgan3dConfig) -> float:
    """The GAN phase's learning rate (generator and discriminator) at ``iteration``."""
    warmup = warmup_iterations(config)
    length = int(config.iterations) - warmup
    return multistep_lr(config.lr, step=iteration - warmup, length=length, milestones=config.gan_milestones)
