"""Acquisition tracks (k-space truncation, Rician noise) and the FLAIR contrast track, end to end.

A small generated benchmark (two 24³-ish test subjects) with an in-sample track and its two
acquisition tracks is evaluated with trilinear through the real command line
(``evaluate --track all``), then published (``leaderboard``). The shipped configurations are
checked for the new tracks and the vendored FLAIR volume.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from srbench.config import load_config
from srbench.errors import InputError
from srbench.plugins import get_plugin_manager
from srbench.results.store import ResultsStore, RunRecord
from srbench.cli.runner import run_cli
from tests.conftest import DEMO_DATA, REPO, TRAIN_TEST_DATASETS
from tests.test_evaluate_cli import clean_env, copy_store, run_ok, stored_values, write_volume

PM = get_plugin_manager()

SUBJECTS = {"s1": ((24, 24, 24), (1.0, 1.0, 1.0), 21), "s2": ((25, 24, 23), (1.1, 1.0, 0.9), 22)}
TRACK_SEED = 3
SNR = 20

CONFIG = TRAIN_TEST_DATASETS + f"""

[tracks.insample]
kind = "insample"
train = "train"
test = "test"

[tracks.acquisition-kspace]
kind = "ood"
models_from = "insample"
test = "test"
degradation = "kspace"

[tracks.acquisition-noise]
kind = "ood"
models_from = "insample"
test = "test"
degradation = "kspace"
degradation_options = {{ snr = {SNR} }}
seed = {TRACK_SEED}
"""

#: track → (degradation name, options, seed)
SETUPS = {
    "insample": ("paper-linear", {}, 0),
    "acquisition-kspace": ("kspace", {}, 0),
    "acquisition-noise": ("kspace", {"snr": SNR}, TRACK_SEED),
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("acq-bench")
    for name, (shape, spacing, seed) in SUBJECTS.items():
        write_volume(root / "data" / f"{name}.nii.gz", shape, spacing, seed)
    write_volume(root / "data" / "train.nii.gz", (24, 24, 24), (1.0, 1.0, 1.0), 20)
    (root / "datasets.toml").write_text(CONFIG)
    return root


@pytest.fixture(scope="module")
def user_env(tmp_path_factory) -> dict[str, str | None]:
    return clean_env(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def evaluated(bench, user_env, tmp_path_factory):
    """``evaluate --track all --method trilinear`` then ``leaderboard``: (store, boards folder)."""
    out = tmp_path_factory.mktemp("acq-out")
    store = out / "results.sqlite"
    run_ok(user_env, "evaluate", "--config", str(bench / "datasets.toml"), "--track", "all", "--method", "trilinear",
           "--results", str(store), "--format", "json", "--no-save-predictions", cwd=out)
    run_ok(user_env, "leaderboard", "--results", str(store), "--out", str(out / "boards"), cwd=out)
    return store, out / "boards"


def direct_psnr(bench: Path, track: str, subject: str) -> float:
    """HR → configured degradation (seeded per subject) → trilinear → PSNR inside the evaluation
    mask, without the command line."""
    from srbench.builtins.trilinear import TrilinearPredictor
    from srbench.data.pairs import degrade_volume, subject_seed
    from srbench.interfaces import InferenceSettings
    from srbench.io.nifti import load_volume
    from srbench.metrics.convention import scale_pair
    from srbench.metrics.mask import evaluation_mask
    from srbench.metrics.psnr import psnr

    name, options, seed = SETUPS[track]
    degradation = get_plugin_manager().get("degradation", name)
    degradation = degradation.with_options(options) if options else degradation
    hr, lr = degrade_volume(load_volume(bench / "data" / f"{subject}.nii.gz"), degradation=degradation, scale=(2, 2, 2),
                            seed=subject_seed(track_seed=seed, subject=subject))
    sr = TrilinearPredictor().predict(lr, scale=(2, 2, 2), settings=InferenceSettings())
    sr01, hr01 = scale_pair(sr.data, hr.data)
    mask = evaluation_mask(hr01)
    return float(psnr(sr01[mask], hr01[mask]))


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The rows (header first) of the first table after ``heading``."""
    section = markdown.split(heading, 1)[1]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return [rows[0], *rows[2:]]


# -- evaluation ----------------------------------------------------------------------------------
def test_each_track_degrades_as_declared_and_records_it(evaluated, bench):
    store, _ = evaluated
    stored = stored_values(store)
    for track in SETUPS:
        for subject in SUBJECTS:
            assert stored[("trilinear", track, subject, "psnr")] == pytest.approx(direct_psnr(bench, track, subject), rel=1e-6)
    # the three set-ups give three different LR volumes, so three different PSNRs
    assert len({round(stored[("trilinear", t, "s1", "psnr")], 6) for t in SETUPS}) == 3
    with ResultsStore(store, must_exist=True) as opened:
        runs = opened.runs()
        rows = opened.rows()
    recorded = {}
    for run in runs.to_dict(orient="records"):
        config = json.loads(run["config"])
        assert config["degradation"]["name"] == run["degradation"]
        recorded[run["run_key"]] = config["degradation"]
    for track, key in zip(rows["track"], rows["run_key"], strict=True):
        name, options, seed = SETUPS[track]
        assert recorded[key] == {"name": name, "options": options, "seed": seed}


def test_the_noisy_lr_is_the_same_in_another_process(evaluated, bench, user_env, tmp_path):
    store = copy_store(evaluated[0], tmp_path / "again.sqlite")
    env = {key: value for key, value in {**os.environ, **user_env}.items() if value is not None}
    again = subprocess.run(
        [sys.executable, "-m", "srbench", "evaluate", "--config", str(bench / "datasets.toml"), "--track", "acquisition-noise",
         "--method", "trilinear", "--results", str(store), "--force", "--no-save-predictions"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )
    assert again.returncode == 0, again.stderr
    assert stored_values(store, "acquisition-noise") == stored_values(evaluated[0], "acquisition-noise")


def test_bad_degradation_options_exit_2_before_anything_is_written(bench, user_env, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(CONFIG.replace(f"snr = {SNR}", "snr = -1").replace('data/', f'{bench}/data/'))
    result = run_cli("evaluate", "--config", str(config), "--track", "all", "--method", "trilinear", cwd=tmp_path, env=user_env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "snr must be a positive number, got -1" in result.stderr.strip().splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


# -- leaderboard ---------------------------------------------------------------------------------
def test_each_board_states_its_degradation_next_to_the_intensity_convention(evaluated):
    _, boards = evaluated
    for track, (name, options, seed) in SETUPS.items():
        lines = (boards / f"{track}.md").read_text().splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("- **Degradation:**"))
        assert lines[at].startswith(f"- **Degradation:** {name} — ")
        option_text = ", ".join(f"{k} = {v}" for k, v in options.items()) or "none"
        # the seed only where noise is drawn (paper-linear and noise-free kspace draw none)
        seed_text = f"seed {seed} " if options else "draws no noise (no seed)"
        assert lines[at + 1].startswith(f"- **Degradation options:** {option_text}; {seed_text}")
        assert lines[at + 2].startswith("- **Intensity convention:**")
    noise = (boards / "acquisition-noise.md").read_text()
    assert f"magnitude image, then Rician noise: magnitude of image + complex Gaussian noise, SNR {SNR} = mean HR foreground" in noise
    assert "the brain on a skull-stripped reference, the whole head otherwise" in noise
    kspace = (boards / "acquisition-kspace.md").read_text()
    assert "magnitude image" in kspace and "Rician" not in kspace and "noise seed" not in kspace


def test_index_shows_the_drop_from_insample_to_each_acquisition_track(evaluated):
    store, boards = evaluated
    index = (boards / "index.md").read_text()
    assert "| [acquisition-noise](acquisition-noise.md) | ood | test | kspace (snr = 20) |" in index
    rows = table_rows(index, "### From `insample`")
    header, trilinear = rows[0], rows[1]
    assert header == ["Method", "PSNR insample", "Δ PSNR acquisition-kspace", "Δ PSNR acquisition-noise",
                      "LPIPS insample", "Δ LPIPS acquisition-kspace", "Δ LPIPS acquisition-noise"]
    assert trilinear[0] == "trilinear" and len(rows) == 2
    stored = stored_values(store)

    def mean(track: str, metric: str) -> float:
        return float(np.mean([stored[("trilinear", track, s, metric)] for s in SUBJECTS]))

    for column, value in zip(header[1:], trilinear[1:], strict=True):
        metric = "psnr" if "PSNR" in column else "lpips"
        if column.endswith("insample"):
            expected = mean("insample", metric)
            assert float(value) == pytest.approx(expected, abs=6e-4)
            continue
        change = mean(column.rsplit(" ", 1)[1], metric) - mean("insample", metric)
        assert re.fullmatch(r"[+-]\d+\.\d+", value), value
        assert float(value) == pytest.approx(change, abs=6e-4)
    # trilinear loses PSNR to the noise (the noisy LR is further from the HR than the clean one)
    assert mean("acquisition-noise", "psnr") < mean("acquisition-kspace", "psnr")


def test_a_track_mixing_degradation_options_is_refused(tmp_path):
    from srbench.leaderboard.markdown import write_leaderboards

    store = ResultsStore(tmp_path / "r.sqlite")
    for snr in (10, 20):
        record = RunRecord(method=f"m{snr}", degradation="kspace", intensity_convention="hr-minmax-01", scale=(2, 2, 2),
                           config={"degradation": {"name": "kspace", "options": {"snr": snr}, "seed": 0}})
        store.add_subject(store.register_run(record), "noise", "s1", {"psnr": 30.0}, {})
    with pytest.raises(InputError, match="track 'noise' mixes degradation option sets"):
        write_leaderboards(store, tmp_path / "out", today="2025-01-01", pm=PM)
    assert not (tmp_path / "out").exists()


# -- shipped configurations and data -------------------------------------------------------------
@pytest.mark.parametrize("path", [REPO / "datasets.toml", REPO / "srbench" / "demo" / "datasets.toml"], ids=["root", "shipped"])
def test_shipped_configs_declare_the_acquisition_and_flair_tracks(path):
    config = load_config(path, pm=get_plugin_manager())
    pm = get_plugin_manager()
    for prefix, insample in (("", "insample"), ("paper-", "paper-insample")):
        kspace, noise = config.tracks[f"{prefix}acquisition-kspace"], config.tracks[f"{prefix}acquisition-noise"]
        for track in (kspace, noise):
            assert track.kind == "ood" and track.test == config.tracks[insample].test
            assert track.models_from == insample and track.training_track(config) == insample
            assert track.degradation == "kspace" and track.scale == config.tracks[insample].scale
            assert "k-space crop" in track.description and "magnitude" in track.description
            assert "real part" not in track.description
        assert dict(kspace.degradation_options) == {}
        assert dict(noise.degradation_options) == {"snr": 20} and noise.seed == 0
        assert "Rician" in noise.description and "99.9th percentile" in noise.description
        assert "|z + sigma (n1 + i n2)|" in noise.description and "no seed" in kspace.description
        # the SNR's foreground says what it is on this track's references
        assert "skull-stripped" in noise.description and "scalp" in noise.description
    flair = config.tracks["contrast-flair"]
    assert flair.kind == "ood" and flair.degradation == "paper-linear" and flair.training_track(config) == "insample"
    [subject] = config.subjects(flair.test, pm)
    assert subject.path == DEMO_DATA / "stroke_FLAIR.nii.gz"
    assert config.dataset(flair.test).contrast == "FLAIR"


def test_the_vendored_flair_volume_matches_the_t1w_grid_and_is_licensed():
    flair, t1 = nib.load(DEMO_DATA / "stroke_FLAIR.nii.gz"), nib.load(DEMO_DATA / "stroke_T1w.nii.gz")
    assert flair.shape == t1.shape and np.allclose(flair.affine, t1.affine)
    data = np.asarray(flair.dataobj)
    assert data.dtype == np.uint8 and 0.2 < (data > 0).mean() < 0.8  # brain-extracted head, not empty
    licences = (DEMO_DATA.parent / "LICENSES.md").read_text()
    for file in sorted(DEMO_DATA.glob("*.nii.gz")):
        assert f"`{file.name}`" in licences, f"{file.name} has no licence entry"
    digest = hashlib.sha256((DEMO_DATA / "stroke_FLAIR.nii.gz").read_bytes()).hexdigest()
    assert f"sha256 {digest[:8]}…{digest[-6:]}" in licences
    assert "Copyright (c) 2020 Chris Rorden" in licences and "MIT notice" in licences


def test_only_tracks_testing_the_insample_subjects_with_another_lr_get_a_drop_column(tmp_path):
    from srbench.leaderboard.markdown import write_leaderboards
    from srbench.results.store import TrackRecord

    store = ResultsStore(tmp_path / "r.sqlite")
    tracks = {  # track → (kind, test dataset, degradation, options, PSNR of s1 and s2)
        "insample": ("insample", "t1", "paper-linear", {}, (30.0, 32.0)),
        "kspace": ("ood", "t1", "kspace", {}, (29.0, 30.0)),
        "noisy": ("ood", "t1", "kspace", {"snr": 10}, (25.5, 27.0)),
        "contrast": ("ood", "t2", "paper-linear", {}, (20.0, 21.0)),  # other subjects
        "again": ("ood", "t1", "paper-linear", {}, (30.0, 32.0)),  # the same LR
    }
    for track, (kind, test, name, options, psnr) in tracks.items():
        store.register_track(TrackRecord(track, kind, test, "train" if kind == "insample" else None))
        record = RunRecord(method="m", degradation=name, intensity_convention="hr-minmax-01", scale=(2, 2, 2),
                           config={"degradation": {"name": name, "options": options, "seed": 0}})
        key = store.register_run(record)
        for subject, value in zip(("s1", "s2"), psnr, strict=True):
            store.add_subject(key, track, subject, {"psnr": value, "lpips": value / 100}, {})
    index = write_leaderboards(store, tmp_path / "out", today="2025-01-01", pm=PM).index.read_text()
    header, row = table_rows(index, "### From `insample`")
    assert header == ["Method", "PSNR insample", "Δ PSNR kspace", "Δ PSNR noisy",
                      "LPIPS insample", "Δ LPIPS kspace", "Δ LPIPS noisy"]
    assert row == ["m", "31.000", "-1.500", "-4.750", "0.3100", "-0.0150", "-0.0475"]
