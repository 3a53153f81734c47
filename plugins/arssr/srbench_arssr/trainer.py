"""Training side of ArSSR: the network of a configuration, multi-scale implicit regression, the trainer.

Where a step's LR comes from depends on the track's degradation (:func:`lr_source`):

- ``area`` (the track uses the default ``paper-linear`` box average, or no degradation was
  given, as in the conformance kit's quick checks): the paper's continuous scales. Each
  patch draws ``s ~ U[scale_min, scale_max]`` (:func:`draw_scales`), crops an HR box of
  ``round(lr_patch·s)`` voxels and area-averages it to ``lr_patch``³
  (:func:`draw_samples`); at integer scales that is ``paper-linear`` exactly, and at other
  scales its continuous extension, so the track's degradation is honoured.
- ``track`` (any other degradation, e.g. ``kspace``): such a degradation exists only at
  the integer scale the harness applies it at, on whole volumes. Every patch is trained at
  the track's scale: a random ``lr_patch``³ box of the batch's LR patch (cut by the core
  from the training volume degraded whole, exactly as evaluation degrades it) and the HR
  box it covers (:func:`cut_samples`). Options that ask for other scales are refused
  (:func:`lr_source`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from srbench.defaults import DEFAULT_DEGRADATION
from srbench.errors import InputError
from srbench.interfaces import Degradation, PatchBatch, Volume
from srbench.training.trainer import MethodTrainer

from srbench_arssr.config import PRESETS, ArSSRConfig
from srbench_arssr.network import ArSSRNetwork, sample
from srbench_arssr.resample import area_downsample

NAME = "arssr"
MODULE = "network"

#: a step's LR: area averages of random HR crops at continuous scales (paper-linear tracks)
AREA = "area"
#: a step's LR: boxes of the core's LR patches, degraded whole by the track's degradation, at its scale
TRACK = "track"


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
        lr: ``(B, 1, m, m, m)`` LR patches (area-averaged HR crops, or boxes of the
            core's LR patches for a ``track`` step).
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
        where, values = _sample_crop(crop, m=m, k=k, generator=generator)
        positions.append(where)
        targets.append(values)
        scales.append([na / m for na in n])
    return ScaledSamples(
        lr=torch.stack(lrs),
        positions=torch.stack(positions),
        targets=torch.stack(targets),
        scales=torch.tensor(scales, dtype=torch.float32),
    )


def cut_samples(
    lr: torch.Tensor, hr: torch.Tensor, *, scale: Sequence[int], config: ArSSRConfig, generator: torch.Generator
) -> ScaledSamples:
    """Build a ``track`` step's examples from the core's paired patches; every draw uses
    ``generator`` (on its device; the examples are on ``hr``'s device).

    Args:
        lr: ``(B, 1, P/sx, P/sy, P/sz)`` LR patches, cut from the whole-volume degraded
            training volumes (:class:`srbench.training.patches.PatchSource`).
        hr: ``(B, 1, P, P, P)`` the HR patches they cover.
        scale: the track's integer per-axis scale ``(sx, sy, sz)``.

    Per patch: an LR box of ``m = lr_patch`` voxels per axis at a uniformly random LR
    offset ``o``; the HR box it covers (``m·s_a`` voxels from ``o_a·s_a``); ``samples`` of
    that box's voxels as in :func:`draw_samples`, positioned at LR index
    ``(i + 0.5)/s_a − 0.5``. No resampling: the LR values are the degradation's.
    """
    m, k = config.lr_patch, config.samples
    factors = [int(s) for s in scale]
    device = generator.device
    lrs, positions, targets = [], [], []
    for patch_lr, patch_hr in zip(lr, hr, strict=True):
        offset = [int(torch.randint(0, size - m + 1, (), generator=generator, device=device)) for size in patch_lr.shape[-3:]]
        lrs.append(patch_lr[:, offset[0] : offset[0] + m, offset[1] : offset[1] + m, offset[2] : offset[2] + m])
        corner = [o * s for o, s in zip(offset, factors, strict=True)]
        n = [m * s for s in factors]
        crop = patch_hr[:, corner[0] : corner[0] + n[0], corner[1] : corner[1] + n[1], corner[2] : corner[2] + n[2]]
        where, values = _sample_crop(crop, m=m, k=k, generator=generator)
        positions.append(where)
        targets.append(values)
    return ScaledSamples(
        lr=torch.stack(lrs),
        positions=torch.stack(positions),
        targets=torch.stack(targets),
        scales=torch.tensor([factors] * len(lrs), dtype=torch.float32),
    )


def _sample_crop(crop: torch.Tensor, *, m: int, k: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` voxels of an HR crop ``(1, n0, n1, n2)`` whose LR version has ``m`` voxels per
    axis: ``(k, 3)`` float32 LR indices ``(i + 0.5)·m/n_a − 0.5`` and ``(k,)`` intensities.
    Without replacement when the crop has at least ``k`` voxels, with replacement otherwise."""
    n = crop.shape[-3:]
    count = n[0] * n[1] * n[2]
    if count >= k:
        index = torch.randperm(count, generator=generator, device=generator.device)[:k]
    else:
        index = torch.randint(0, count, (k,), generator=generator, device=generator.device)
    index = index.to(crop.device)
    ijk = torch.stack([index // (n[1] * n[2]), (index // n[2]) % n[1], index % n[2]], dim=-1).to(torch.float64)
    ratio = torch.tensor([m / na for na in n], dtype=torch.float64, device=crop.device)
    return ((ijk + 0.5) * ratio - 0.5).to(torch.float32), crop.reshape(-1)[index]


def lr_source(config: ArSSRConfig, degradation: Degradation | None) -> str:
    """:data:`AREA` or :data:`TRACK`: where a step of ``config`` on a track with
    ``degradation`` takes its LR from (see the module docstring).

    Raises:
        InputError: a ``track`` configuration that cannot be honoured: per-axis or unit-axis
            scale draws, or a track scale outside ``[scale_min, scale_max]`` (factors of 1,
            axes the track does not down-sample, are allowed).
    """
    if degradation is None or getattr(degradation, "name", None) == DEFAULT_DEGRADATION:
        return AREA
    name = getattr(degradation, "name", type(degradation).__name__)
    scale = tuple(int(s) for s in config.scale)
    why = f"degradation '{name}' is applied to whole training volumes at the track's scale {scale} only"
    for option in ("per_axis_probability", "unit_axis_probability"):
        if float(getattr(config, option)):
            raise InputError(f"option {option}: random scales need the '{DEFAULT_DEGRADATION}' degradation; {why}")
    if any(s != 1 and not config.scale_min <= s <= config.scale_max for s in scale):
        raise InputError(
            f"option scale_min/scale_max: [{config.scale_min:g}, {config.scale_max:g}] does not hold the track's scale "
            f"{scale}; {why}"
        )
    return TRACK  # scale ≤ scale_max: the LR patch (patch_size / scale) holds lr_patch voxels (validate())


class ArSSRAlgorithm:
    """One network trained with L1 on randomly scaled patches, Adam.

    ``degradation`` is the track's (from :meth:`ArSSRTrainer.prepare`); it decides
    :attr:`lr_source` (:func:`lr_source`).

    Attributes:
        lr_source: :data:`AREA` or :data:`TRACK`.
        modules: ``{"network": ArSSRNetwork}``.
        optimizers: ``{"network": Adam}``.
        inference_module: ``"network"``.
    """

    inference_module = MODULE

    def __init__(self, config: ArSSRConfig, *, device: str = "cpu", degradation: Degradation | None = None) -> None:
        self.config = config
        self.lr_source = lr_source(config, degradation)
        network = build_network(config).to(device)
        self.modules = {MODULE: network}
        self.optimizers = {MODULE: torch.optim.Adam(network.parameters(), lr=config.learning_rate, betas=tuple(config.betas))}

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        """One L1 step; the scales (``area``), crops and sampled voxels come from ``generator``."""
        network = self.modules[MODULE]
        optimizer = self.optimizers[MODULE]
        network.train()
        device = next(network.parameters()).device
        hr = batch.hr.detach().to(device, torch.float32)
        if self.lr_source == TRACK:
            scale = tuple(int(s) for s in batch.scale)
            samples = cut_samples(batch.lr.detach().to(device, torch.float32), hr, scale=scale, config=self.config,
                                  generator=generator)
        else:
            samples = draw_samples(hr, config=self.config, generator=generator)
        lr, positions, targets = samples.lr, samples.positions, samples.targets
        predicted = network(lr, positions)
        loss = F.l1_loss(predicted, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            baseline = float(F.l1_loss(sample(lr, positions)[..., 0], targets))
        return {"loss": loss.item(), "l1_trilinear": baseline, "mean_scale": float(samples.scales.mean())}


@dataclasses.dataclass(frozen=True)
class ArSSRTrainer(MethodTrainer):
    """ArSSR's :class:`~srbench.interfaces.Trainer`: a :class:`MethodTrainer` whose
    ``prepare`` stage hands the track's degradation to ``build``."""

    def prepare(
        self,
        config: ArSSRConfig,
        *,
        volumes: Sequence[Volume],
        degradation: Degradation,
        run_dir: Path,
        resume: bool,
        device: str = "cpu",
        progress: bool = True,
    ) -> dict[str, Any]:
        """Check that ``config`` can honour ``degradation`` (InputError if not) and return
        ``build``'s ``degradation``; a ``track`` run says so on stderr."""
        if lr_source(config, degradation) == TRACK and progress:
            print(f"arssr: degradation '{degradation.name}' is defined on whole volumes at the track's scale "
                  f"{tuple(int(s) for s in config.scale)}: every patch trains at that scale (not U[{config.scale_min:g}, "
                  f"{config.scale_max:g}]), on LR cut from the degraded training volumes", file=sys.stderr, flush=True)
        return {"degradation": degradation}

    def build(self, config: ArSSRConfig, *, device: str = "cpu", degradation: Degradation | None = None) -> ArSSRAlgorithm:
        """The algorithm; ``degradation`` comes from :meth:`prepare` (None, as in the
        conformance kit's quick checks, means the default ``paper-linear``)."""
        return ArSSRAlgorithm(config, device=device, degradation=degradation)


TRAINER = ArSSRTrainer(name=NAME, config_class=ArSSRConfig, presets=PRESETS, algorithm=ArSSRAlgorithm)
