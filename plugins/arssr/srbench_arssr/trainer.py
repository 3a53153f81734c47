"""Training side of ArSSR: the network of a configuration, multi-scale implicit regression, the trainer."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from srbench.interfaces import PatchBatch
from srbench.training.trainer import MethodTrainer

from srbench_arssr.config import PRESETS, ArSSRConfig
from srbench_arssr.network import ArSSRNetwork, sample
from srbench_arssr.resample import area_downsample

NAME = "arssr"
MODULE = "network"


def build_network(config: ArSSRConfig) -> ArSSRNetwork:
    """The ArSSR network of a configuration."""
    return ArSSRNetwork(
        encoder=config.encoder,
        feature_dim=config.feature_dim,
        encoder_channels=config.encoder_channels,
        encoder_depth=config.encoder_depth,
        decoder_width=config.decoder_width,
        decoder_layers=config.decoder_layers,
        coordinates=config.coordinates,
        residual=config.residual,
    )


@dataclasses.dataclass
class ScaledSamples:
    """Training examples of one step at per-patch random (per-axis) scales.

    Attributes:
        lr: ``(B, 1, m, m, m)`` LR patches (area-averaged HR crops).
        positions: ``(B, K, 3)`` continuous LR indices of the sampled HR voxels.
        targets: ``(B, K)`` their HR intensities.
        scales: ``(B, 3)`` per-axis effective scales ``round(m·s) / m``.
    """

    lr: torch.Tensor
    positions: torch.Tensor
    targets: torch.Tensor
    scales: torch.Tensor


def draw_scales(config: ArSSRConfig, generator: torch.Generator) -> tuple[float, float, float]:
    """One patch's per-axis scales, drawn from ``generator``.

    With both probabilities 0 (both presets): one ``s ~ U[scale_min, scale_max]`` for all
    three axes, the paper's isotropic sampling, from a single draw (the draws of the
    isotropic-only sampler, so earlier runs are reproduced bitwise). Otherwise every patch
    consumes the same draws whatever branch it takes: with probability
    ``1 − per_axis_probability`` one isotropic ``s``, else one independent draw per axis;
    then, with probability ``unit_axis_probability``, one or two axes (each count equally
    likely, the axes uniformly chosen) get scale 1: they are not down-sampled, as the
    through-plane axis of an in-plane-only ``[2, 2, 1]`` track.
    """
    span = config.scale_max - config.scale_min
    if config.per_axis_probability == 0 and config.unit_axis_probability == 0:
        u = float(torch.rand((), generator=generator, dtype=torch.float64, device=generator.device))
        s = config.scale_min + span * u
        return s, s, s
    u = torch.rand(6, generator=generator, dtype=torch.float64, device=generator.device).tolist()
    order = torch.randperm(3, generator=generator, device=generator.device).tolist()
    if u[0] < config.per_axis_probability:
        scales = [config.scale_min + span * x for x in u[2:5]]
    else:
        scales = [config.scale_min + span * u[2]] * 3
    if u[1] < config.unit_axis_probability:
        for axis in order[: 1 if u[5] < 0.5 else 2]:
            scales[axis] = 1.0
    return scales[0], scales[1], scales[2]


def draw_samples(hr: torch.Tensor, *, config: ArSSRConfig, generator: torch.Generator) -> ScaledSamples:
    """Build a step's examples from HR patches ``(B, 1, P, P, P)``; every draw uses ``generator``
    (on its device; the examples are on ``hr``'s device).

    Per patch: per-axis scales ``s`` from :func:`draw_scales`; an HR box of
    ``n_a = round(m·s_a)`` voxels per axis (``m = lr_patch``) at a uniformly random offset;
    its area average to ``m``³ (LR voxel centres on srbench's grid for the effective scales
    ``n_a / m``); ``samples`` of its voxels without replacement (with replacement when it
    has fewer), positioned at LR index ``(i + 0.5)·m/n_a − 0.5`` per axis.
    """
    m, k = config.lr_patch, config.samples
    device = generator.device
    lrs, positions, targets, scales = [], [], [], []
    for patch in hr:
        n = [int(round(m * s)) for s in draw_scales(config, generator)]
        corner = [int(torch.randint(0, size - na + 1, (), generator=generator, device=device))
                  for size, na in zip(patch.shape[-3:], n, strict=True)]
        crop = patch[:, corner[0] : corner[0] + n[0], corner[1] : corner[1] + n[1], corner[2] : corner[2] + n[2]]
        lrs.append(area_downsample(crop[None], (m, m, m))[0])
        count = n[0] * n[1] * n[2]
        if count >= k:
            index = torch.randperm(count, generator=generator, device=device)[:k]
        else:
            index = torch.randint(0, count, (k,), generator=generator, device=device)
        index = index.to(patch.device)
        ijk = torch.stack([index // (n[1] * n[2]), (index // n[2]) % n[1], index % n[2]], dim=-1).to(torch.float64)
        ratio = torch.tensor([m / na for na in n], dtype=torch.float64, device=patch.device)
        positions.append(((ijk + 0.5) * ratio - 0.5).to(torch.float32))
        targets.append(crop.reshape(-1)[index])
        scales.append([na / m for na in n])
    return ScaledSamples(
        lr=torch.stack(lrs),
        positions=torch.stack(positions),
        targets=torch.stack(targets),
        scales=torch.tensor(scales, dtype=torch.float32),
    )


class ArSSRAlgorithm:
    """One network trained with L1 on randomly scaled patches, Adam.

    Attributes:
        modules: ``{"network": ArSSRNetwork}``.
        optimizers: ``{"network": Adam}``.
        inference_module: ``"network"``.
    """

    inference_module = MODULE

    def __init__(self, config: ArSSRConfig, *, device: str = "cpu") -> None:
        self.config = config
        network = build_network(config).to(device)
        self.modules = {MODULE: network}
        self.optimizers = {MODULE: torch.optim.Adam(network.parameters(), lr=config.learning_rate, betas=tuple(config.betas))}

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        """One L1 step; the scales, crops and sampled voxels come from ``generator``."""
        network = self.modules[MODULE]
        optimizer = self.optimizers[MODULE]
        network.train()
        device = next(network.parameters()).device
        samples = draw_samples(batch.hr.detach().to(device, torch.float32), config=self.config, generator=generator)
        lr, positions, targets = samples.lr, samples.positions, samples.targets
        predicted = network(lr, positions)
        loss = F.l1_loss(predicted, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            baseline = float(F.l1_loss(sample(lr, positions)[..., 0], targets))
        return {"loss": loss.item(), "l1_trilinear": baseline, "mean_scale": float(samples.scales.mean())}


TRAINER = MethodTrainer(name=NAME, config_class=ArSSRConfig, presets=PRESETS, algorithm=ArSSRAlgorithm)
