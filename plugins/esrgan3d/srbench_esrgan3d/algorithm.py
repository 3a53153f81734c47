"""The two training algorithms of ESRGAN-3D, each one :class:`~srbench.interfaces.Algorithm`.

:class:`VggPretextAlgorithm` pre-trains the 3D VGG-19 (stage 1); :class:`Esrgan3dAlgorithm`
trains the generator and discriminator on ESRGAN's schedule (stage 2) with that VGG frozen.
Both run inside the core loop (:func:`srbench.training.loop.run_training`), which owns
patches, checkpoints, resume and logging; the learning rates are pure functions of the
iteration (:mod:`srbench_esrgan3d.schedule`), so there is no scheduler state to save.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from srbench.interfaces import PatchBatch
from srbench_esrgan3d.config import Esrgan3dConfig
from srbench_esrgan3d.losses import perceptual_loss, ragan_discriminator_loss, ragan_generator_loss
from srbench_esrgan3d.networks import PretextHead, RRDBGenerator3d, VGG19Features3d, VGGDiscriminator3d
from srbench_esrgan3d.pretext import degradation_levels
from srbench_esrgan3d.schedule import gan_lr, generator_lr, in_warmup, warmup_iterations

NAN = math.nan


def build_generator(config: Esrgan3dConfig) -> RRDBGenerator3d:
    """The generator for a configuration."""
    return RRDBGenerator3d(
        channels=config.channels,
        growth=config.growth,
        blocks=config.blocks,
        scale=tuple(int(s) for s in config.scale),
        residual_scale=config.residual_scale,
        global_residual=config.global_residual,
    )


def build_discriminator(config: Esrgan3dConfig) -> VGGDiscriminator3d:
    """The discriminator for HR patches of ``config.patch_size``."""
    return VGGDiscriminator3d(
        patch_size=config.patch_size, channels=config.d_channels, stages=config.d_stages, hidden=config.d_hidden
    )


def _adam(module: nn.Module, *, lr: float, config: Esrgan3dConfig) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(config.beta1, config.beta2))


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class VggPretextAlgorithm:
    """Stage 1: the 3D VGG-19 learns to grade how degraded an HR patch is.

    See :mod:`srbench_esrgan3d.pretext` for the task. Modules: ``vgg``
    (:class:`~srbench_esrgan3d.networks.VGG19Features3d`, the part kept for the
    perceptual loss) and ``head`` (:class:`~srbench_esrgan3d.networks.PretextHead`); one
    Adam optimiser over both. Logs the cross-entropy, the batch accuracy and the standard
    deviation of the conv5_4 features (a collapse to constants would show as 0).

    Args:
        width: first-layer width of the VGG-19.
        batch_norm: VGG-19 with batch norm (``vgg19_bn`` layout).
        levels: number of degradation levels to tell apart.
        lr: Adam learning rate.
        betas: Adam coefficients.
    """

    inference_module = "vgg"

    def __init__(
        self,
        *,
        width: int,
        batch_norm: bool = True,
        levels: int = 4,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        device: str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.levels = levels
        vgg = VGG19Features3d(width=width, batch_norm=batch_norm).to(self.device)
        head = PretextHead(in_channels=vgg.out_channels, classes=levels).to(self.device)
        self.modules: dict[str, nn.Module] = {"vgg": vgg, "head": head}
        params = list(vgg.parameters()) + list(head.parameters())
        self.optimizers: dict[str, torch.optim.Optimizer] = {"vgg": torch.optim.Adam(params, lr=lr, betas=betas)}

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        """One step on the blended patches of ``batch`` (HR ``(B, 1, P, P, P)`` and its LR)."""
        patches, labels = degradation_levels(
            batch.hr.to(self.device), batch.lr.to(self.device), levels=self.levels, generator=generator
        )
        features = self.modules["vgg"](patches)
        logits = self.modules["head"](features)
        loss = F.cross_entropy(logits, labels)
        optimizer = self.optimizers["vgg"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        accuracy = (logits.detach().argmax(dim=1) == labels).float().mean()
        return {
            "loss_level": float(loss.detach()),
            "accuracy": float(accuracy),
            "feature_std": float(features.detach().std()),
        }


class Esrgan3dAlgorithm:
    """Stage 2: ESRGAN's PSNR-oriented warm-up, then its relativistic GAN training.

    Modules: ``generator`` and ``discriminator``; optimisers of the same names (Adam).
    The VGG54 feature extractor is frozen, outside :attr:`modules` (it is cached by the
    VGG stage). At the first GAN iteration the generator's Adam state is cleared: ESRGAN
    starts its GAN training from the PSNR-oriented weights with a fresh optimiser.

    Every step returns the same keys (``nan`` for a loss its phase does not compute):
    ``l_pix``, ``l_percep``, ``l_g_gan``, ``l_g``, ``l_d``, ``d_real``/``d_fake`` (mean
    critic logits), ``lr_g``, ``lr_d`` and ``phase`` (0 warm-up, 1 GAN).
    """

    inference_module = "generator"

    def __init__(self, config: Esrgan3dConfig, *, vgg: VGG19Features3d, device: str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        generator = build_generator(config).to(self.device)
        discriminator = build_discriminator(config).to(self.device)
        self.modules: dict[str, nn.Module] = {"generator": generator, "discriminator": discriminator}
        self.optimizers: dict[str, torch.optim.Optimizer] = {
            "generator": _adam(generator, lr=config.warmup_lr, config=config),
            "discriminator": _adam(discriminator, lr=config.lr, config=config),
        }
        self.vgg = vgg.to(self.device).eval()
        for parameter in self.vgg.parameters():
            parameter.requires_grad_(False)

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        """One iteration: an L1 step in the warm-up, else a G step then a D step."""
        lr = batch.lr.to(self.device)
        hr = batch.hr.to(self.device)
        if in_warmup(iteration, config=self.config):
            return self._warmup_step(lr, hr, iteration=iteration)
        return self._gan_step(lr, hr, iteration=iteration)

    def _warmup_step(self, lr: torch.Tensor, hr: torch.Tensor, *, iteration: int) -> dict[str, float]:
        optimizer = self.optimizers["generator"]
        rate = generator_lr(iteration, config=self.config)
        _set_lr(optimizer, rate)
        l_pix = F.l1_loss(self.modules["generator"](lr), hr)
        optimizer.zero_grad(set_to_none=True)
        l_pix.backward()
        optimizer.step()
        value = float(l_pix.detach())
        return {
            "l_pix": value, "l_percep": NAN, "l_g_gan": NAN, "l_g": value, "l_d": NAN,
            "d_real": NAN, "d_fake": NAN, "lr_g": rate, "lr_d": NAN, "phase": 0.0,
        }

    def _gan_step(self, lr: torch.Tensor, hr: torch.Tensor, *, iteration: int) -> dict[str, float]:
        cfg = self.config
        net_g, net_d = self.modules["generator"], self.modules["discriminator"]
        opt_g, opt_d = self.optimizers["generator"], self.optimizers["discriminator"]
        if iteration == warmup_iterations(cfg):
            opt_g.state.clear()
        rate = gan_lr(iteration, config=cfg)
        _set_lr(opt_g, rate)
        _set_lr(opt_d, rate)

        # generator step: the discriminator is held fixed
        net_d.requires_grad_(False)
        sr = net_g(lr)
        l_pix = F.l1_loss(sr, hr)
        l_percep = perceptual_loss(self.vgg, sr, hr)
        real_logits = net_d(hr).detach()
        fake_logits = net_d(sr)
        l_g_gan = ragan_generator_loss(real_logits, fake_logits)
        l_g = cfg.perceptual_weight * l_percep + cfg.gan_weight * l_g_gan + cfg.pixel_weight * l_pix
        opt_g.zero_grad(set_to_none=True)
        l_g.backward()
        opt_g.step()

        # discriminator step on the same generated patches
        net_d.requires_grad_(True)
        real_logits = net_d(hr)
        fake_logits = net_d(sr.detach())
        l_d = ragan_discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        l_d.backward()
        opt_d.step()
        return {
            "l_pix": float(l_pix.detach()),
            "l_percep": float(l_percep.detach()),
            "l_g_gan": float(l_g_gan.detach()),
            "l_g": float(l_g.detach()),
            "l_d": float(l_d.detach()),
            "d_real": float(real_logits.detach().mean()),
            "d_fake": float(fake_logits.detach().mean()),
            "lr_g": rate,
            "lr_d": rate,
            "phase": 1.0,
        }
