"""Shipped weights, the committed export and `srbench verify`, end to end on a tiny synthetic
benchmark: a learned third-party method (real entry point, a package with a weights/
folder) is trained for a few iterations on 20³ volumes, shipped with `srbench weights add`,
evaluated from the shipped weights (no local run), exported, rendered from the export,
imported, and verified, including a tampered row that must be reported."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import pytest

from srbench.testing.synthetic import oblique_affine, smooth_volume
from tests.broken_variants import good_source
from tests.conftest import TRAIN_TEST_DATASETS
from tests.fake_distributions import make_distribution, run_srbench

NAME = "pkverify"

CONFIG = TRAIN_TEST_DATASETS + """

[tracks.tiny]
kind = "insample"
train = "train"
test = "test"

[tracks.tinyk]
kind = "ood"
test = "test"
degradation = "kspace"
"""


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("verify")
    for name, seed in (("train", 1), ("s1", 2), ("s2", 3)):
        path = root / "bench" / "data" / f"{name}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(smooth_volume((20, 22, 20), seed=seed).numpy(), oblique_affine((1.0, 1.0, 1.0))), str(path))
    (root / "bench" / "datasets.toml").write_text(CONFIG)
    package = root / "site" / "srbench_pk_verify"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(good_source(NAME))
    make_distribution(root / "site", f"srbench-mri-{NAME}", modules={}, entry_points={NAME: "srbench_pk_verify.plugin"})
    return root


def srbench(root: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = run_srbench(root / "site", *args, cwd=root, OMP_NUM_THREADS="1", SRBENCH_CONFIG=str(root / "bench" / "datasets.toml"))
    if ok:
        assert result.returncode == 0, f"srbench {' '.join(args)}: {result.returncode}\n{result.stderr[-3000:]}"
    return result


def tamper(export: Path, target: Path, *, method: str, track: str, metric: str, delta: float) -> dict:
    """Copy ``export`` to ``target`` with one metric value changed by ``delta``; return that row."""
    lines = export.read_text().splitlines()
    for index, line in enumerate(lines):
        record = json.loads(line)
        if record["record"] == "result" and (record["method"], record["track"], record["metric"]) == (method, track, metric):
            record["value"] += delta
            lines[index] = json.dumps(record, sort_keys=True, ensure_ascii=False)
            target.write_text("\n".join(lines) + "\n")
            return record
    raise AssertionError(f"no {method}/{track}/{metric} row")


@pytest.mark.slow
def test_ship_evaluate_export_render_import_and_verify(bench):
    root = bench
    srbench(root, "train", NAME, "--preset", "cpu", "--iterations", "3", "--track", "tiny",
            "--run-dir", "runs/pkverify-cpu-tiny", "--no-progress")
    added = srbench(root, "weights", "add", "runs/pkverify-cpu-tiny")
    shipped_dir = root / "site" / "srbench_pk_verify" / "weights" / "cpu-tiny"
    assert Path(added.stdout.strip()) == shipped_dir
    assert sorted(p.name for p in shipped_dir.iterdir()) == [
        "config.json", "manifest.json", "model.safetensors", "model.safetensors.sha256"]
    listed = [json.loads(line) for line in srbench(root, "weights", "--format", "json").stdout.splitlines()]
    mine = [(r["method"], r["preset"], r["track"], r["intact"]) for r in listed if r["method"] == NAME]
    assert mine == [(NAME, "cpu", "tiny", True)]  # the reference plugins' shipped weights are listed too
    assert all(r["training_commit"] != "" and len(r["sha256"]) == 64 for r in listed)
    shutil.rmtree(root / "runs")  # no local run: evaluate must take the shipped weights and say so

    evaluated = srbench(root, "evaluate", "--track", "all", "--method", NAME, "--method", "trilinear",
                        "--results", "store.sqlite", "--format", "json")
    assert "using the reference weights shipped with srbench-mri-pkverify" in evaluated.stderr
    assert len(evaluated.stdout.splitlines()) == 2 * 2 * 2  # tracks × methods × subjects

    srbench(root, "results", "export", "--results", "store.sqlite", "--out", "export.jsonl")
    export = root / "export.jsonl"
    srbench(root, "results", "export", "--results", "store.sqlite", "--out", "again.jsonl")
    assert export.read_bytes() == (root / "again.jsonl").read_bytes()
    records = [json.loads(line) for line in export.read_text().splitlines()]
    runs = [r for r in records if r["record"] == "run"]
    assert {r["method"] for r in runs} == {NAME, "trilinear"}
    assert all({"git_commit", "plugin_versions", "checkpoint_sha256", "config", "srbench_version"} <= set(r) for r in runs)
    assert {r["checkpoint_sha256"] for r in runs if r["method"] == NAME} == {r["sha256"] for r in listed if r["method"] == NAME}

    # the same markdown from the store and from the export; two subjects: no statistics tables
    srbench(root, "leaderboard", "--results", "store.sqlite", "--out", "from-store")
    srbench(root, "leaderboard", "--from", "export.jsonl", "--out", "from-export")
    store_files = sorted(p.name for p in (root / "from-store").iterdir())
    assert store_files == ["index.md", "tiny.md", "tinyk.md"]
    for name in store_files:
        assert (root / "from-store" / name).read_bytes() == (root / "from-export" / name).read_bytes(), name
    assert "No confidence interval or paired test is possible on this track: it has 2 subjects" in (
        root / "from-store" / "tiny.md").read_text()

    # import into an empty store gives back the same export
    srbench(root, "results", "import", "export.jsonl", "--into", "imported.sqlite")
    srbench(root, "results", "export", "--results", "imported.sqlite", "--out", "reexport.jsonl")
    assert (root / "reexport.jsonl").read_bytes() == export.read_bytes()

    verified = srbench(root, "verify", "--from", "export.jsonl", "--track", "all")
    lines = verified.stdout.splitlines()
    results = [r for r in records if r["record"] == "result"]
    assert len(lines) == len(results) and all(line.startswith("REPRODUCED") for line in lines)
    assert f"{len(results)} of {len(results)} value(s) reproduced" in verified.stderr

    row = tamper(export, root / "tampered.jsonl", method=NAME, track="tiny", metric="psnr", delta=0.01)
    failed = srbench(root, "verify", "--from", "tampered.jsonl", "--track", "tiny", "--format", "json", ok=False)
    assert failed.returncode == 1, failed.stderr
    verdicts = [json.loads(line) for line in failed.stdout.splitlines()]
    differing = [v for v in verdicts if v["status"] != "reproduced"]
    assert [(v["method"], v["subject"], v["metric"], v["status"]) for v in differing] == [
        (NAME, row["subject"], "psnr", "differs")]
    assert differing[0]["difference"] == pytest.approx(-0.01, abs=1e-6)
    assert srbench(root, "verify", "--from", "tampered.jsonl", "--track", "tinyk", ok=False).returncode == 0

    # an edited run record (provenance) is refused as input: exit 2, one line
    lines = export.read_text().splitlines()
    edited = [json.loads(line) for line in lines]
    for record in edited:
        if record["record"] == "run" and record["method"] == NAME:
            record["degradation"] = "kspace"
    (root / "edited.jsonl").write_text("".join(json.dumps(r) + "\n" for r in edited))
    refused = srbench(root, "verify", "--from", "edited.jsonl", ok=False)
    assert refused.returncode == 2 and "recorded provenance (the record was edited)" in refused.stderr


def test_verify_compares_the_stored_columns_of_an_export_with_or_without_bias(monkeypatch):
    """Rows evaluated before the bias metric existed verify on what they store; rows with it
    compare it like any value (a flipped sign differs; the tolerance is absolute below 1)."""
    from srbench import verify

    def export(values: dict[str, float]) -> list[dict]:
        rows = [{"record": "result", "run_key": "k", "track": "t", "subject": "s1", "metric": metric, "value": value}
                for metric, value in values.items()]
        return [{"record": "export"}, {"record": "run", "run_key": "k", "method": "m"}, *rows]

    monkeypatch.setattr(verify, "_recompute", lambda *args, **kwargs: {"psnr": 30.0, "bias": -0.0421})

    def verdicts(values: dict[str, float]) -> list[tuple[str, str]]:
        return [(c.metric, c.status) for c in verify.verify_export(export(values), pm=None, config=None)]

    assert verdicts({"psnr": 30.0}) == [("psnr", "reproduced")]
    assert verify.unstored_columns(export({"psnr": 30.0}), ["psnr", "bias"]) == ["bias"]
    assert verdicts({"psnr": 30.0, "bias": -0.0421}) == [("bias", "reproduced"), ("psnr", "reproduced")]
    assert verify.unstored_columns(export({"psnr": 30.0, "bias": -0.0421}), ["psnr", "bias"]) == []
    assert verdicts({"psnr": 30.0, "bias": 0.0421}) == [("bias", "differs"), ("psnr", "reproduced")]
    assert verdicts({"psnr": 30.0, "bias": -0.04213}) == [("bias", "differs"), ("psnr", "reproduced")]


@pytest.mark.slow
def test_verify_finds_the_committed_export_and_its_tracks_from_any_folder(tmp_path):
    """From a folder outside the checkout, with SRBENCH_CONFIG naming a configuration that
    lacks the committed tracks, ``verify`` still finds leaderboards/results.jsonl and checks
    it against the shipped demo configuration, and says so."""
    from srbench.cli.runner import run_cli

    other = tmp_path / "mine.toml"
    other.write_text('[datasets.x]\npaths = ["x.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n')
    result = run_cli("verify", "--track", "knee", "--format", "json", cwd=tmp_path,
                     env={"SRBENCH_CONFIG": str(other), "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and {row["status"] for row in rows} == {"reproduced"}
    assert "leaderboards/results.jsonl with the tracks of " in result.stderr and "srbench/demo/datasets.toml" in result.stderr
