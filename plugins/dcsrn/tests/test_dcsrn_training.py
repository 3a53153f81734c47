"""DCSRN training through the core loop: a real step, checkpoint round trip, exact resume."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from srbench.data.degradations import PaperLinear
from srbench.interfaces import Volume
from srbench.io.checkpoint import load_checkpoint, restore_modules
from srbench.training.checkpoint import restore_optimizers, save_checkpoint
from srbench.training.config import config_to_dict, resolve_config
from srbench.training.loop import run_training
from srbench.training.patches import PatchSource
from srbench_dcsrn.trainer import TRAINER

TINY = {
    "first_channels": "4", "growth": "2", "units": "2", "patch_size": "8", "patch_stride": "4",
    "batch_size": "2", "min_foreground": "0", "checkpoint_every": "2", "learning_rate": "1e-2",
}


def volumes() -> list[Volume]:
    """Two smooth 16³ volumes (a blob on a gradient) with different affines."""
    axes = torch.meshgrid(*[torch.linspace(-1, 1, 16)] * 3, indexing="ij")
    out = []
    for k in range(2):
        data = 100 * torch.exp(-(axes[0] ** 2 + (axes[1] - 0.2 * k) ** 2 + axes[2] ** 2) * 3) + 10 * axes[2] + 20
        out.append(Volume(data=data.to(torch.float32), affine=np.diag([1.0, 1.0, 1.2, 1.0]), source=f"toy {k}"))
    return out


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


def test_checkpoint_round_trip_continues_identically(tmp_path):
    cfg = config()
    batches = [batch(cfg, i) for i in range(2)]
    torch.manual_seed(0)
    original = TRAINER.build(cfg)
    original.step(batches[0], iteration=0, total=2, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, method="dcsrn", kind="checkpoint", config=config_to_dict(cfg),
                    modules=original.modules, optimizers=original.optimizers, iteration=1)
    torch.manual_seed(99)
    restored = TRAINER.build(cfg)
    ckpt = load_checkpoint(path, method="dcsrn")
    restore_modules(ckpt, restored.modules)
    restore_optimizers(ckpt, restored.optimizers)
    for algorithm in (original, restored):
        algorithm.step(batches[1], iteration=1, total=2, generator=torch.Generator().manual_seed(1))
    a, b = original.modules["generator"].state_dict(), restored.modules["generator"].state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_resumed_core_loop_run_is_bitwise_identical(tmp_path):
    cfg = config(iterations=4)
    train = dict(trainer=TRAINER, volumes=volumes(), degradation=PaperLinear(), progress=False)
    whole = run_training(config=cfg, run_dir=tmp_path / "whole", resume=False, **train)
    run_training(config=dataclasses.replace(cfg, iterations=2), run_dir=tmp_path / "split", resume=False, **train)
    assert load_checkpoint(tmp_path / "split" / "checkpoint.safetensors", method="dcsrn").iteration == 2
    resumed = run_training(config=cfg, run_dir=tmp_path / "split", resume=True, **train)
    a = load_checkpoint(whole, method="dcsrn").tensors
    b = load_checkpoint(resumed, method="dcsrn").tensors
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
