"""The trainer record a learned method registers: its name, configuration, presets and algorithm."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from srbench.interfaces import Algorithm
from srbench.training.config import TrainingConfig


@dataclasses.dataclass(frozen=True)
class MethodTrainer:
    """A :class:`~srbench.interfaces.Trainer` made of its parts; ``srbench train NAME`` does the rest::

        TRAINER = MethodTrainer(name="mymethod", config_class=MyConfig, presets=PRESETS, algorithm=MyAlgorithm)

    A trainer with a ``prepare`` stage (a pre-trained feature extractor) writes its own class.

    Attributes:
        name: the method name (the same as its :class:`~srbench.interfaces.SRModel`).
        config_class: a dataclass subclassing :class:`~srbench.training.config.TrainingConfig`.
        presets: preset name → field overrides of ``config_class`` (``paper`` and ``cpu``).
        algorithm: ``algorithm(config, device=...)`` → the :class:`~srbench.interfaces.Algorithm`
            (networks and optimisers; the caller seeds torch first).
    """

    name: str
    config_class: type[TrainingConfig]
    presets: Mapping[str, Mapping[str, Any]] = dataclasses.field(repr=False)
    algorithm: Callable[..., Algorithm] = dataclasses.field(repr=False)

    def build(self, config: TrainingConfig, *, device: str = "cpu") -> Algorithm:
        """The algorithm of ``config`` on ``device``."""
        return self.algorithm(config, device=device)
