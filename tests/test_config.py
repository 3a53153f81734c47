"""datasets.toml parsing: the schema, the lookup order and one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from srbench.config import DataUnavailable, load_config
from srbench.errors import InputError
from srbench.plugins import get_plugin_manager
from srbench.cli.runner import run_cli
from srbench.testing.synthetic import smooth_volume
from tests.conftest import DEMO_DATA, REPO


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "datasets.toml"
    path.write_text(text)
    return path


BASIC = """
[datasets.a]
paths = ["vols/*.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.t]
kind = "insample"
train = "a"
test = "a"
"""


def test_globs_subject_ids_and_track_selection(tmp_path, write_nifti):
    for name in ("s2", "s1"):
        write_nifti(f"vols/{name}.nii.gz", smooth_volume((8, 8, 8), seed=0).numpy())
    config = load_config(write_toml(tmp_path, BASIC + '\n[tracks.o]\ntest = "a"\nscale = [2, 2, 1]\n'), pm=get_plugin_manager())
    subjects = config.subjects("a", get_plugin_manager())
    assert [s.subject for s in subjects] == ["s1", "s2"]
    assert [t.name for t in config.select_tracks("ood")] == ["o"]
    assert config.tracks["o"].scale == (2.0, 2.0, 1.0)
    assert [t.name for t in config.select_tracks("all")] == ["t", "o"]
    assert config.tracks["o"].training_track(config) == "t"
    assert config.tracks["t"].primary_metric == "psnr"  # the default
    declared = load_config(write_toml(tmp_path, BASIC + 'primary_metric = "lpips"\n'), pm=get_plugin_manager())
    assert declared.tracks["t"].primary_metric == "lpips"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASIC.replace("contrast", "contrst"), "[datasets.a] has an unknown key 'contrst' (did you mean 'contrast'?)"),
        (BASIC.replace('test = "a"', 'test = "b"'), "[tracks.t] test: 'b' is not a declared dataset"),
        (BASIC + "[tracks", "malformed TOML"),
        (BASIC.replace('kind = "insample"', 'kind = "insampel"'), "did you mean 'insample'"),
        (BASIC.replace('train = "a"', 'train = "a"\nscale = "abc"'), "[tracks.t] scale: expected an integer factor"),
        (BASIC + "\n[extra]\n", "unknown top-level key 'extra'"),
        (BASIC + 'primary_metric = "pnsr"\n', "[tracks.t] primary_metric: 'pnsr' is not a ranked column of an installed metric (did you mean 'psnr'"),
        (BASIC + 'primary_metric = "bias"\n', "[tracks.t] primary_metric: 'bias' is not a ranked column"),  # a diagnostic
        (BASIC + "primary_metric = 3\n", "[tracks.t] primary_metric"),
    ],
)
def test_invalid_config_is_one_line_naming_the_file(tmp_path, text, message):
    path = write_toml(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_config(path, pm=get_plugin_manager())
    assert message in str(info.value)
    assert str(path.resolve()) in str(info.value) and "\n" not in str(info.value)


def test_empty_glob_and_unknown_track(tmp_path):
    config = load_config(write_toml(tmp_path, BASIC), pm=get_plugin_manager())
    with pytest.raises(InputError, match="pattern matches no file"):
        config.subjects("a", get_plugin_manager())
    with pytest.raises(InputError, match="did you mean 't'"):
        config.select_tracks("tt")


def test_cli_reports_config_errors_with_exit_2(tmp_path):
    path = write_toml(tmp_path, BASIC.replace("anatomy", "anatomyy"))
    result = run_cli("evaluate", "--config", str(path), "--track", "t", "--method", "trilinear")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown key 'anatomyy'" in lines[0] and "Traceback" not in result.stderr


def test_config_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(pm=get_plugin_manager()).path.name == "datasets.toml" and "demo" in str(load_config(pm=get_plugin_manager()).path)
    write_toml(tmp_path, BASIC)
    assert load_config(pm=get_plugin_manager()).path == (tmp_path / "datasets.toml").resolve()
    other = tmp_path / "other.toml"
    shutil.copy(tmp_path / "datasets.toml", other)
    monkeypatch.setenv("SRBENCH_CONFIG", str(other))
    assert load_config(pm=get_plugin_manager()).path == other.resolve()


def test_shipped_and_root_configs_declare_the_demo_and_paper_tracks():
    root = load_config(REPO / "datasets.toml", pm=get_plugin_manager())
    shipped = load_config(REPO / "srbench" / "demo" / "datasets.toml", pm=get_plugin_manager())
    assert set(root.tracks) == set(shipped.tracks) >= {"insample", "contrast", "resolution", "knee", "paper-insample", "paper-knee"}
    pm = get_plugin_manager()
    for config in (root, shipped):
        train = config.subjects("demo-t1-train", pm)
        test = config.subjects("demo-t1-test", pm)
        assert {s.subject for s in train}.isdisjoint({s.subject for s in test})
        assert all(s.path.parent == DEMO_DATA for s in train + test)


def test_paper_datasets_need_the_data_root(monkeypatch):
    monkeypatch.delenv("SRBENCH_DATA_ROOT", raising=False)
    config = load_config(REPO / "datasets.toml", pm=get_plugin_manager())
    with pytest.raises(DataUnavailable, match="SRBENCH_DATA_ROOT"):
        config.subjects("hcp-lifespan-t1-train", get_plugin_manager())


def _copy_as(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)


def test_paper_tracks_from_a_bids_tree(tmp_path, monkeypatch):
    """A synthetic BIDS tree built from the demo volumes gives the paper's four tracks."""
    t1, t2, knee = DEMO_DATA / "stroke_T1w.nii.gz", DEMO_DATA / "stroke_T2w.nii.gz", DEMO_DATA / "knee_mese_PD.nii.gz"
    for i in range(27):
        sub = f"sub-{i:02d}"
        _copy_as(t1, tmp_path / "hcp-lifespan" / sub / "anat" / f"{sub}_T1w.nii.gz")
        _copy_as(t2, tmp_path / "hcp-lifespan" / sub / "anat" / f"{sub}_T2w.nii.gz")
    for i in range(3):
        _copy_as(t1, tmp_path / "hcp-ya" / f"sub-{i}" / "ses-1" / "anat" / f"sub-{i}_ses-1_T1w.nii.gz")
        _copy_as(knee, tmp_path / "mridata-knee" / f"sub-k{i}" / "anat" / f"sub-k{i}_PD.nii.gz")
    monkeypatch.setenv("SRBENCH_DATA_ROOT", str(tmp_path))
    config = load_config(REPO / "datasets.toml", pm=get_plugin_manager())
    pm = get_plugin_manager()
    train = config.subjects("hcp-lifespan-t1-train", pm)
    test = config.subjects("hcp-lifespan-t1-test", pm)
    contrast = config.subjects("hcp-lifespan-t2-test", pm)
    assert len(train) == 20 and len(test) == 7
    assert [s.subject for s in contrast] == [s.subject for s in test] == [f"sub-{i:02d}" for i in range(20, 27)]
    assert all(s.path.name.endswith("_T2w.nii.gz") for s in contrast)
    assert [s.subject for s in config.subjects("hcp-ya-t1", pm)] == ["sub-0", "sub-1", "sub-2"]
    assert len(config.subjects("mridata-knee-pd", pm)) == 3


def test_paper_tracks_from_an_hcp_layout(tmp_path, monkeypatch):
    for i in range(27):
        _copy_as(DEMO_DATA / "stroke_T1w.nii.gz", tmp_path / "hcp-lifespan" / f"{100000 + i}" / "T1w" / "T1w_acpc_dc_restore.nii.gz")
    monkeypatch.setenv("SRBENCH_DATA_ROOT", str(tmp_path))
    config = load_config(REPO / "datasets.toml", pm=get_plugin_manager())
    test = config.subjects("hcp-lifespan-t1-test", get_plugin_manager())
    assert [s.subject for s in test] == [str(100000 + i) for i in range(20, 27)]
