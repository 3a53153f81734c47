"""ESRGAN-3D training: one real step of each phase, the VGG stage and its cache, checkpoint
round trip and bitwise-exact resume through the core loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from srbench.data.degradations import PaperLinear
from srbench.errors import InputError
from srbench.interfaces import Volume
from srbench.io.checkpoint import load_checkpoint, restore_modules
from srbench.testing.synthetic import smooth_volume
from srbench.training.checkpoint import restore_optimizers, save_checkpoint
from srbench.training.config import config_to_dict, resolve_config
from srbench.training.loop import run_training
from srbench.training.patches import PatchSource
from srbench_esrgan3d import algorithm as algorithm_module
from srbench_esrgan3d.trainer import VGG_DIR, VGG_METHOD, Esrgan3dTrainer

TINY = {
    "channels": 4, "growth": 2, "blocks": 1, "d_channels": 2, "d_stages": 3, "d_hidden": 4, "vgg_width": 2,
    "patch_size": 16, "patch_stride": 8, "batch_size": 2, "min_foreground": 0, "iterations": 4,
    "warmup_fraction": 0.5, "vgg_iterations": 2, "checkpoint_every": 2, "log_every": 1,
}


def volumes() -> list[Volume]:
    """Two smooth 24×16×16 volumes with different affines."""
    return [Volume(data=smooth_volume((24, 16, 16), seed=k), affine=np.diag([1.0, 1.0, 1.2 + k, 1.0]), source=f"toy {k}")
            for k in range(2)]


def config(**changes):
    return resolve_config(Esrgan3dTrainer(), preset="cpu", overrides={**TINY, **changes})


def batch(cfg, iteration: int):
    source = PatchSource(volumes(), patch_size=cfg.patch_size, stride=cfg.patch_stride, scale=cfg.scale,
                         degradation=PaperLinear(), min_foreground=0.0, seed=cfg.seed)
    return source.batch(iteration, cfg.batch_size)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


def train(cfg, run_dir, *, resume=False):
    return run_training(trainer=Esrgan3dTrainer(), config=cfg, volumes=volumes(), degradation=PaperLinear(),
                        run_dir=run_dir, resume=resume, progress=False)


def test_one_real_step_of_each_phase():
    cfg = config()
    torch.manual_seed(0)
    algo = Esrgan3dTrainer().build(cfg)
    g, d = algo.modules["generator"], algo.modules["discriminator"]
    vgg_before, g_before, d_before = snapshot(algo.vgg), snapshot(g), snapshot(d)

    warm = algo.step(batch(cfg, 0), iteration=0, total=4, generator=torch.Generator().manual_seed(0))
    assert warm["phase"] == 0.0 and warm["l_g"] == warm["l_pix"] > 0 and math.isnan(warm["l_d"])
    assert warm["lr_g"] == cfg.warmup_lr
    assert changed(g_before, g) and not changed(d_before, d)

    g_before, d_before = snapshot(g), snapshot(d)
    gan = algo.step(batch(cfg, 2), iteration=2, total=4, generator=torch.Generator().manual_seed(2))
    assert gan["phase"] == 1.0 and gan["lr_g"] == gan["lr_d"] == cfg.lr
    assert all(np.isfinite(gan[k]) for k in ("l_pix", "l_percep", "l_g_gan", "l_g", "l_d", "d_real", "d_fake"))
    expected = cfg.perceptual_weight * gan["l_percep"] + cfg.gan_weight * gan["l_g_gan"] + cfg.pixel_weight * gan["l_pix"]
    assert gan["l_g"] == pytest.approx(expected, rel=1e-5)
    assert changed(g_before, g) and changed(d_before, d)
    assert not changed(vgg_before, algo.vgg)  # the perceptual network stays frozen
    assert set(warm) == set(gan)  # losses.csv keeps one header across phases


def test_vgg_stage_step_learns_from_hr_patches():
    cfg = config()
    torch.manual_seed(0)
    stage = algorithm_module.VggPretextAlgorithm(width=2, levels=4, lr=1e-3)
    before = snapshot(stage.modules["vgg"])
    scalars = stage.step(batch(cfg, 0), iteration=0, total=1, generator=torch.Generator().manual_seed(0))
    assert set(scalars) == {"loss_level", "accuracy", "feature_std"}
    assert scalars["loss_level"] > 0 and 0 <= scalars["accuracy"] <= 1
    assert changed(before, stage.modules["vgg"])


def test_checkpoint_round_trip_continues_identically(tmp_path):
    cfg = config()
    batches = [batch(cfg, i) for i in range(4)]
    torch.manual_seed(0)
    original = Esrgan3dTrainer().build(cfg)
    for i in range(3):
        original.step(batches[i], iteration=i, total=4, generator=torch.Generator().manual_seed(i))
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, method="esrgan3d", kind="checkpoint", config=config_to_dict(cfg),
                    modules=original.modules, optimizers=original.optimizers, iteration=3)
    torch.manual_seed(99)
    restored = Esrgan3dTrainer().build(cfg)
    restored.vgg.load_state_dict(original.vgg.state_dict())  # the loop loads it from the VGG stage
    ckpt = load_checkpoint(path, method="esrgan3d")
    restore_modules(ckpt, restored.modules)
    restore_optimizers(ckpt, restored.optimizers)
    for algo in (original, restored):
        algo.step(batches[3], iteration=3, total=4, generator=torch.Generator().manual_seed(3))
    for name in ("generator", "discriminator"):
        a, b = original.modules[name].state_dict(), restored.modules[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_vgg_stage_runs_in_the_core_loop_and_is_cached(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    model = train(config(), run_dir)
    vgg_model = run_dir / VGG_DIR / "model.safetensors"
    stored = load_checkpoint(vgg_model, method=VGG_METHOD)
    assert stored.iteration == 2 and stored.module_names() == ["vgg"]
    assert (run_dir / VGG_DIR / "losses.csv").read_text().startswith("iteration,")
    assert load_checkpoint(model, method="esrgan3d").module_names() == ["generator"]

    # A re-run in the same directory (GAN checkpoint removed) reuses the cached VGG...
    def no_training(*args, **kwargs):
        raise AssertionError("the cached VGG was trained again")

    monkeypatch.setattr(algorithm_module.VggPretextAlgorithm, "step", no_training)
    (run_dir / "checkpoint.safetensors").unlink()
    again = train(config(), run_dir)
    assert load_checkpoint(again, method="esrgan3d").iteration == 4
    # ...and refuses it when the VGG stage's configuration changed.
    (run_dir / "checkpoint.safetensors").unlink()
    with pytest.raises(InputError, match="vgg_width"):
        train(config(vgg_width=3), run_dir)


class Crash(Exception):
    """Stands for a kill between two checkpoints."""


def test_crashed_run_resumes_bitwise_identically(tmp_path, monkeypatch):
    cfg = config(iterations=6)  # 3 warm-up + 3 GAN iterations
    whole = train(cfg, tmp_path / "whole")

    real_step = algorithm_module.Esrgan3dAlgorithm.step

    def crashing_step(self, batch, *, iteration, total, generator):
        if iteration == 5:
            raise Crash
        return real_step(self, batch, iteration=iteration, total=total, generator=generator)

    monkeypatch.setattr(algorithm_module.Esrgan3dAlgorithm, "step", crashing_step)
    with pytest.raises(Crash):
        train(cfg, tmp_path / "split")
    assert load_checkpoint(tmp_path / "split" / "checkpoint.safetensors", method="esrgan3d").iteration == 4
    monkeypatch.setattr(algorithm_module.Esrgan3dAlgorithm, "step", real_step)
    resumed = train(cfg, tmp_path / "split", resume=True)
    for name in ("model.safetensors", "checkpoint.safetensors"):
        a = load_checkpoint(whole.parent / name, method="esrgan3d").tensors
        b = load_checkpoint(resumed.parent / name, method="esrgan3d").tensors
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
