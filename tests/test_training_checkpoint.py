"""Checkpoints: safetensors round trip, exact optimiser state, and refusing unsafe or wrong files."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from srbench.errors import InputError
from srbench.interfaces import InferenceSettings, Volume
from srbench.io.checkpoint import FORMAT, load_checkpoint, read_metadata, restore_modules
from srbench.models import CheckpointModel
from srbench.testing.synthetic import smooth_volume
from srbench.training.checkpoint import restore_optimizers, save_checkpoint
from tests.training_toy import ToyConfig, ToyNet, build_network


def trained_toy(steps: int = 3) -> tuple[ToyNet, torch.optim.Optimizer]:
    torch.manual_seed(0)
    net = ToyNet(channels=3, scale=(2, 2, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.8, 0.99))
    for _ in range(steps):
        opt.zero_grad()
        x = torch.rand(2, 1, 4, 4, 4)
        torch.nn.functional.l1_loss(net(x), torch.rand(2, 1, 8, 8, 8)).backward()
        opt.step()
    return net, opt


def save_toy(path, net, opt, *, method="toy", kind="checkpoint"):
    config = {"channels": 3, "scale": [2, 2, 2], "method": method}
    return save_checkpoint(
        path, method=method, kind=kind, config=config, modules={"generator": net},
        optimizers={"generator": opt} if kind == "checkpoint" else None, iteration=3, extra={"note": "x"},
    )


def test_round_trip_restores_weights_and_optimizer_state_bitwise(tmp_path):
    net, opt = trained_toy()
    path = save_toy(tmp_path / "c.safetensors", net, opt)
    ckpt = load_checkpoint(path, method="toy")
    assert (ckpt.kind, ckpt.iteration, ckpt.extra, ckpt.config["channels"]) == ("checkpoint", 3, {"note": "x"}, 3)
    assert ckpt.module_names() == ["generator"]
    fresh = ToyNet(channels=3, scale=(2, 2, 2))
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.5)
    restore_modules(ckpt, {"generator": fresh})
    restore_optimizers(ckpt, {"generator": fresh_opt})
    for a, b in zip(net.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)
    assert fresh_opt.param_groups[0]["lr"] == 1e-2
    assert fresh_opt.param_groups[0]["betas"] == (0.8, 0.99)
    for p, q in zip(net.parameters(), fresh.parameters(), strict=True):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(opt.state[p][key], fresh_opt.state[q][key])
    # one more identical step on both gives identical weights
    x = torch.rand(1, 1, 4, 4, 4)
    y = torch.rand(1, 1, 8, 8, 8)
    for model, optimizer in ((net, opt), (fresh, fresh_opt)):
        optimizer.zero_grad()
        torch.nn.functional.l1_loss(model(x), y).backward()
        optimizer.step()
    for a, b in zip(net.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)


def test_metadata_is_all_strings_with_the_documented_keys(tmp_path):
    net, opt = trained_toy(1)
    metadata = read_metadata(save_toy(tmp_path / "c.safetensors", net, opt))
    assert metadata["srbench.format"] == FORMAT
    assert {"method", "kind", "config", "iteration", "optimizers", "srbench.version"} <= set(metadata)
    assert all(isinstance(v, str) for v in metadata.values())
    assert json.loads(metadata["config"])["channels"] == 3


def test_refuses_pickles(tmp_path):
    net, _ = trained_toy(1)
    zipped = tmp_path / "weights.pt"
    torch.save(net.state_dict(), zipped)
    legacy = tmp_path / "weights.pth"
    legacy.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    for path in (zipped, legacy):
        with pytest.raises(InputError) as info:
            load_checkpoint(path, method="toy")
        assert str(info.value) == f"{path}: refusing to load a pickle checkpoint: it could execute code; srbench checkpoints are safetensors"


def test_refuses_truncated_missing_foreign_and_other_method(tmp_path):
    net, opt = trained_toy(1)
    good = save_toy(tmp_path / "good.safetensors", net, opt)
    data = good.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) - 100])
    cut_header = tmp_path / "cut_header.safetensors"
    cut_header.write_bytes(data[:40])
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    text = tmp_path / "notes.safetensors"
    text.write_text("hello, not a checkpoint")
    cases = {
        cut: "checkpoint file is truncated",
        cut_header: "checkpoint file is truncated",
        tmp_path / "missing.safetensors": "checkpoint not found",
        foreign: "not an srbench checkpoint (no srbench metadata",
        text: "not a safetensors checkpoint",
        tmp_path: "is a directory",
    }
    for path, message in cases.items():
        with pytest.raises(InputError) as info:
            load_checkpoint(path, method="toy")
        assert str(info.value).startswith(f"{path}: {message}"), str(info.value)
        assert "\n" not in str(info.value)
    with pytest.raises(InputError) as info:
        load_checkpoint(good, method="trigan")
    assert str(info.value) == f"checkpoint {good} was trained by method 'toy', not 'trigan'"


def test_restoring_into_another_architecture_is_a_clear_error(tmp_path):
    net, opt = trained_toy(1)
    ckpt = load_checkpoint(save_toy(tmp_path / "c.safetensors", net, opt), method="toy")
    with pytest.raises(InputError, match="weights of module 'generator' do not fit the network \\(shape mismatch conv1"):
        restore_modules(ckpt, {"generator": ToyNet(channels=5, scale=(2, 2, 2))})
    with pytest.raises(InputError, match="no weights for module 'critic'"):
        restore_modules(ckpt, {"critic": net})


def test_checkpoint_model_predicts_from_a_model_file_or_run_directory(tmp_path):
    net, opt = trained_toy(2)
    run = tmp_path / "run"
    run.mkdir()
    save_toy(run / "model.safetensors", net, opt, kind="model")
    model = CheckpointModel(name="toy", description="toy", config_class=ToyConfig, build_network=build_network)
    assert model.needs_checkpoint
    lr = Volume(data=smooth_volume((10, 12, 9), seed=3, border=2), affine=np.diag([2.0, 2.0, 2.0, 1.0]), source="lr")
    settings = InferenceSettings(patch_size=6, overlap=2, batch_size=2)
    out_dir = model.load(checkpoint=run).predict(lr, scale=(2, 2, 2), settings=settings)
    out_file = model.load(checkpoint=run / "model.safetensors").predict(lr, scale=(2, 2, 2), settings=settings)
    assert out_dir.shape == (20, 24, 18)
    assert torch.equal(out_dir.data, out_file.data)
    with pytest.raises(InputError, match="method toy needs trained weights: run `srbench train toy` or pass --checkpoint"):
        model.load(checkpoint=None)
    other = CheckpointModel(name="other", description="x", config_class=ToyConfig, build_network=build_network)
    with pytest.raises(InputError, match="trained by method 'toy', not 'other'"):
        other.load(checkpoint=run)


def test_identical_content_gives_identical_bytes_across_processes(tmp_path):
    """safetensors orders its header by a per-process hash map; srbench sorts it, so a
    retrained run reproduces the shipped file's sha256, not only its tensors."""
    import hashlib
    import subprocess
    import sys

    script = (
        "import sys, torch\n"
        "from srbench.training.checkpoint import save_checkpoint\n"
        "torch.manual_seed(0)\n"
        "save_checkpoint(sys.argv[1], method='x', kind='model', config={'b': [1, 2], 'a': 1, 'c': {'z': 1, 'y': 2}},\n"
        "                modules={'generator': torch.nn.Conv3d(2, 3, 3), 'critic': torch.nn.Linear(4, 2)}, iteration=3,\n"
        "                extra={'q': 1, 'p': 2})\n"
    )
    digests = set()
    for index in range(3):
        target = tmp_path / f"c{index}.safetensors"
        subprocess.run([sys.executable, "-c", script, str(target)], check=True)
        digests.add(hashlib.sha256(target.read_bytes()).hexdigest())
    assert len(digests) == 1
