"""One optimisation iteration of the three-player GAN (the core loop calls :meth:`TriganAlgorithm.step`).

Per adversarial iteration, in the paper's order (``x`` = HR batch, ``y = G(LR)``):

1. FE step: minimise ``L_perc = mean |FE(x) − FE(y)|`` over FE's parameters, ``y`` detached;
2. G step: minimise ``w_perc·L_perc + w_pix·L_pix + w_gan·L_G^RaGAN`` over G's parameters,
   with FE (already updated) and D frozen (no gradient reaches them);
3. D step: minimise ``L_D^RaGAN`` over D's parameters, ``y`` detached.

Every critic call sees instance noise ``ε ~ N(0, σ²)`` added to its input, with σ from
:func:`srbench_trigan.losses.noise_sigma`: independent draws for ``x`` and ``y`` and for
each step, taken from the loop's per-iteration generator in the order G-step real,
G-step fake, D-step real, D-step fake. (The ``authors-code`` variant draws one tensor per
iteration and adds it to every critic input.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from srbench.interfaces import PatchBatch
from srbench_trigan import losses
from srbench_trigan.config import TriganConfig
from srbench_trigan.networks import Discriminator, FeatureExtractor, Generator

LOGGED = ("L_perc", "L_pix", "L_G", "L_D", "noise_sigma", "d_real_mean", "d_fake_mean", "fe_feature_std")
"""The scalars every step returns (NaN for those an L1 warm-up iteration does not compute)."""


def build_generator(config: TriganConfig) -> Generator:
    """The generator of a configuration."""
    return Generator(channels=config.nf, growth=config.gc, n_rrdb=config.n_rrdb, global_residual=config.global_residual)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` of every parameter of ``modules`` for the block, then restore it."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


class TriganAlgorithm:
    """Networks, three Adam optimisers (two in the ``authors-code`` variant) and the iteration.

    Args:
        config: the run's :class:`~srbench_trigan.config.TriganConfig`.
        device: torch device for the networks; batches are moved there.

    Attributes:
        modules: ``generator``, ``discriminator``, ``feature_extractor``.
        optimizers: ``generator``, ``discriminator`` and (``paper`` variant) ``feature_extractor``.
        inference_module: ``"generator"``.
    """

    inference_module = "generator"

    def __init__(self, config: TriganConfig, *, device: str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.authors_code = config.variant == "authors-code"
        generator = build_generator(config)
        critic = Discriminator(channels=config.d_channels, head="patch" if self.authors_code else "pool")
        extractor = FeatureExtractor(channels=config.fe_channels)
        self.generator = generator.to(self.device)
        self.critic = critic.to(self.device)
        self.extractor = extractor.to(self.device)
        self.modules: dict[str, nn.Module] = {
            "generator": self.generator,
            "discriminator": self.critic,
            "feature_extractor": self.extractor,
        }
        betas = (float(config.betas[0]), float(config.betas[1]))

        def adam(params: list[nn.Parameter]) -> torch.optim.Adam:
            return torch.optim.Adam(params, lr=config.lr, betas=betas)

        if self.authors_code:
            self.optimizers: dict[str, torch.optim.Optimizer] = {
                "generator": adam([*self.generator.parameters(), *self.extractor.parameters()]),
                "discriminator": adam(list(self.critic.parameters())),
            }
        else:
            self.optimizers = {
                "generator": adam(list(self.generator.parameters())),
                "discriminator": adam(list(self.critic.parameters())),
                "feature_extractor": adam(list(self.extractor.parameters())),
            }

    # -- helpers -----------------------------------------------------------------------
    def _features(self, hr: torch.Tensor, sr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """FE features of both batches from one forward pass (so they share batch-norm statistics)."""
        features = self.extractor(torch.cat([hr, sr], dim=0))
        return features[: hr.shape[0]], features[hr.shape[0] :]

    def _noisy_pair(
        self, hr: torch.Tensor, sr: torch.Tensor, *, sigma: float, generator: torch.Generator,
        shared: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The critic's inputs: ``hr`` and ``sr`` plus instance noise (``shared``: one given draw for both)."""
        if shared is not None:
            return hr + shared, sr + shared
        real = losses.add_instance_noise(hr, sigma=sigma, generator=generator)
        fake = losses.add_instance_noise(sr, sigma=sigma, generator=generator)
        return real, fake

    def _set_generator_lr(self, *, warmup: bool) -> None:
        lr = self.config.warmup_lr if (warmup and self.config.warmup_lr is not None) else self.config.lr
        for group in self.optimizers["generator"].param_groups:
            group["lr"] = lr

    @staticmethod
    def _descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """One update of ``optimizer``'s parameters on ``loss``; their gradients are cleared
        before and after, so no gradient outlives the step that computed it."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    # -- the iteration -----------------------------------------------------------------
    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        """Run iteration ``iteration`` (0-based) of ``total``; returns :data:`LOGGED` scalars."""
        config = self.config
        hr = batch.hr.to(self.device, non_blocking=True)
        lr = batch.lr.to(self.device, non_blocking=True)
        for module in self.modules.values():
            module.train()
        warmup = iteration < config.warmup_iterations
        self._set_generator_lr(warmup=warmup)
        sr = self.generator(lr)
        if warmup:
            l_pix = losses.pixel_loss(sr, hr)
            self._descend(self.optimizers["generator"], l_pix)
            return {name: float("nan") for name in LOGGED} | {"L_pix": float(l_pix.detach())}

        sigma = losses.noise_sigma(iteration, start=config.warmup_iterations, total=total)
        shared = None
        if self.authors_code:  # the authors' code draws one noise tensor per iteration for every critic input
            shared = losses.add_instance_noise(torch.zeros_like(hr), sigma=sigma, generator=generator)
        else:
            # 1. FE step: L_perc w.r.t. FE only; the generator output is a constant here.
            f_hr, f_sr = self._features(hr, sr.detach())
            self._descend(self.optimizers["feature_extractor"], losses.perceptual_loss(f_sr, f_hr))

        # 2. G step (FE and D frozen; in the authors' code FE trains with G on this loss).
        frozen_in_g = (self.critic,) if self.authors_code else (self.critic, self.extractor)
        with frozen(*frozen_in_g):
            f_hr, f_sr = self._features(hr, sr)
            l_perc = losses.perceptual_loss(f_sr, f_hr)
            l_pix = losses.pixel_loss(sr, hr)
            real_in, fake_in = self._noisy_pair(hr, sr, sigma=sigma, generator=generator, shared=shared)
            critic_real, critic_fake = self.critic(real_in), self.critic(fake_in)
            if self.authors_code:
                l_g = losses.authors_generator_loss(critic_real, critic_fake)
            else:
                l_g = losses.ragan_generator_loss(critic_real, critic_fake)
            total_g = config.w_perc * l_perc + config.w_pix * l_pix + config.w_gan * l_g
            self._descend(self.optimizers["generator"], total_g)

        # 3. D step on the (detached) output of this iteration's generator forward pass.
        real_in, fake_in = self._noisy_pair(hr, sr.detach(), sigma=sigma, generator=generator, shared=shared)
        critic_real, critic_fake = self.critic(real_in), self.critic(fake_in)
        if self.authors_code:
            l_d = losses.authors_discriminator_loss(critic_real, critic_fake)
        else:
            l_d = losses.ragan_discriminator_loss(critic_real, critic_fake)
        self._descend(self.optimizers["discriminator"], l_d)

        scalars = {
            "L_perc": l_perc,
            "L_pix": l_pix,
            "L_G": l_g,
            "L_D": l_d,
            "d_real_mean": critic_real.mean(),
            "d_fake_mean": critic_fake.mean(),
            "fe_feature_std": f_hr.std(),
        }
        out = {name: float(value.detach()) for name, value in scalars.items()}
        out["noise_sigma"] = float(sigma)
        return {name: out[name] for name in LOGGED}

