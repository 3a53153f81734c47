"""Multi-process training (gloo on CPU): two processes equal one process on the global batch."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from srbench.data.degradations import PaperLinear
from srbench.io.checkpoint import load_checkpoint
from srbench.training.config import resolve_config
from srbench.training.loop import run_training
from tests.training_toy import ToyTrainer, toy_volumes

#: two gloo processes spawned for one training comparison
pytestmark = pytest.mark.slow

# deterministic per-sample step: no input noise, no random flips (those are drawn per process)
OVERRIDES = {"batch_size": "4", "noise": "0", "flip": "false", "checkpoint_every": "1", "lr": "0.05"}


def _config(iterations: int):
    return resolve_config(ToyTrainer(), preset="cpu", overrides={**OVERRIDES, "iterations": str(iterations)})


def _train(run_dir: Path, iterations: int, *, resume: bool) -> Path:
    return run_training(
        trainer=ToyTrainer(), config=_config(iterations), volumes=toy_volumes(), degradation=PaperLinear(),
        run_dir=run_dir, resume=resume, progress=False,
    )


def _worker(rank: int, world_size: int, port: int, root: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world_size), RANK=str(rank), LOCAL_RANK=str(rank)
    )
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        root_dir = Path(root)
        _train(root_dir / "one-step", 1, resume=False)
        _train(root_dir / "split", 1, resume=False)
        _train(root_dir / "split", 2, resume=True)  # resume under DDP
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_close(a: Path, b: Path) -> None:
    x, y = load_checkpoint(a, method="toy").tensors, load_checkpoint(b, method="toy").tensors
    assert x.keys() == y.keys()
    for key in x:
        assert torch.allclose(x[key], y[key], atol=1e-6, rtol=0), (key, (x[key] - y[key]).abs().max())


def test_two_processes_match_one_process_on_the_global_batch(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
    single_one = _train(tmp_path / "single-one", 1, resume=False)
    single_two = _train(tmp_path / "single-two", 2, resume=False)
    # the step changed the weights, and both processes' update equals the single-process update
    before = ToyTrainer().build(_config(1)).modules["generator"]
    after = load_checkpoint(single_one, method="toy").module_state("generator")
    assert not torch.allclose(after["conv1.weight"], before.conv1.weight.detach())
    _assert_close(tmp_path / "ddp" / "one-step" / "model.safetensors", single_one)
    _assert_close(tmp_path / "ddp" / "split" / "model.safetensors", single_two)
    _assert_close(tmp_path / "ddp" / "split" / "checkpoint.safetensors", tmp_path / "single-two" / "checkpoint.safetensors")
    # only rank 0 wrote the logs: one row per iteration
    rows = (tmp_path / "ddp" / "split" / "losses.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["iteration", "0", "1"]
