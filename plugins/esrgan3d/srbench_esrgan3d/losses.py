"""ESRGAN's losses: relativistic average GAN (logits form), VGG54 perceptual loss, L1.

``C`` is the discriminator's raw output (a logit per patch). The relativistic average
discriminator is ``D_Ra(a, b) = sigmoid(C(a) − mean C(b))``; with real patches ``x_r``
and generated ones ``x_f``:

- ``L_D = −E[log D_Ra(x_r, x_f)] − E[log(1 − D_Ra(x_f, x_r))]``
- ``L_G = −E[log(1 − D_Ra(x_r, x_f))] − E[log D_Ra(x_f, x_r)]``

both computed with :func:`torch.nn.functional.binary_cross_entropy_with_logits`, which
is numerically stable for large logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def ragan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``L_D^Ra`` from critic outputs ``(B, 1)`` on real and generated patches."""
    return _bce(real_logits - fake_logits.mean(), 1.0) + _bce(fake_logits - real_logits.mean(), 0.0)


def ragan_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``L_G^Ra`` (the symmetric counterpart: real labelled 0, generated labelled 1)."""
    return _bce(real_logits - fake_logits.mean(), 0.0) + _bce(fake_logits - real_logits.mean(), 1.0)


def perceptual_loss(features: nn.Module, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of ``features(sr)`` and ``features(hr)`` (ESRGAN's L1 criterion).

    ``features`` is the frozen VGG54 extractor; gradients flow into ``sr`` only.
    """
    with torch.no_grad():
        target = features(hr)
    return F.l1_loss(features(sr), target)
