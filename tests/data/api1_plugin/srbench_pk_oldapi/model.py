"""Inference side of oldapi: a checkpoint-backed model (weights come from ``srbench train``)."""

from __future__ import annotations

from srbench.training.checkpoint import CheckpointModel

from srbench_pk_oldapi.trainer import NAME, build_network


def oldapi_model() -> CheckpointModel:
    """The :class:`srbench.interfaces.SRModel`: rebuilds the network from a checkpoint's stored
    configuration, loads its weights and predicts by overlapping patches on the HR grid."""
    return CheckpointModel(
        name=NAME,
        description="oldapi: residual CNN over trilinear up-sampling",
        build_network=build_network,
        module_key="generator",
    )
