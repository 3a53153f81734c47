"""The paper preset: its settings, a full-size shape check, and a real two-iteration start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srbench.data.degradations import PaperLinear
from srbench.interfaces import Volume
from srbench.io.checkpoint import load_checkpoint
from srbench.training.config import resolve_config
from srbench.training.loop import run_training
from srbench_trigan.algorithm import TriganAlgorithm
from srbench_trigan.networks import parameter_count
from srbench_trigan.trainer import TRAINER


def test_paper_preset_holds_the_paper_settings():
    config = resolve_config(TRAINER, preset="paper", overrides={})
    assert (config.patch_size, config.patch_stride, config.iterations) == (64, 16, 60000)
    assert (config.nf, config.gc, config.n_rrdb) == (64, 32, 3)
    assert (config.lr, tuple(config.betas)) == (1e-4, (0.9, 0.999))
    assert (config.w_perc, config.w_pix, config.w_gan) == (1.0, 0.01, 0.005)
    assert config.noise_schedule == "linear-std" and config.variant == "paper"
    assert not config.global_residual and config.warmup_iterations == 0
    assert config.deviations == ()
    authors = resolve_config(TRAINER, preset="authors-code", overrides={})
    assert (authors.w_pix, authors.w_perc, authors.w_gan, authors.variant) == (1.0, 0.01, 0.005, "authors-code")
    assert authors.deviations


def test_paper_size_forward_and_backward_shapes_on_the_meta_device():
    config = resolve_config(TRAINER, preset="paper", overrides={})
    with torch.device("meta"):
        algorithm = TriganAlgorithm(config, device="meta")
    g, d, fe = (algorithm.modules[k] for k in ("generator", "discriminator", "feature_extractor"))
    print({k: parameter_count(m) for k, m in algorithm.modules.items()})
    b, p = config.batch_size, config.patch_size
    lr = torch.empty(b, 1, p // 2, p // 2, p // 2, device="meta")
    sr = g(lr)
    assert sr.shape == (b, 1, p, p, p)
    features = fe(torch.cat([sr, sr]))
    assert features.shape == (2 * b, 512, p // 8, p // 8, p // 8)
    logits = d(sr)
    assert logits.shape == (b, 1)
    (features.mean() + logits.mean()).backward()
    assert all(q.grad is not None and q.grad.shape == q.shape for q in g.parameters())


@pytest.mark.slow
def test_paper_preset_starts_trains_two_iterations_and_checkpoints(tmp_path):
    trainer = TRAINER
    # Full paper widths; a 32³ patch and batch 1 keep this CPU test short.
    config = resolve_config(
        trainer, preset="paper",
        overrides={"iterations": "2", "patch_size": "32", "batch_size": "1", "checkpoint_every": "1"},
    )
    rng = np.random.default_rng(0)
    volume = Volume(data=torch.from_numpy(rng.uniform(0, 100, (40, 36, 34)).astype(np.float32)), affine=np.eye(4), source="noise")
    model = run_training(
        trainer=trainer, config=config, volumes=[volume], degradation=PaperLinear(), run_dir=tmp_path / "paper",
        resume=False, progress=False, data_files=[],
    )
    ckpt = load_checkpoint(tmp_path / "paper" / "checkpoint.safetensors", method="trigan")
    assert ckpt.kind == "checkpoint" and ckpt.iteration == 2
    assert ckpt.module_names() == ["discriminator", "feature_extractor", "generator"]
    assert sorted(ckpt.optimizers) == ["discriminator", "feature_extractor", "generator"]
    assert ckpt.config["nf"] == 64 and ckpt.config["preset"] == "paper"
    assert load_checkpoint(model, method="trigan").module_names() == ["generator"]
