"""DCSRN training: a real step of the paper's L2 loss (checkpoint round trip and exact resume
are checked by the conformance kit, test_dcsrn_conformance.py)."""

from __future__ import annotations

import numpy as np
import torch

from srbench.data.degradations import PaperLinear
from srbench.interfaces import Volume
from srbench.testing.synthetic import smooth_volume
from srbench.training.config import resolve_config
from srbench.training.patches import PatchSource
from srbench_dcsrn.trainer import TRAINER

TINY = {
    "first_channels": "4", "growth": "2", "units": "2", "patch_size": "8", "patch_stride": "4",
    "batch_size": "2", "min_foreground": "0", "checkpoint_every": "2", "learning_rate": "1e-2",
}


def volumes() -> list[Volume]:
    """Two smooth 16³ volumes."""
    return [Volume(data=smooth_volume((16, 16, 16), seed=k), affine=np.diag([1.0, 1.0, 1.2, 1.0]), source=f"toy {k}")
            for k in range(2)]


def config(**changes):
    return resolve_config(TRAINER, preset="cpu", overrides={**TINY, **{k: str(v) for k, v in changes.items()}})


def batch(cfg, iteration):
    source = PatchSource(volumes(), patch_size=cfg.patch_size, stride=cfg.patch_stride, scale=cfg.scale,
                         degradation=PaperLinear(), min_foreground=0.0, seed=cfg.seed)
    return source.batch(iteration, cfg.batch_size)


def test_one_real_step_reduces_nothing_to_nan_and_changes_the_weights():
    cfg = config(residual="false", loss="l2")
    torch.manual_seed(0)
    algorithm = TRAINER.build(cfg)
    before = {k: v.clone() for k, v in algorithm.modules["generator"].state_dict().items()}
    scalars = algorithm.step(batch(cfg, 0), iteration=0, total=1, generator=torch.Generator().manual_seed(0))
    assert set(scalars) == {"loss", "mse", "mse_trilinear"} and all(np.isfinite(list(scalars.values())))
    assert abs(scalars["loss"] - scalars["mse"]) < 1e-6  # the paper's L2 loss
    after = algorithm.modules["generator"].state_dict()
    assert not torch.equal(before["first.weight"], after["first.weight"])
    assert not torch.equal(before["block.units.0.norm.running_mean"], after["block.units.0.norm.running_mean"])
