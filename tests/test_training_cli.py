"""``srbench train``: track selection, overrides, run directory and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srbench.cli import main
from srbench.io.checkpoint import load_checkpoint
from tests.training_toy import write_benchmark


@pytest.fixture
def datasets_toml(tmp_path) -> Path:
    return write_benchmark(
        tmp_path,
        '[datasets.train]\npaths = ["vols/*.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n\n'
        '[tracks.insample]\nkind = "insample"\ntrain = "train"\ntest = "train"\n\n'
        '[tracks.knee]\nkind = "insample"\ntrain = "train"\ntest = "train"\nscale = [2, 2, 1]\n\n'
        '[tracks.contrast]\nkind = "ood"\ntest = "train"\n',
        count=2,
    )


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_train_writes_a_run_and_prints_the_model_path(toy_plugin, datasets_toml, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(
        capsys, "train", "toy", "--config", str(datasets_toml), "--iterations", "3", "--seed", "5",
        "--set", "channels=3", "--set", "lr=0.005", "--no-progress", "--device", "cpu",
    )
    assert code == 0, err
    model = Path(out.strip())
    assert model == Path("runs/toy-cpu-insample/model.safetensors")
    config = json.loads((model.parent / "config.json").read_text())
    assert (config["iterations"], config["seed"], config["channels"], config["lr"]) == (3, 5, 3, 0.005)
    assert config["track"] == "insample" and config["scale"] == [2, 2, 2]
    assert "2 volume(s) of dataset 'train'" in err and "trained toy (cpu, insample)" in err
    manifest = json.loads((model.parent / "manifest.json").read_text())
    assert len(manifest["data_files"]) == 2
    # again without --resume: refused; with --resume and more iterations: continues
    code, _, err = run_cli(capsys, "train", "toy", "--config", str(datasets_toml), "--iterations", "3", "--no-progress")
    assert code == 2 and err.startswith("error: run directory runs/toy-cpu-insample already has a checkpoint")
    assert err.count("\n") == 1
    code, _, err = run_cli(
        capsys, "train", "toy", "--config", str(datasets_toml), "--iterations", "4", "--seed", "5",
        "--set", "channels=3", "--set", "lr=0.005", "--resume", "--no-progress",
    )
    assert code == 0, err
    assert load_checkpoint(model, method="toy").iteration == 4


def test_track_scale_reaches_the_config(toy_plugin, datasets_toml, tmp_path, capsys):
    run_dir = tmp_path / "knee-run"
    code, out, err = run_cli(
        capsys, "train", "toy", "--config", str(datasets_toml), "--track", "knee", "--iterations", "1",
        "--run-dir", str(run_dir), "--no-progress",
    )
    assert code == 0, err
    assert json.loads((run_dir / "config.json").read_text())["scale"] == [2, 2, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--track", "contrast"], "error: --track contrast: has no training dataset"),
        (["--track", "all"], "error: --track all: selects 3 tracks; training needs exactly one"),
        (["--track", "insampel"], "error: unknown track 'insampel' (did you mean 'insample'?)"),
        (["--preset", "gpu"], "error: unknown preset of method 'toy' 'gpu'"),
        (["--set", "chanels=3"], "error: method 'toy': unknown option 'chanels' (did you mean 'channels'?)"),
        (["--set", "channels"], "error: --set 'channels': expected KEY=VALUE"),
        (["--set", "channels=wide"], "error: option channels: expected an integer, got 'wide'"),
        (["--set", "scale=2"], "error: --set scale: the scale comes from the track"),
        (["--batch-size", "0"], "error: option batch_size: must be a positive integer"),
    ],
)
def test_bad_usage_is_one_line_exit_2(toy_plugin, datasets_toml, tmp_path, capsys, args, message):
    code, out, err = run_cli(
        capsys, "train", "toy", "--config", str(datasets_toml), "--run-dir", str(tmp_path / "r"), "--no-progress", *args
    )
    assert code == 2 and out == ""
    assert err.startswith(message), err
    assert err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_unknown_method_suggests(toy_plugin, datasets_toml, capsys):
    code, _, err = run_cli(capsys, "train", "tyo", "--config", str(datasets_toml))
    assert code == 2 and "unknown trainer 'tyo' (did you mean 'toy'?)" in err
