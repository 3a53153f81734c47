"""Inference side of ESRGAN-3D: the RRDB generator rebuilt from a checkpoint's stored configuration."""

from __future__ import annotations

from srbench.models import CheckpointModel

from srbench_esrgan3d.algorithm import build_generator
from srbench_esrgan3d.config import Esrgan3dConfig
from srbench_esrgan3d.trainer import NAME

MODEL = CheckpointModel(
    name=NAME, config_class=Esrgan3dConfig, build_network=build_generator,
    description="ESRGAN-3D: RRDB generator, relativistic GAN, 3D VGG-19 perceptual loss (VGG self-supervised on the track)",
)
