"""Training side of ESRGAN-3D: two stages through the core loop.

``srbench train esrgan3d`` calls :func:`srbench.training.loop.run_training`, which first
calls :meth:`Esrgan3dTrainer.prepare`: the VGG stage, itself a
:func:`~srbench.training.loop.run_training` of :data:`VGG_STAGE_TRAINER` in the
sub-directory ``<run>/vgg/`` (own config.json, losses.csv, checkpoint, exact resume).
Its ``vgg/model.safetensors`` is the cached VGG: a later run in the same directory (a
resume, or a re-run after deleting the GAN checkpoint) reuses it when its stored
configuration matches. The GAN stage then trains with that VGG frozen.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from srbench.errors import InputError
from srbench.interfaces import Degradation, Volume
from srbench.io.checkpoint import CHECKPOINT_FILE, MODEL_FILE, load_checkpoint, restore_modules
from srbench.training.config import TrainingConfig, config_to_dict
from srbench.training.trainer import MethodTrainer

from srbench_esrgan3d.algorithm import Esrgan3dAlgorithm, VggPretextAlgorithm
from srbench_esrgan3d.config import PRESETS, Esrgan3dConfig
from srbench_esrgan3d.networks import VGG19Features3d

NAME = "esrgan3d"
VGG_METHOD = "esrgan3d-vgg"
VGG_DIR = "vgg"

#: configuration fields that do not change the trained VGG (a cached VGG is reused across them)
_NOT_VGG_DEFINING = frozenset({"preset", "deviations", "checkpoint_every", "log_every"})


@dataclasses.dataclass
class VggStageConfig(TrainingConfig):
    """Configuration of the VGG pre-training stage (derived from an :class:`Esrgan3dConfig`).

    Attributes:
        vgg_width: first-layer width of the 3D VGG-19.
        vgg_batch_norm: batch norm after each VGG conv.
        vgg_levels: degradation levels of the pre-training task.
        lr: Adam learning rate.
        beta1, beta2: Adam's coefficients.
    """

    vgg_width: int = 64
    vgg_batch_norm: bool = True
    vgg_levels: int = 4
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999


def vgg_stage_config(config: Esrgan3dConfig) -> VggStageConfig:
    """The VGG stage of an ESRGAN-3D run: same patches, seed and track; its own length and rate."""
    return VggStageConfig(
        method=VGG_METHOD,
        preset=config.preset,
        track=config.track,
        fold=config.fold,
        iterations=config.vgg_iterations,
        batch_size=config.batch_size,
        patch_size=config.patch_size,
        patch_stride=config.patch_stride,
        min_foreground=config.min_foreground,
        scale=config.scale,
        seed=config.seed,
        checkpoint_every=min(config.checkpoint_every, config.vgg_iterations),
        log_every=config.log_every,
        deviations=config.deviations,
        vgg_width=config.vgg_width,
        vgg_batch_norm=config.vgg_batch_norm,
        vgg_levels=config.vgg_levels,
        lr=config.vgg_lr,
        beta1=config.beta1,
        beta2=config.beta2,
    )


def vgg_stage_algorithm(config: VggStageConfig, *, device: str = "cpu") -> VggPretextAlgorithm:
    """The VGG pre-training algorithm of ``config``."""
    return VggPretextAlgorithm(
        width=config.vgg_width, batch_norm=config.vgg_batch_norm, levels=config.vgg_levels,
        lr=config.lr, betas=(config.beta1, config.beta2), device=device,
    )


#: the VGG stage as a trainer (run by :meth:`Esrgan3dTrainer.prepare`, not registered: it is
#: not a super-resolution method)
VGG_STAGE_TRAINER = MethodTrainer(name=VGG_METHOD, config_class=VggStageConfig, presets={}, algorithm=vgg_stage_algorithm)


def load_vgg(path: Path, *, width: int, batch_norm: bool) -> VGG19Features3d:
    """The VGG54 extractor stored in a VGG-stage model file (``vgg/model.safetensors``)."""
    ckpt = load_checkpoint(path, method=VGG_METHOD)
    stored = (ckpt.config.get("vgg_width"), ckpt.config.get("vgg_batch_norm"))
    if stored != (width, batch_norm):
        raise InputError(
            f"{path}: VGG (width, batch norm) {stored} does not fit vgg_width={width}, vgg_batch_norm={batch_norm}"
        )
    vgg = VGG19Features3d(width=width, batch_norm=batch_norm)
    restore_modules(ckpt, {"vgg": vgg})
    return vgg


def _cached_vgg(vgg_dir: Path, stage: VggStageConfig) -> Path | None:
    """``vgg_dir/model.safetensors`` when it was trained with exactly ``stage``'s configuration."""
    path = vgg_dir / MODEL_FILE
    if not path.exists():
        return None
    stored = load_checkpoint(path, method=VGG_METHOD).config
    current = config_to_dict(stage)
    differences = sorted(
        key for key in set(stored) | set(current) if key not in _NOT_VGG_DEFINING and stored.get(key) != current.get(key)
    )
    if differences:
        detail = "; ".join(f"{k} ({stored.get(k)!r} → {current.get(k)!r})" for k in differences)
        raise InputError(
            f"{path}: cached VGG was trained with another configuration ({detail}); "
            "choose another --run-dir or delete that vgg directory"
        )
    return path


@dataclasses.dataclass(frozen=True)
class Esrgan3dTrainer:
    """The :class:`~srbench.interfaces.Trainer` of ESRGAN-3D."""

    name: str = NAME
    config_class: type = Esrgan3dConfig
    presets: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=lambda: PRESETS)

    def prepare(
        self,
        config: Esrgan3dConfig,
        *,
        volumes: Sequence[Volume],
        degradation: Degradation,
        run_dir: Path,
        resume: bool,
        device: str = "cpu",
        progress: bool = True,
    ) -> dict[str, Any]:
        """Run (or reuse) the VGG stage in ``run_dir/vgg``; return ``build``'s ``vgg_weights``."""
        from srbench.training.loop import run_training

        stage = vgg_stage_config(config)
        vgg_dir = Path(run_dir) / VGG_DIR
        cached = _cached_vgg(vgg_dir, stage)
        if cached is not None:
            if progress:
                print(f"reusing the pre-trained VGG in {cached}", file=sys.stderr, flush=True)
            return {"vgg_weights": cached}
        resume_stage = resume or (vgg_dir / CHECKPOINT_FILE).exists()
        path = run_training(
            trainer=VGG_STAGE_TRAINER, config=stage, volumes=volumes, degradation=degradation,
            run_dir=vgg_dir, resume=resume_stage, device=device, progress=progress,
        )
        return {"vgg_weights": path}

    def build(self, config: Esrgan3dConfig, *, device: str = "cpu", vgg_weights: Path | None = None) -> Esrgan3dAlgorithm:
        """The GAN-stage algorithm. ``vgg_weights`` comes from :meth:`prepare`; without it the
        VGG keeps its random initialisation (only for unit tests and the conformance kit:
        :func:`~srbench.training.loop.run_training` always prepares it)."""
        if vgg_weights is None:
            vgg = VGG19Features3d(width=config.vgg_width, batch_norm=config.vgg_batch_norm)
        else:
            vgg = load_vgg(Path(vgg_weights), width=config.vgg_width, batch_norm=config.vgg_batch_norm)
        return Esrgan3dAlgorithm(config, vgg=vgg, device=device)



TRAINER = Esrgan3dTrainer()
