"""The generic loop: run directory, exact resume (also after SIGKILL), logs and manifest."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from srbench.data.degradations import PaperLinear
from srbench.errors import InputError
from srbench.io.hashing import sha256_file
from srbench.io.nifti import load_volume
from srbench.plugins import get_plugin_manager
from srbench.io.checkpoint import load_checkpoint
from srbench.training.config import resolve_config
from srbench.training.loop import run_training
from srbench.runs import default_run_dir, find_latest_model
from tests.training_toy import ToyTrainer, toy_volumes, write_volumes

REPO = Path(__file__).resolve().parents[1]


def train(run_dir: Path, *, resume: bool = False, volumes=None, track: str = "insample", **overrides) -> Path:
    trainer = ToyTrainer()
    config = resolve_config(trainer, preset="cpu", overrides={k: str(v) for k, v in overrides.items()}, track=track)
    return run_training(
        trainer=trainer, config=config, volumes=volumes or toy_volumes(), degradation=PaperLinear(),
        run_dir=run_dir, resume=resume, progress=False, plugin_versions=get_plugin_manager().versions(),
    )


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path, method="toy").tensors


def assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def loss_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "losses.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_resumed_run_is_bitwise_identical_to_an_uninterrupted_one(tmp_path):
    whole = train(tmp_path / "whole", iterations=6)
    train(tmp_path / "split", iterations=4)
    resumed = train(tmp_path / "split", resume=True, iterations=6)
    assert_bitwise_equal(weights(whole), weights(resumed))
    assert_bitwise_equal(weights(tmp_path / "whole" / "checkpoint.safetensors"), weights(tmp_path / "split" / "checkpoint.safetensors"))
    rows = loss_rows(tmp_path / "split")
    assert [int(r["iteration"]) for r in rows] == list(range(6))
    assert [r["L_pix"] for r in rows] == [r["L_pix"] for r in loss_rows(tmp_path / "whole")]
    assert {"elapsed_s", "step_s", "data_wait_s", "flip"} <= set(rows[0])


def test_run_directory_contents_and_manifest(tmp_path):
    files = write_volumes(tmp_path, 2)
    volumes = [load_volume(p) for p in files]
    run_dir = tmp_path / "run"
    model = train(run_dir, volumes=volumes, iterations=3)
    assert model == run_dir / "model.safetensors"
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "manifest.json", "losses.csv", "checkpoint.safetensors", "model.safetensors"}
    stored = load_checkpoint(model, method="toy")
    assert stored.kind == "model" and stored.module_names() == ["generator"] and stored.iteration == 3
    config = json.loads((run_dir / "config.json").read_text())
    assert config["deviations"] == ["tiny network for tests"] and config["iterations"] == 3
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["final_iteration"] == 3
    assert manifest["seed"] == 0 and manifest["srbench_version"]
    assert "srbench-mri" in manifest["plugins"]
    assert [f["sha256"] for f in manifest["data_files"]] == [sha256_file(p) for p in files]
    assert manifest["model"]["sha256"] == sha256_file(model)
    assert 0.0 <= manifest["data_wait_share"] < 1.0


def test_existing_checkpoint_needs_resume_and_resume_without_one_starts_fresh(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(run_dir, resume=True, iterations=2)
    assert "no checkpoint in" in capsys.readouterr().err
    with pytest.raises(InputError, match="already has a checkpoint: pass --resume to continue it or choose another --run-dir"):
        train(run_dir, iterations=2)


def test_resume_refuses_another_network_but_accepts_more_iterations(tmp_path):
    run_dir = tmp_path / "run"
    train(run_dir, iterations=2)
    with pytest.raises(InputError) as info:
        train(run_dir, resume=True, iterations=4, channels=8)
    assert "configuration differs in channels (checkpoint 4, now 8)" in str(info.value)
    with pytest.raises(InputError, match="at iteration 2, beyond iterations=1"):
        train(run_dir, resume=True, iterations=1)
    assert load_checkpoint(train(run_dir, resume=True, iterations=4), method="toy").iteration == 4


def test_resume_drops_log_rows_of_iterations_trained_again(tmp_path):
    run_dir = tmp_path / "run"
    train(run_dir, iterations=4)
    # a crash after iteration 5 was logged but before its checkpoint: rows 4, 5 and a cut line
    with open(run_dir / "losses.csv", "a") as handle:
        handle.write("4,1,1,0,9.9,0\n5,1,1,0,9.9,0\n6,1,")
    train(run_dir, resume=True, iterations=6)
    rows = loss_rows(run_dir)
    assert [int(r["iteration"]) for r in rows] == list(range(6))
    assert "9.9" not in {r["L_pix"] for r in rows}


KILL_SCRIPT = """
import sys
from srbench.data.degradations import PaperLinear
from srbench.training.config import resolve_config
from srbench.training.loop import run_training
from tests.training_toy import ToyTrainer, toy_volumes
trainer = ToyTrainer()
config = resolve_config(trainer, preset="cpu", overrides={"iterations": sys.argv[2], "checkpoint_every": "3"})
run_training(trainer=trainer, config=config, volumes=toy_volumes(), degradation=PaperLinear(),
             run_dir=sys.argv[1], resume=True, progress=False)
"""


KILL_TOTAL = 30


def start_training_until_first_checkpoint(run_dir: Path, total: int) -> subprocess.Popen:
    """Start KILL_SCRIPT training in a child process; return once its first checkpoint exists
    (or it has exited, or 120 s have passed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(run_dir), str(total)], cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoint.safetensors").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return process


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The model of an uninterrupted KILL_TOTAL-iteration run (reference for the kill tests)."""
    return train(tmp_path_factory.mktemp("whole") / "run", iterations=KILL_TOTAL, checkpoint_every=3)


def test_sigkill_at_any_moment_leaves_a_resumable_run(tmp_path, uninterrupted):
    total, whole = KILL_TOTAL, uninterrupted
    run_dir = tmp_path / "killed"
    process = start_training_until_first_checkpoint(run_dir, total)
    time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    reached = load_checkpoint(run_dir / "checkpoint.safetensors", method="toy").iteration
    assert 3 <= reached < total
    resumed = train(run_dir, resume=True, iterations=total, checkpoint_every=3)
    assert_bitwise_equal(weights(whole), weights(resumed))
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")]  # stale temporaries removed
    assert [int(r["iteration"]) for r in loss_rows(run_dir)] == list(range(total))


def test_ctrl_c_checkpoints_the_finished_iteration_and_resumes_exactly(tmp_path, uninterrupted):
    total, whole = KILL_TOTAL, uninterrupted
    run_dir = tmp_path / "interrupted"
    process = start_training_until_first_checkpoint(run_dir, total)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "interrupted: checkpoint at iteration" in stderr.decode()
    reached = load_checkpoint(run_dir / "checkpoint.safetensors", method="toy").iteration
    assert 3 <= reached < total
    assert f"checkpoint at iteration {reached} saved" in stderr.decode()
    resumed = train(run_dir, resume=True, iterations=total, checkpoint_every=3)
    assert_bitwise_equal(weights(whole), weights(resumed))


def test_find_latest_model_filters_method_and_track(tmp_path):
    runs = tmp_path / "runs"
    first = train(default_run_dir("toy", "cpu", "insample", runs_root=runs), iterations=1)
    second = train(runs / "toy-cpu-insample-2", iterations=1)
    other_track = train(default_run_dir("toy", "cpu", "knee", runs_root=runs), track="knee", iterations=1)
    (runs / "junk").mkdir()
    (runs / "junk" / "model.safetensors").write_bytes(b"not a model")
    now = time.time()
    os.utime(first, (now + 20, now + 20))
    os.utime(second, (now + 10, now + 10))
    os.utime(other_track, (now + 30, now + 30))
    assert find_latest_model("toy", runs_root=runs) == other_track
    assert find_latest_model("toy", track="insample", runs_root=runs) == first
    assert find_latest_model("toy", track="knee", runs_root=runs) == other_track
    assert find_latest_model("toy", track="ood", runs_root=runs) is None
    assert find_latest_model("trigan", runs_root=runs) is None
    assert find_latest_model("toy", runs_root=tmp_path / "nowhere") is None


class PreparedToyTrainer(ToyTrainer):
    """A two-stage toy: ``prepare`` runs first and hands ``build`` a keyword argument."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict] = []

    def prepare(self, config, *, volumes, degradation, run_dir, resume, device, progress):
        self.calls.append({"run_dir": run_dir, "resume": resume, "volumes": len(volumes)})
        return {"bias_value": 0.5}

    def build(self, config, *, device="cpu", bias_value=None):
        return super().build(config, device=device)


def test_prepare_stage_runs_before_build_and_feeds_it(tmp_path):
    trainer = PreparedToyTrainer()
    config = resolve_config(trainer, preset="cpu", overrides={"iterations": "1"})
    built = []
    original = trainer.build
    trainer.build = lambda config, **kw: built.append(kw) or original(config, **kw)
    run_training(trainer=trainer, config=config, volumes=toy_volumes(), degradation=PaperLinear(),
                 run_dir=tmp_path / "run", resume=False, progress=False)
    assert trainer.calls == [{"run_dir": tmp_path / "run", "resume": False, "volumes": 2}]
    assert built == [{"device": "cpu", "bias_value": 0.5}]


def test_a_loss_that_turns_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """A step whose loss becomes NaN after a few iterations: the loop stops at that iteration
    with an error (exit 1 on the command line), keeps the checkpoint written while the weights
    were finite, and writes no model.safetensors."""
    from srbench.errors import SrbenchRuntimeError
    from tests.training_toy import ToyAlgorithm

    original = ToyAlgorithm.step

    def poisoned(self, batch, *, iteration, total, generator):
        if iteration >= 5:
            batch = dataclasses.replace(batch, hr=batch.hr * float("nan"))
        return original(self, batch, iteration=iteration, total=total, generator=generator)

    monkeypatch.setattr(ToyAlgorithm, "step", poisoned)
    run_dir = tmp_path / "run"
    with pytest.raises(SrbenchRuntimeError, match=r"stopped at iteration 6: loss 'L_pix' became nan after being finite"):
        train(run_dir, iterations=12, checkpoint_every=4)
    assert not (run_dir / "model.safetensors").exists()
    kept = load_checkpoint(run_dir / "checkpoint.safetensors", method="toy")
    assert kept.iteration == 4 and all(torch.isfinite(t).all() for t in kept.tensors.values() if t.is_floating_point())


def test_weights_that_turn_non_finite_stop_the_run(tmp_path, monkeypatch):
    from srbench.errors import SrbenchRuntimeError
    from tests.training_toy import ToyAlgorithm

    original = ToyAlgorithm.step

    def poisoned(self, batch, *, iteration, total, generator):
        scalars = original(self, batch, iteration=iteration, total=total, generator=generator)
        if iteration == 2:
            with torch.no_grad():
                next(self.modules["generator"].parameters()).fill_(float("inf"))
        return scalars

    monkeypatch.setattr(ToyAlgorithm, "step", poisoned)
    with pytest.raises(SrbenchRuntimeError, match=r"iteration 3: the weights of 'generator' are no longer finite.*"
                                                   r"last good checkpoint \(iteration 2\)"):
        train(tmp_path / "run", iterations=8, checkpoint_every=2)


def test_a_second_process_on_the_same_run_directory_is_refused(tmp_path):
    """While one process trains in a run directory, another one is refused at once with one
    line naming the directory and the holder; the lock goes with the process."""
    from srbench.errors import InputError
    from srbench.training.lock import LOCK_FILE, run_directory_lock

    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from srbench.training.lock import run_directory_lock\n"
         f"with run_directory_lock({str(run_dir)!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match=rf"run directory .*run is in use by another srbench process \(pid {holder.pid}\)"):
            train(run_dir, iterations=2)
    finally:
        holder.kill()
        holder.wait()
    assert (run_dir / LOCK_FILE).exists()  # left by the killed holder
    train(run_dir, iterations=2)  # its lock died with it
    assert not (run_dir / LOCK_FILE).exists()
    with run_directory_lock(run_dir):
        assert (run_dir / LOCK_FILE).read_text().strip() == str(os.getpid())
