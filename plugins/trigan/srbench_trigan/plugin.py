"""srbench hook implementations of the three-player GAN plugin (registered by entry point)."""

from __future__ import annotations

import srbench
from srbench_trigan.trainer import TriganTrainer, trigan_model

SRBENCH_API_VERSIONS = ("1",)


@srbench.hookimpl
def register_models():
    return [trigan_model()]


@srbench.hookimpl
def register_trainers():
    return [TriganTrainer()]
