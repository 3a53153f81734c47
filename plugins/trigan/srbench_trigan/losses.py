"""Losses of the three-player GAN and the instance-noise schedule.

``x`` is the HR batch, ``y = G(LR)`` the SR batch, ``C`` the critic (discriminator
without its sigmoid). Critic outputs are ``(B, 1)`` (one logit per sample) or
``(B, 1, w, h, d)`` (one per location); expectations over samples are means over the
batch axis, taken per location.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pixel_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """``L_pix = mean |x − y|`` over every voxel of the batch."""
    return F.l1_loss(sr, hr)


def perceptual_loss(features_sr: torch.Tensor, features_hr: torch.Tensor) -> torch.Tensor:
    """``L_perc = mean |FE(x) − FE(y)|`` over every feature of the batch."""
    return F.l1_loss(features_sr, features_hr)


def _relativistic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Logits of ``D_Ra(a, b) = sigmoid(C(a) − E[C(b)])``, the mean over the batch axis."""
    return a - b.mean(dim=0, keepdim=True)


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def ragan_discriminator_loss(critic_real: torch.Tensor, critic_fake: torch.Tensor) -> torch.Tensor:
    """``L_D = −E_x[log D_Ra(x, y)] − E_y[log(1 − D_Ra(y, x))]`` in logits form (a sum of two means)."""
    return _bce(_relativistic(critic_real, critic_fake), 1.0) + _bce(_relativistic(critic_fake, critic_real), 0.0)


def ragan_generator_loss(critic_real: torch.Tensor, critic_fake: torch.Tensor) -> torch.Tensor:
    """``L_G = −E_x[log(1 − D_Ra(x, y))] − E_y[log D_Ra(y, x)]`` in logits form (a sum of two means)."""
    return _bce(_relativistic(critic_real, critic_fake), 0.0) + _bce(_relativistic(critic_fake, critic_real), 1.0)


def authors_discriminator_loss(critic_real: torch.Tensor, critic_fake: torch.Tensor) -> torch.Tensor:
    """The authors' code: the mean (not the sum) of the two terms of :func:`ragan_discriminator_loss`."""
    return 0.5 * ragan_discriminator_loss(critic_real, critic_fake)


def authors_generator_loss(critic_real: torch.Tensor, critic_fake: torch.Tensor) -> torch.Tensor:
    """The authors' code: only the fake term, ``−E_y[log D_Ra(y, x)]``, with ``C(x)`` detached."""
    return _bce(_relativistic(critic_fake, critic_real.detach()), 1.0)


def noise_sigma(iteration: int, *, start: int, total: int) -> float:
    """Standard deviation of the instance noise at ``iteration`` (0-based).

    Annealed linearly from 1 at ``start`` (the first adversarial iteration) to 0 at the
    last iteration ``total − 1``; 1 before ``start`` and 0 after the end. The paper
    mentions both the variance and the standard deviation: this anneals the standard
    deviation (``noise_schedule = "linear-std"``).
    """
    if iteration <= start:
        return 1.0
    span = total - 1 - start
    if span <= 0 or iteration >= total - 1:
        return 0.0
    return 1.0 - (iteration - start) / span


def add_instance_noise(x: torch.Tensor, *, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """``x + ε`` with ``ε ~ N(0, σ²)`` per voxel, drawn from ``generator`` on its device.

    With the loop's CPU generator the noise is identical across devices for a given seed.
    """
    if sigma == 0.0:
        return x
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float32, device=generator.device)
    return x + sigma * noise.to(device=x.device, dtype=x.dtype)
