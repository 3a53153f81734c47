"""Training side of oldapi: configuration, presets and one optimisation step.

srbench's core loop (``srbench train oldapi``) does everything else: patch sampling,
seeding, checkpoints, exact resume, logging and multi-process training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from srbench.errors import InputError
from srbench.interfaces import PatchBatch
from srbench.training.config import TrainingConfig

from srbench_pk_oldapi.network import ResidualUpsampler

NAME = "oldapi"


@dataclasses.dataclass
class OldapiConfig(TrainingConfig):
    """Options of oldapi on top of srbench's TrainingConfig (set any with ``--set KEY=VALUE``).

    Attributes:
        channels: feature maps of the hidden convolutions.
        layers: number of 3×3×3 convolutions.
        learning_rate: Adam step size.
    """

    channels: int = 16
    layers: int = 3
    learning_rate: float = 1e-3

    def validate(self) -> None:
        """Raise an InputError naming the first option outside its range (see MINIMUMS)."""
        super().validate()
        values = dataclasses.asdict(self)
        for name, smallest in MINIMUMS.items():
            if name in values and not values[name] >= smallest:
                raise InputError(f"option {name}: must be at least {smallest}, got {values[name]!r}")
        if not self.learning_rate > 0:
            raise InputError(f"option learning_rate: must be positive, got {self.learning_rate}")


#: field → smallest valid value, checked by validate() for the fields the configuration has
#: (add yours; a field you remove from the configuration is simply not checked)
MINIMUMS: Mapping[str, float] = {"channels": 1, "layers": 2}


#: preset name → field values; ``srbench train oldapi`` uses ``cpu`` unless --preset says otherwise
PRESETS: Mapping[str, Mapping[str, Any]] = {
    "cpu": {
        "iterations": 300,
        "batch_size": 4,
        "patch_size": 32,
        "patch_stride": 16,
        "checkpoint_every": 100,
        "channels": 16,
        "layers": 3,
        "learning_rate": 1e-3,
    },
}


def build_network(config: Mapping[str, Any]) -> ResidualUpsampler:
    """The network for a configuration dict (a run's config.json, or a checkpoint's)."""
    return ResidualUpsampler(channels=int(config["channels"]), layers=int(config["layers"]), scale=config["scale"])


class OldapiAlgorithm:
    """One network trained with an L1 loss against the HR patch."""

    inference_module = "generator"

    def __init__(self, config: OldapiConfig, *, device: str) -> None:
        network = build_network(dataclasses.asdict(config)).to(device)
        self.modules: dict[str, torch.nn.Module] = {"generator": network}
        self.optimizers: dict[str, torch.optim.Optimizer] = {
            "generator": torch.optim.Adam(network.parameters(), lr=config.learning_rate)
        }

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        """One Adam step on ``batch`` (LR ``(B, 1, w, h, d)`` → HR ``(B, 1, W, H, D)``).

        Draw any random numbers from ``generator`` (none are needed here): that is what
        makes a resumed run identical to an uninterrupted one.
        """
        network = self.modules["generator"]
        optimizer = self.optimizers["generator"]
        sr = network(batch.lr)
        loss = F.l1_loss(sr, batch.hr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"l1": float(loss.detach())}


@dataclasses.dataclass(frozen=True)
class OldapiTrainer:
    """The :class:`srbench.interfaces.Trainer` of oldapi."""

    name: str = NAME
    config_class: type = OldapiConfig
    presets: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=lambda: PRESETS)

    def build(self, config: OldapiConfig, *, device: str = "cpu") -> OldapiAlgorithm:
        return OldapiAlgorithm(config, device=device)
