"""Inference side of the three-player GAN: the ×2 generator rebuilt from a checkpoint's stored configuration."""

from __future__ import annotations

from srbench.models import CheckpointModel

from srbench_trigan.algorithm import build_generator
from srbench_trigan.config import TriganConfig
from srbench_trigan.networks import NATIVE_SCALE
from srbench_trigan.trainer import NAME

MODEL = CheckpointModel(
    name=NAME, config_class=TriganConfig, build_network=build_generator, native_scale=NATIVE_SCALE,
    description="three-player GAN (RRDB generator, RaGAN critic, co-trained ResNet-10 feature extractor), ×2",
)
