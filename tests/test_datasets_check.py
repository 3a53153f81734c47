"""``srbench datasets check``: a synthetic HCP tree with three planted broken files.

The tree is laid out as the paper's data (``$SRBENCH_DATA_ROOT/hcp-ya/<subject>/T1w/
T1w_acpc_dc_restore.nii.gz``) and checked against the repository's datasets.toml: the
report must name exactly the three broken files, give the subjects, voxel sizes and
orientations of the others, call ``paper-resolution`` blocked and the tracks whose data
is absent skipped, with the reason.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from srbench.io.nifti_check import check_nifti, gunzip_length
from srbench.cli.runner import run_cli
from srbench.testing.synthetic import smooth_volume
from tests.conftest import REPO

CONFIG = REPO / "datasets.toml"
SUBJECTS = [f"{100206 + 101 * i}" for i in range(12)]
HCP_AFFINE = np.array([[-0.7, 0, 0, 90.0], [0, 0.7, 0, -126.0], [0, 0, 0.7, -72.0], [0, 0, 0, 1]])  # LAS, as HCP


def hcp_file(root: Path, subject: str) -> Path:
    return root / "hcp-ya" / subject / "T1w" / "T1w_acpc_dc_restore.nii.gz"


@pytest.fixture
def hcp_tree(tmp_path) -> tuple[Path, set[Path]]:
    """12 subjects, 3 of them broken: truncated, not gzip data, 4D. Returns (root, broken files)."""
    root = tmp_path / "data-root"
    for i, subject in enumerate(SUBJECTS):
        path = hcp_file(root, subject)
        path.parent.mkdir(parents=True)
        array = (smooth_volume((20, 22, 18), seed=i).numpy() * 10).astype(np.int16)
        nib.save(nib.Nifti1Image(array, HCP_AFFINE), str(path))
    truncated, garbage, four_d = (hcp_file(root, SUBJECTS[i]) for i in (2, 7, 10))
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])  # a download cut short
    garbage.write_bytes(np.random.default_rng(0).bytes(2000))  # e.g. an HTML error page saved under the name
    nib.save(nib.Nifti1Image(np.zeros((20, 22, 18, 2), np.int16), HCP_AFFINE), str(four_d))  # two volumes
    return root, {truncated, garbage, four_d}


def datasets_check(*args: str) -> tuple[int, str, str]:
    """``srbench datasets check ARGS``: the exit status, stdout and stderr."""
    result = run_cli("datasets", "check", *args)
    return result.returncode, result.stdout, result.stderr


def test_names_exactly_the_three_broken_files(hcp_tree, monkeypatch):
    root, broken = hcp_tree
    monkeypatch.setenv("SRBENCH_DATA_ROOT", str(root))
    code, out, err = datasets_check("--config", str(CONFIG), "--track", "paper-resolution", "--format", "json")
    assert code == 1 and "blocked track(s): paper-resolution" in err
    report = json.loads(out)
    assert [t["name"] for t in report["tracks"]] == ["paper-resolution"]
    track = report["tracks"][0]
    assert track["status"] == "blocked" and "3 of 12 file(s) fail the NIfTI gate" in track["reason"]
    (dataset,) = report["datasets"]
    assert dataset["dataset"] == "hcp-ya-t1" and dataset["status"] == "failing"
    assert dataset["subjects"] == SUBJECTS
    assert {Path(f["path"]) for f in dataset["failing"]} == broken
    problems = {Path(f["path"]).parts[-3]: f["problem"] for f in dataset["failing"]}
    assert "truncated" in problems[SUBJECTS[2]]
    assert "not a" in problems[SUBJECTS[7]] and "NIfTI" in problems[SUBJECTS[7]]
    assert "expected a 3D image, got 4D" in problems[SUBJECTS[10]]
    assert dataset["voxel_sizes_mm"] == {"0.7×0.7×0.7": 10}  # the truncated file's header is fine
    assert dataset["orientations"] == {"LAS": 10}
    assert dataset["shapes"] == {"20×22×18": 10}

    # the table names the same three files, and no other file of the tree
    code, out, _ = datasets_check("--config", str(CONFIG), "--track", "paper-resolution")
    assert code == 1
    failing_section = out.split("## Files failing the NIfTI gate", 1)[1]
    named = {Path(p) for p in map(str, root.rglob("*.nii.gz")) if p in failing_section}
    assert named == broken
    tracks_section = out.split("## Datasets", 1)[0]
    assert "| paper-resolution" in tracks_section and "blocked" in tracks_section
    assert "0.7×0.7×0.7 (10)" in out and "LAS (10)" in out and f"12 ({SUBJECTS[0]} … {SUBJECTS[-1]})" in out


def test_every_track_runnable_skipped_or_blocked_with_the_reason(hcp_tree, monkeypatch):
    root, _ = hcp_tree
    monkeypatch.setenv("SRBENCH_DATA_ROOT", str(root))
    code, out, _ = datasets_check("--config", str(CONFIG), "--format", "json")
    assert code == 1
    report = json.loads(out)
    tracks = {t["name"]: t for t in report["tracks"]}
    assert tracks["paper-resolution"]["status"] == "blocked"
    assert tracks["paper-insample"]["status"] == "skipped" and "hcp-lifespan" in tracks["paper-insample"]["reason"]
    assert tracks["paper-knee"]["status"] == "skipped" and "mridata-knee" in tracks["paper-knee"]["reason"]
    for name in ("insample", "contrast", "resolution", "knee"):  # the demo tracks: shipped data
        assert tracks[name]["status"] == "runnable", tracks[name]
    datasets = {d["dataset"]: d for d in report["datasets"]}
    assert datasets["demo-knee-test"]["voxel_sizes_mm"] == {"0.625×0.625×4": 1}
    assert datasets["demo-resolution-test"]["voxel_sizes_mm"] == {"0.5×0.5×0.5": 1}
    # without the data root every paper track is skipped, and nothing is blocked: exit 0
    monkeypatch.delenv("SRBENCH_DATA_ROOT")
    code, out, _ = datasets_check("--config", str(CONFIG), "--format", "json")
    assert code == 0
    tracks = {t["name"]: t for t in json.loads(out)["tracks"]}
    paper = [t for name, t in tracks.items() if name.startswith("paper-")]
    assert paper and all(t["status"] == "skipped" and "SRBENCH_DATA_ROOT" in t["reason"] for t in paper)


def test_deep_reads_voxels_and_finds_nan(tmp_path):
    good = smooth_volume((16, 16, 16), seed=1).numpy()
    bad = good.copy()
    bad[3, 4, 5] = np.nan
    (tmp_path / "vols").mkdir()
    nib.save(nib.Nifti1Image(good, np.eye(4)), str(tmp_path / "vols" / "a.nii.gz"))
    nib.save(nib.Nifti1Image(bad, np.eye(4)), str(tmp_path / "vols" / "b.nii.gz"))
    config = tmp_path / "datasets.toml"
    config.write_text('[datasets.d]\npaths = ["vols/*.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n\n'
                      '[tracks.t]\nkind = "ood"\ntest = "d"\n')
    code, out, _ = datasets_check("--config", str(config), "--format", "json")
    assert code == 0 and json.loads(out)["datasets"][0]["failing"] == []  # headers alone are fine
    code, out, _ = datasets_check("--config", str(config), "--format", "json", "--deep")
    failing = json.loads(out)["datasets"][0]["failing"]
    assert code == 1 and [f["subject"] for f in failing] == ["b"] and "NaN" in failing[0]["problem"]


def test_length_check_without_decompressing_good_files(tmp_path):
    array = smooth_volume((30, 20, 10), seed=3).numpy()
    nib.save(nib.Nifti1Image(array, np.eye(4)), str(tmp_path / "v.nii"))
    raw = (tmp_path / "v.nii").read_bytes()
    # several gzip members (as some tools write): the trailer holds only the last member's length
    (tmp_path / "multi.nii.gz").write_bytes(gzip.compress(raw[:5000]) + gzip.compress(raw[5000:]))
    assert gunzip_length(tmp_path / "multi.nii.gz") == len(raw)
    info, problem = check_nifti(tmp_path / "multi.nii.gz")
    assert problem is None and info.shape == (30, 20, 10) and info.orientation == "RAS"
    (tmp_path / "short.nii").write_bytes(raw[:-64])
    info, problem = check_nifti(tmp_path / "short.nii")
    assert info is not None and problem.startswith("file is truncated")


def test_real_command_line_and_bad_usage(hcp_tree):
    root, broken = hcp_tree
    result = run_cli("datasets", "check", "--config", str(CONFIG), "--track", "paper-resolution",
                     env={"SRBENCH_DATA_ROOT": str(root)})
    assert result.returncode == 1
    assert sum(str(path) in result.stdout for path in broken) == 3
    result = run_cli("datasets", "check", "--config", str(CONFIG), "--track", "nope")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "unknown track 'nope'" in result.stderr
    assert result.stdout == ""
