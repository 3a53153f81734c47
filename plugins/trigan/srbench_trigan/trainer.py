"""Training side of the three-player GAN: the trainer of ``srbench train trigan``."""

from __future__ import annotations

from srbench.training.trainer import MethodTrainer

from srbench_trigan.algorithm import TriganAlgorithm
from srbench_trigan.config import PRESETS, TriganConfig

NAME = "trigan"

#: presets ``paper``, ``authors-code`` and ``cpu`` (see :mod:`srbench_trigan.config`)
TRAINER = MethodTrainer(name=NAME, config_class=TriganConfig, presets=PRESETS, algorithm=TriganAlgorithm)
