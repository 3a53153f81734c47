"""The three-player GAN's :class:`~srbench.interfaces.Trainer` and :class:`~srbench.interfaces.SRModel`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from srbench.training.checkpoint import CheckpointModel
from srbench_trigan.algorithm import TriganAlgorithm, build_generator
from srbench_trigan.config import PRESETS, TriganConfig
from srbench_trigan.networks import NATIVE_SCALE

METHOD = "trigan"


class TriganTrainer:
    """Builds :class:`~srbench_trigan.algorithm.TriganAlgorithm` for ``srbench train trigan``.

    Attributes:
        name: ``"trigan"``.
        config_class: :class:`~srbench_trigan.config.TriganConfig`.
        presets: ``paper``, ``authors-code`` and ``cpu`` (see :mod:`srbench_trigan.config`).
    """

    name: str = METHOD
    config_class: type = TriganConfig
    presets: Mapping[str, Mapping[str, Any]] = PRESETS

    def build(self, config: TriganConfig, *, device: str = "cpu") -> TriganAlgorithm:
        """Networks and optimisers for ``config`` (the caller seeds torch first)."""
        return TriganAlgorithm(config, device=device)


def trigan_model() -> CheckpointModel:
    """The inference side: the generator rebuilt from a checkpoint's stored configuration."""
    return CheckpointModel(
        name=METHOD,
        description="three-player GAN (RRDB generator, RaGAN critic, co-trained ResNet-10 feature extractor), ×2",
        build_network=build_generator,
        module_key="generator",
        native_scale=NATIVE_SCALE,
        config_class=TriganConfig,
    )
