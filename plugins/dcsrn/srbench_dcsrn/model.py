"""Inference side of DCSRN: the network rebuilt from a checkpoint's stored configuration."""

from __future__ import annotations

from srbench.models import CheckpointModel

from srbench_dcsrn.config import DCSRNConfig
from srbench_dcsrn.trainer import NAME, build_network

MODEL = CheckpointModel(
    name=NAME, description="DCSRN (Chen et al. 2018): densely connected 3D CNN refining trilinear interpolation",
    config_class=DCSRNConfig, build_network=build_network,
)
