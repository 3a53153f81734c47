"""The trainer in the core loop: checkpoints, bitwise resume after an interruption, train → predict."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from srbench.data.degradations import PaperLinear
from srbench.interfaces import InferenceSettings, Volume
from srbench.plugins import get_plugin_manager
from srbench.io.checkpoint import load_checkpoint
from srbench.cli.runner import run_cli
from srbench.testing.synthetic import smooth_volume
from srbench.training.config import resolve_config
from srbench.training.loop import run_training
from srbench.training.trainer import MethodTrainer
from srbench_trigan.algorithm import LOGGED
from srbench_trigan.trainer import TRAINER

TINY = {
    "nf": "4", "gc": "2", "d_channels": "4,4", "fe_channels": "2,2,2,2", "patch_size": "16", "patch_stride": "8",
    "batch_size": "2", "iterations": "6", "l1_warmup_fraction": "0.34", "checkpoint_every": "2", "min_foreground": "0",
}


def volumes() -> list[Volume]:
    return [Volume(data=smooth_volume((24, 22, 20), seed=s), affine=np.eye(4), source=f"blob{s}") for s in (0, 1)]


class Interrupting:
    """Wraps an algorithm so that its step raises KeyboardInterrupt at one iteration (a Ctrl-C or kill)."""

    def __init__(self, algorithm, *, at: int) -> None:
        self.inner, self.at = algorithm, at
        self.modules, self.optimizers = algorithm.modules, algorithm.optimizers
        self.inference_module = algorithm.inference_module

    def step(self, batch, *, iteration, total, generator):
        if iteration == self.at:
            raise KeyboardInterrupt
        return self.inner.step(batch, iteration=iteration, total=total, generator=generator)


def interrupting_trainer() -> MethodTrainer:
    return dataclasses.replace(TRAINER, algorithm=lambda config, *, device="cpu": Interrupting(TRAINER.build(config, device=device), at=5))


def train(run_dir: Path, *, trainer=None, resume: bool = False, **changes) -> Path:
    trainer = trainer or TRAINER
    config = resolve_config(trainer, preset="cpu", overrides={**TINY, **changes})
    return run_training(
        trainer=trainer, config=config, volumes=volumes(), degradation=PaperLinear(), run_dir=run_dir,
        resume=resume, progress=False, data_files=[],
    )


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path, method="trigan").tensors


def test_resume_after_an_interruption_is_bitwise_identical(tmp_path):
    whole = train(tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "split", trainer=interrupting_trainer())
    assert load_checkpoint(tmp_path / "split" / "checkpoint.safetensors", method="trigan").iteration == 4
    resumed = train(tmp_path / "split", resume=True)
    a, b = tensors(whole), tensors(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    full_a = tensors(tmp_path / "whole" / "checkpoint.safetensors")
    full_b = tensors(tmp_path / "split" / "checkpoint.safetensors")
    assert {k.split("/")[1] for k in full_a if k.startswith("optim/")} == {"discriminator", "feature_extractor", "generator"}
    assert all(torch.equal(full_a[k], full_b[k]) for k in full_a)


def test_channels_last_training_matches_contiguous_to_float_rounding(tmp_path):
    # the CPU default ("auto") trains in channels-last 3D; the weights after 6 steps (L1
    # warm-up and adversarial phase, all three players) equal contiguous training's
    fast = tensors(train(tmp_path / "channels-last", memory_format="channels-last", iterations="6"))
    plain = tensors(train(tmp_path / "contiguous", memory_format="contiguous", iterations="6"))
    assert fast.keys() == plain.keys()
    worst = max(float((fast[k] - plain[k]).abs().max() / plain[k].abs().max().clamp(min=1e-12)) for k in plain)
    assert worst < 1e-4
    stored = json.loads((tmp_path / "contiguous" / "config.json").read_text())
    assert stored["memory_format"] == "contiguous"


def test_run_directory_records_losses_readings_and_a_loadable_model(tmp_path):
    model_path = train(tmp_path / "run")
    with open(tmp_path / "run" / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == list(range(6))
    assert set(LOGGED) <= set(rows[0])
    assert rows[0]["L_D"] == "nan" and float(rows[2]["L_D"]) > 0  # L1 warm-up, then the three players
    assert [float(r["noise_sigma"]) for r in rows[2:]] == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["noise_schedule"] == "linear-std" and config["variant"] == "paper"
    assert any(r.startswith("noise-anneals-std") for r in config["readings"])
    assert any(d.startswith("global-residual") for d in config["deviations"])

    stored = load_checkpoint(model_path, method="trigan")
    assert stored.kind == "model" and stored.module_names() == ["generator"]
    predictor = get_plugin_manager().get("model", "trigan").load(checkpoint=tmp_path / "run")
    lr = Volume(data=torch.rand(9, 8, 7) * 100, affine=np.diag([2.0, 2.0, 2.0, 1.0]), source="lr")
    sr = predictor.predict(lr, scale=(2, 2, 2), settings=InferenceSettings(patch_size=8, overlap=2, batch_size=2))
    assert sr.shape == (18, 16, 14) and torch.isfinite(sr.data).all()
    np.testing.assert_allclose(sr.spacing, (1.0, 1.0, 1.0))


def test_authors_code_preset_trains_and_checkpoints_two_optimisers(tmp_path):
    model = train(tmp_path / "authors", trainer=TRAINER, variant="authors-code", iterations="3")
    state = tensors(tmp_path / "authors" / "checkpoint.safetensors")
    assert {k.split("/")[1] for k in state if k.startswith("optim/")} == {"discriminator", "generator"}
    assert load_checkpoint(model, method="trigan").iteration == 3


def _write_nifti(path: Path, array: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(array, np.diag([1.0, 1.0, 1.0, 1.0])), str(path))
    return path


def test_command_line_train_then_predict(tmp_path):
    _write_nifti(tmp_path / "train_a.nii.gz", smooth_volume((24, 22, 20), seed=0).numpy())
    _write_nifti(tmp_path / "train_b.nii.gz", smooth_volume((24, 22, 20), seed=1).numpy())
    _write_nifti(tmp_path / "lr.nii.gz", smooth_volume((10, 9, 8), seed=2).numpy())
    (tmp_path / "datasets.toml").write_text(
        '[datasets.tr]\npaths = ["train_*.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n'
        '[datasets.te]\npaths = ["lr.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n'
        '[tracks.tiny]\nkind = "insample"\ntrain = "tr"\ntest = "te"\n'
    )
    sets = [arg for key in ("nf", "gc", "d_channels", "fe_channels", "l1_warmup_fraction", "patch_stride", "min_foreground")
            for arg in ("--set", f"{key}={TINY[key]}")]
    run = run_cli("train", "trigan", "--preset", "cpu", "--track", "tiny", "--config", str(tmp_path / "datasets.toml"),
                  "--run-dir", str(tmp_path / "run"), "--iterations", "3", "--batch-size", "2", "--patch-size", "16",
                  "--no-progress", *sets, cwd=tmp_path, check=True)
    assert run.stdout.strip() == str(tmp_path / "run" / "model.safetensors")
    run_cli("predict", "trigan", "--checkpoint", str(tmp_path / "run"), "--input", str(tmp_path / "lr.nii.gz"),
            "--output", str(tmp_path / "sr.nii.gz"), cwd=tmp_path, check=True)
    sr = nib.load(str(tmp_path / "sr.nii.gz"))
    assert sr.shape == (20, 18, 16)
    np.testing.assert_allclose(sr.header.get_zooms(), (0.5, 0.5, 0.5), rtol=1e-6)
    assert np.isfinite(np.asarray(sr.dataobj)).all()
