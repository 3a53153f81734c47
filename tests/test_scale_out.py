"""The scale-out recipes of docs/scale-out.md, simulated on one machine.

- ``--shard auto`` reads the SLURM job-array variables (and refuses missing or
  inconsistent ones with one line, exit 2).
- The evaluation array: ``examples/slurm/evaluate-array.sbatch`` run as 3 concurrent
  processes with a fake SLURM environment (an array numbered 4-6), each writing its own
  store, then ``examples/slurm/merge-publish.sbatch``. The merged store holds exactly the
  rows of one unsharded run, and the leaderboard it renders is byte-identical.
- Multi-node training: two torchrun launchers (``--nnodes 2``, c10d rendezvous on
  127.0.0.1), stopped after one iteration and requeued with ``--resume``, give the weights
  of one process trained on the same global batch.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import pytest
import torch

from srbench.errors import InputError
from srbench.evaluation import parse_shard, shard_from_slurm
from srbench.testing.synthetic import oblique_affine, smooth_volume
from tests.conftest import REPO

EXAMPLES = REPO / "examples" / "slurm"


# -- --shard auto ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3"}, (0, 3)),
        ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0"}, (2, 3)),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "1"}, (0, 8)),  # --array=1-8
        ({"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "1"}, (7, 8)),
        ({"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0",
          "SLURM_ARRAY_TASK_STEP": "2"}, (3, 4)),  # --array=0-6:2
    ],
)
def test_shard_auto_reads_the_slurm_array(env, expected):
    assert parse_shard("auto", environ=env) == expected
    assert shard_from_slurm(env) == expected


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({}, "SLURM_ARRAY_TASK_ID is not set"),
        ({"SLURM_ARRAY_TASK_ID": "3"}, "SLURM_ARRAY_TASK_COUNT is not set"),
        ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"}, "SLURM_ARRAY_TASK_ID='x' is not an integer"),
        ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3"}, "inconsistent SLURM array"),  # MIN missing, 1-based
        ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"}, "inconsistent"),  # --array=1,3,5
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"}, "inconsistent"),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "0"}, "count and step must be at least 1"),
    ],
)
def test_shard_auto_refuses_missing_or_inconsistent_variables(env, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(")) as info:
        parse_shard("auto", environ=env)
    assert "\n" not in str(info.value) and "--shard auto" in str(info.value)


def test_shard_auto_outside_an_array_exits_2_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SRBENCH_"))}
    result = subprocess.run(
        [sys.executable, "-m", "srbench", "evaluate", "--track", "insample", "--method", "trilinear", "--shard", "auto",
         "--results", str(tmp_path / "r.sqlite")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "SLURM_ARRAY_TASK_ID is not set" in result.stderr
    assert not (tmp_path / "r.sqlite").exists()


# -- the evaluation array ----------------------------------------------------------------------
SUBJECTS = {f"s{i}": ((24, 24, 24), i) for i in range(1, 6)}

CONFIG = """
[datasets.brains]
paths = ["data/s*.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[datasets.knees]
paths = ["data/knee*.nii.gz"]
contrast = "PD"
anatomy = "knee"

[tracks.brain]
kind = "ood"
test = "brains"

[tracks.knee]
kind = "ood"
test = "knees"
scale = [2, 2, 1]
"""


def _bench(root: Path) -> Path:
    for name, (shape, seed) in SUBJECTS.items():
        path = root / "data" / f"{name}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(smooth_volume(shape, seed=seed).numpy(), oblique_affine((1.0, 1.0, 1.0))), str(path))
    for seed in (7, 8):
        nib.save(nib.Nifti1Image(smooth_volume((24, 24, 12), seed=seed).numpy(), oblique_affine((0.6, 0.6, 3.0))),
                 str(root / "data" / f"knee{seed}.nii.gz"))
    (root / "datasets.toml").write_text(CONFIG)
    return root / "datasets.toml"


def _job_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SRBENCH_"))}
    env.update(HOME=str(home), NO_COLOR="1", OMP_NUM_THREADS="1", SRBENCH=f"{sys.executable} -m srbench")
    env.update(extra)
    return env


def _table(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    return sorted(rows, key=repr)


def _stored(path: Path) -> list[tuple]:
    """Every stored value with its run set-up, sorted (``ResultsStore.rows``)."""
    from srbench.results.store import ResultsStore

    with ResultsStore(path, must_exist=True) as store:
        frame = store.rows()
    return sorted(map(tuple, frame.itertuples(index=False)), key=repr)


@pytest.mark.slow
def test_slurm_array_shards_merge_into_the_unsharded_run(tmp_path):
    config = _bench(tmp_path / "bench")
    out = tmp_path / "array"
    common = dict(SRBENCH_CONFIG=str(config), SRBENCH_TRACK="all", SRBENCH_OUT=str(out),
                  SRBENCH_EVALUATE_ARGS="--method trilinear")
    # the array: tasks 4, 5, 6 (sbatch --array=4-6) run at the same time, each in its own process
    tasks = []
    for task_id in (4, 5, 6):
        env = _job_env(tmp_path, SLURM_ARRAY_JOB_ID="1234", SLURM_ARRAY_TASK_ID=str(task_id), SLURM_ARRAY_TASK_MIN="4",
                       SLURM_ARRAY_TASK_MAX="6", SLURM_ARRAY_TASK_COUNT="3", SLURM_ARRAY_TASK_STEP="1", **common)
        tasks.append(subprocess.Popen(["bash", str(EXAMPLES / "evaluate-array.sbatch")], cwd=tmp_path, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for task in tasks:
        stdout, stderr = task.communicate(timeout=900)
        assert task.returncode == 0, stderr[-3000:]
    shards = [out / "shards" / f"task-{t}.sqlite" for t in (4, 5, 6)]
    per_shard = [{(r[1], r[2]) for r in _stored(path)} for path in shards]  # (track, subject)
    assert per_shard == [
        {("brain", "s1"), ("brain", "s4"), ("knee", "knee7")},
        {("brain", "s2"), ("brain", "s5"), ("knee", "knee8")},
        {("brain", "s3")},
    ]
    first = [json.loads(line) for line in (out / "shards" / "task-4.jsonl").read_text().splitlines()]
    assert sorted((r["track"], r["subject"]) for r in first) == sorted(per_shard[0])

    merge = subprocess.run(["bash", str(EXAMPLES / "merge-publish.sbatch")], cwd=tmp_path, capture_output=True, text=True,
                           env=_job_env(tmp_path, SLURM_JOB_ID="1235", **common), timeout=900)
    assert merge.returncode == 0, merge.stderr[-3000:]

    # the same evaluation unsharded, and its leaderboard
    single = tmp_path / "single"
    single.mkdir()
    env = _job_env(tmp_path, SRBENCH_CONFIG=str(config))
    for argv in (["evaluate", "--track", "all", "--method", "trilinear", "--results", "results.sqlite", "--format", "json"],
                 ["leaderboard", "--results", "results.sqlite", "--out", "leaderboards", "--figures"]):
        result = subprocess.run([sys.executable, "-m", "srbench", *argv], cwd=single, env=env, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]

    merged = out / "results.sqlite"
    reference = single / "results.sqlite"
    rows = _stored(reference)
    assert _stored(merged) == rows  # same rows, same values
    assert len({(r[0], r[1], r[2], r[3], r[-1]) for r in rows}) == len(rows)  # (method, track, subject, metric, run): once
    assert len({(r[1], r[2]) for r in rows}) == 5 + 2
    for table in ("inputs", "not_applicable", "tracks"):
        assert _table(merged, table) == _table(reference, table), table
    runs = lambda path: [r[:6] + r[7:11] for r in _table(path, "runs")]  # noqa: E731 - all but git commit and time
    assert runs(merged) == runs(reference)

    boards, expected = out / "leaderboards", single / "leaderboards"
    names = sorted(p.name for p in expected.iterdir() if p.is_file())
    assert names == ["brain.md", "index.md", "knee.md"]
    assert sorted(p.name for p in boards.iterdir() if p.is_file()) == names
    for name in names:
        assert (boards / name).read_bytes() == (expected / name).read_bytes(), name
    assert sorted(p.name for p in (boards / "figures").iterdir()) == ["brain.png", "knee.png"]
    site = out / "site"
    assert {"index.html", "brain.html", "knee.html", "rows.csv"} <= {p.name for p in site.iterdir()}
    assert (site / "figures" / "brain.png").is_file()


# -- multi-node training -----------------------------------------------------------------------
TRAIN_CONFIG = """
[datasets.train]
paths = ["vols/*.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.insample]
kind = "insample"
train = "train"
test = "train"
"""

# a deterministic per-sample step (no input noise, no flips), so that splitting the
# global batch of 4 over two processes must give the single-process update
TRAIN_ARGS = ("--seed", "5", "--batch-size", "4", "--set", "noise=0", "--set", "flip=false", "--set", "lr=0.05",
              "--set", "checkpoint_every=1", "--no-progress", "--device", "cpu")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_nodes(config: Path, run_dir: Path, iterations: int, *, cwd: Path, resume: bool) -> list[subprocess.CompletedProcess]:
    """``train toy`` under two torchrun launchers, one "node" each, rendezvous on 127.0.0.1."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRBENCH_", "MASTER_", "WORLD_", "RANK", "LOCAL_"))}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), NO_COLOR="1")
    argv = ["train", "toy", "--config", str(config), "--run-dir", str(run_dir), "--iterations", str(iterations), *TRAIN_ARGS]
    if resume:
        argv.append("--resume")
    launchers = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
             "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"srbench-test-{port}",
             "--local-addr", "127.0.0.1", "--max-restarts", "0", str(REPO / "tests" / "torchrun_toy.py"), *argv],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    results = []
    for launcher in launchers:
        try:
            stdout, stderr = launcher.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for other in launchers:
                other.kill()
            raise
        results.append(subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr))
    for result in results:
        assert result.returncode == 0, result.stderr[-4000:]
    return results


def _single(config: Path, run_dir: Path, iterations: int, *, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRBENCH_", "MASTER_", "WORLD_", "RANK", "LOCAL_"))}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    argv = ["train", "toy", "--config", str(config), "--run-dir", str(run_dir), "--iterations", str(iterations), *TRAIN_ARGS]
    result = subprocess.run([sys.executable, str(REPO / "tests" / "torchrun_toy.py"), *argv], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from srbench.io.checkpoint import load_checkpoint

    return load_checkpoint(path, method="toy").tensors


def _assert_same_weights(a: Path, b: Path) -> None:
    x, y = _weights(a), _weights(b)
    assert x.keys() == y.keys()
    for key in x:
        assert torch.allclose(x[key], y[key], atol=1e-6, rtol=0), (key, (x[key] - y[key]).abs().max())


@pytest.mark.slow
def test_two_node_torchrun_with_requeue_equals_one_process(tmp_path):
    from tests.training_toy import write_volumes

    (tmp_path / "vols").mkdir()
    write_volumes(tmp_path / "vols", 2)
    config = tmp_path / "datasets.toml"
    config.write_text(TRAIN_CONFIG)
    ddp = tmp_path / "shared" / "run"

    # the job starts on two nodes, is pre-empted after the first checkpoint, is requeued with --resume
    first = _two_nodes(config, ddp, 1, cwd=tmp_path, resume=True)
    assert sum(bool(r.stdout.strip()) for r in first) == 1  # only global rank 0 prints the model path
    _two_nodes(config, ddp, 2, cwd=tmp_path, resume=True)
    manifest = json.loads((ddp / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["resumed_from_iteration"] == 1

    _single(config, tmp_path / "single", 2, cwd=tmp_path)
    _assert_same_weights(ddp / "model.safetensors", tmp_path / "single" / "model.safetensors")
    _assert_same_weights(ddp / "checkpoint.safetensors", tmp_path / "single" / "checkpoint.safetensors")
    # and training changed the weights (the comparison is not between two untouched networks)
    _single(config, tmp_path / "one-step", 1, cwd=tmp_path)
    before, after = _weights(tmp_path / "one-step" / "model.safetensors"), _weights(ddp / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in after)
