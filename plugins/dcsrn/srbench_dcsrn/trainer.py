"""Training side of DCSRN: the network of a configuration, one pixel-loss step, the trainer."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srbench.interfaces import PatchBatch
from srbench.training.trainer import MethodTrainer

from srbench_dcsrn.config import PRESETS, DCSRNConfig
from srbench_dcsrn.network import DCSRN

NAME = "dcsrn"


def build_network(config: DCSRNConfig) -> DCSRN:
    """The DCSRN network of a configuration."""
    return DCSRN(
        first_channels=config.first_channels, growth=config.growth, units=config.units,
        final_kernel=config.final_kernel, scale=config.scale, residual=config.residual,
    )


class DCSRNAlgorithm:
    """One network, one Adam optimiser, a pixel loss (L2 in the paper).

    Attributes:
        modules: ``{"generator": DCSRN}``.
        optimizers: ``{"generator": Adam}``.
        inference_module: ``"generator"``.
    """

    inference_module = "generator"

    def __init__(self, config: DCSRNConfig, *, device: str = "cpu") -> None:
        self.config = config
        network = build_network(config).to(device)
        self.modules = {"generator": network}
        self.optimizers = {
            "generator": torch.optim.Adam(network.parameters(), lr=config.learning_rate, betas=tuple(config.betas))
        }

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        """One optimisation step on ``batch`` (no randomness is drawn)."""
        network = self.modules["generator"]
        optimizer = self.optimizers["generator"]
        network.train()
        device = next(network.parameters()).device
        lr, hr = batch.lr.to(device), batch.hr.to(device)
        sr = network(lr)
        loss = F.mse_loss(sr, hr) if self.config.loss == "l2" else F.l1_loss(sr, hr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            mse = float(F.mse_loss(sr, hr))
            baseline = float(F.mse_loss(network.interpolate(lr), hr))
        return {"loss": loss.item(), "mse": mse, "mse_trilinear": baseline}


TRAINER = MethodTrainer(name=NAME, config_class=DCSRNConfig, presets=PRESETS, algorithm=DCSRNAlgorithm)
