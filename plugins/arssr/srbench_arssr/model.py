"""Inference side of ArSSR: the network rebuilt from a checkpoint, run by its own any-scale predictor."""

from __future__ import annotations

from srbench.models import CheckpointModel

from srbench_arssr.config import ArSSRConfig
from srbench_arssr.predictor import ArSSRPredictor
from srbench_arssr.trainer import MODULE, NAME, build_network

MODEL = CheckpointModel(
    name=NAME, description="ArSSR (Wu et al. 2023): CNN encoder + implicit MLP decoder, arbitrary (non-integer) scales",
    config_class=ArSSRConfig, build_network=build_network, module_key=MODULE, predictor=ArSSRPredictor,
)
