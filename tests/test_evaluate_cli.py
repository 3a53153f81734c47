"""End to end through the real command line: evaluate → results store → leaderboard.

A small generated benchmark (smooth volumes of 24³ voxels or a little more, oblique
affines, one with odd sizes) with three tracks: ``insample`` (3 subjects, the paper's
linear degradation), ``knee`` (an anisotropic volume, scale ``[2, 2, 1]``) and ``kspace``
(the same subjects, k-space degradation). The expensive full evaluation runs once per
module; tests that write copy its store first. Commands run in this process
(:func:`srbench.cli.runner.run_cli`) with the environment of a user: no ``SRBENCH_``
settings, a home folder of their own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import struct
import subprocess
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from srbench.cli.runner import CLIResult, run_cli
from srbench.testing.synthetic import oblique_affine, smooth_volume
from tests.conftest import REPO
from tests.fake_distributions import make_distribution, run_srbench

#: every metric column a results row must carry
COLUMNS = ("psnr", "ssim", "nrmse", "nrmse_range", "lpips", "lpips_sagittal", "lpips_coronal", "lpips_axial", "bias",
           "psnr_volume", "ssim_volume", "nrmse_volume", "mask_fraction")

#: test subjects: name → (shape, voxel size in mm, seed); s2 has odd sizes on two axes
SUBJECTS = {
    "s1": ((24, 24, 24), (1.0, 1.0, 1.0), 1),
    "s2": ((25, 27, 23), (1.2, 1.0, 0.9), 2),
    "s3": ((24, 26, 24), (1.0, 1.0, 1.0), 3),
}
#: the knee volume: thick slices, super-resolved in-plane only (SSIM needs ≥ 11 voxels per axis)
KNEE = ((24, 24, 12), (0.625, 0.625, 4.0), 4)

#: track → (degradation, scale, subjects)
TRACKS = {
    "insample": ("paper-linear", (2, 2, 2), ("s1", "s2", "s3")),
    "knee": ("paper-linear", (2, 2, 1), ("knee",)),
    "kspace": ("kspace", (2, 2, 2), ("s1", "s2", "s3")),
}

CONFIG = """
[datasets.train]
paths = ["data/s3.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[datasets.test]
paths = ["data/s*.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[datasets.knee]
paths = ["data/knee.nii.gz"]
contrast = "PD"
anatomy = "knee"

[tracks.insample]
kind = "insample"
train = "train"
test = "test"

[tracks.knee]
kind = "ood"
test = "knee"
scale = [2, 2, 1]

[tracks.kspace]
kind = "ood"
test = "test"
degradation = "kspace"
"""


def write_volume(path: Path, shape, spacing, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(smooth_volume(shape, seed=seed).numpy(), oblique_affine(spacing)), str(path))
    return path


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    """The generated benchmark folder: ``datasets.toml`` and ``data/*.nii.gz``."""
    root = tmp_path_factory.mktemp("bench")
    for name, (shape, spacing, seed) in {**SUBJECTS, "knee": KNEE}.items():
        write_volume(root / "data" / f"{name}.nii.gz", shape, spacing, seed)
    (root / "datasets.toml").write_text(CONFIG)
    return root


def clean_env(home: Path) -> dict[str, str | None]:
    """Environment changes for a command run as a user would: the test run's ``SRBENCH_``
    settings removed, ``home`` as the home folder, plain output."""
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith("SRBENCH_")}
    env.update(HOME=str(home), NO_COLOR="1", COLUMNS="200")
    return env


@pytest.fixture(scope="module")
def user_env(tmp_path_factory) -> dict[str, str | None]:
    return clean_env(tmp_path_factory.mktemp("home"))


def run_ok(user_env: dict[str, str | None], *argv: str, cwd: Path, env: dict | None = None) -> CLIResult:
    result = run_cli(*argv, cwd=cwd, env={**user_env, **(env or {})})
    assert result.returncode == 0, f"srbench {' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    return result


def evaluate_args(bench: Path, results: Path, *extra: str, track: str = "all") -> tuple[str, ...]:
    return ("evaluate", "--config", str(bench / "datasets.toml"), "--track", track, "--method", "trilinear",
            "--results", str(results), *extra)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def full_run(bench, user_env, tmp_path_factory) -> tuple[Path, list[dict]]:
    """``evaluate --track all --method trilinear --format json`` into a fresh store."""
    out = tmp_path_factory.mktemp("full")
    store = out / "results.sqlite"
    result = run_ok(user_env, *evaluate_args(bench, store, "--format", "json"), cwd=out)
    return store, json_lines(result.stdout)


# -- reading stores ---------------------------------------------------------------------------
def stored_values(path: Path, track: str | None = None) -> dict[tuple[str, str, str, str], float]:
    """``(method, track, subject, metric) → value`` of every stored result."""
    from srbench.results.store import ResultsStore

    with ResultsStore(path, must_exist=True) as store:
        frame = store.rows(track)
    keys = zip(frame["method"], frame["track"], frame["subject"], frame["metric"], strict=True)
    return dict(zip(keys, frame["value"].astype(float), strict=True))


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, sorted (a store's complete content)."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}").fetchall()), key=repr) for t in tables}


def copy_store(source: Path, target: Path) -> Path:
    """A consistent copy of an SQLite store (WAL content included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def expected_keys() -> set[tuple[str, str]]:
    return {(track, subject) for track, (_, _, subjects) in TRACKS.items() for subject in subjects}


def direct_metrics(path: Path, *, degradation: str, scale) -> dict[str, float]:
    """HR → degrade_volume → trilinear → the metrics, computed here without the command line:
    headline values over the HR foreground (the evaluation mask), whole-volume values over all."""
    import torch

    from srbench.builtins.trilinear import TrilinearPredictor
    from srbench.data.pairs import degrade_volume
    from srbench.interfaces import InferenceSettings
    from srbench.io.nifti import load_volume
    from srbench.data.foreground import foreground_mask
    from srbench.metrics.convention import scale_pair
    from srbench.metrics.lpips import lpips_planes
    from srbench.metrics.nrmse import nrmse
    from srbench.metrics.psnr import psnr
    from srbench.metrics.ssim import ssim
    from srbench.plugins import get_plugin_manager

    hr, lr = degrade_volume(load_volume(path), degradation=get_plugin_manager().get("degradation", degradation), scale=scale)
    sr = TrilinearPredictor().predict(lr, scale=scale, settings=InferenceSettings())
    assert tuple(sr.shape) == tuple(hr.shape)
    np.testing.assert_allclose(np.asarray(sr.affine), np.asarray(hr.affine), atol=1e-5)
    sr01, hr01 = scale_pair(sr.data, hr.data)
    mask = foreground_mask(hr01)
    a, b = sr01[mask], hr01[mask]
    background_free = torch.where(mask, sr01, hr01)
    with torch.inference_mode():
        values = {"psnr": psnr(a, b), "ssim": ssim(background_free, hr01, mask=mask), "nrmse": nrmse(a, b),
                  "nrmse_range": float((a - b).double().square().mean().sqrt()), "bias": float((a - b).double().mean()),
                  "psnr_volume": psnr(sr01, hr01), "ssim_volume": ssim(sr01, hr01), "nrmse_volume": nrmse(sr01, hr01),
                  "mask_fraction": float(mask.double().mean())}
        values.update(lpips_planes(background_free, hr01, affine=np.asarray(hr.affine), mask=mask))
    return {k: float(v) for k, v in values.items()}


# -- output formats and values --------------------------------------------------------------
def test_json_lines_carry_every_metric_and_equal_a_direct_computation(full_run, bench):
    store, rows = full_run
    assert {(r["track"], r["subject"]) for r in rows} == expected_keys()
    assert len(rows) == len(expected_keys())
    stored = stored_values(store)
    assert len(stored) == len(expected_keys()) * len(COLUMNS)
    for row in rows:
        assert row["method"] == "trilinear" and row["status"] == "ok", row
        assert set(COLUMNS) <= set(row), row
        degradation, scale, _ = TRACKS[row["track"]]
        expected = direct_metrics(bench / "data" / f"{row['subject']}.nii.gz", degradation=degradation, scale=scale)
        for column in COLUMNS:
            assert row[column] == pytest.approx(expected[column], rel=1e-5, abs=1e-6), (row["track"], row["subject"], column)
            assert stored[("trilinear", row["track"], row["subject"], column)] == pytest.approx(row[column], rel=1e-12)
    # the degradations really differ: the k-space track is not the linear one again
    by_key = {(r["track"], r["subject"]): r for r in rows}
    assert by_key[("kspace", "s1")]["psnr"] != pytest.approx(by_key[("insample", "s1")]["psnr"], rel=1e-3)


def test_every_result_carries_its_inference_plan_and_the_stage_times_are_printed(full_run, bench, user_env, tmp_path):
    from srbench.results.store import ResultsStore

    store, rows = full_run
    plans = ResultsStore(store).inference_plans()
    assert {(track, subject) for (_, track, subject) in plans} == {(r["track"], r["subject"]) for r in rows}
    assert all(plan["tiles"] == 1 and plan["exact"] for plan in plans.values())
    result = run_ok(user_env, *evaluate_args(bench, tmp_path / "again.sqlite", track="knee"), cwd=tmp_path)
    stages = re.search(r"time per stage: (.*)$", result.stderr, re.MULTILINE)
    assert stages is not None
    assert {"load", "degrade", "predict", "metric psnr", "store"} <= {part.split(" ")[0] if not part.startswith("metric")
                                                                        else " ".join(part.split(" ")[:2])
                                                                        for part in stages.group(1).split(", ")}


def test_csv_and_table_formats_parse(full_run, bench, user_env, tmp_path):
    _, rows = full_run
    reference = next(r for r in rows if r["track"] == "knee")
    as_csv = run_ok(user_env, *evaluate_args(bench, tmp_path / "csv.sqlite", "--format", "csv", track="knee"), cwd=tmp_path)
    records = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(records) == 1
    assert set(COLUMNS) | {"method", "track", "subject", "status"} <= set(records[0])
    assert (records[0]["method"], records[0]["track"], records[0]["subject"], records[0]["status"]) == ("trilinear", "knee", "knee", "ok")
    for column in COLUMNS:
        assert float(records[0][column]) == pytest.approx(reference[column], rel=1e-9)

    as_table = run_ok(user_env, *evaluate_args(bench, tmp_path / "table.sqlite", "--format", "table", track="knee"), cwd=tmp_path)
    lines = [line for line in as_table.stdout.splitlines() if line.startswith("|")]
    assert len(lines) == 3, as_table.stdout  # header, alignment, one row
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    cells = dict(zip(header, (cell.strip() for cell in lines[2].strip("|").split("|")), strict=True))
    assert set(COLUMNS) <= set(header)
    assert (cells["method"], cells["track"], cells["subject"]) == ("trilinear", "knee", "knee")
    for column in COLUMNS:
        assert float(cells[column]) == pytest.approx(reference[column], abs=5e-5)


# -- idempotence --------------------------------------------------------------------------
def test_a_second_run_adds_nothing_and_force_recomputes(full_run, bench, user_env, tmp_path):
    store = copy_store(full_run[0], tmp_path / "results.sqlite")
    before = dump(store)
    again = run_ok(user_env, *evaluate_args(bench, store, "--format", "json"), cwd=tmp_path)
    lines = json_lines(again.stdout)
    assert {(r["track"], r["subject"]) for r in lines} == expected_keys()
    assert {r["status"] for r in lines} == {"skipped"}
    assert dump(store) == before

    forced = run_ok(user_env, *evaluate_args(bench, store, "--format", "json", "--force", track="knee"), cwd=tmp_path)
    (row,) = json_lines(forced.stdout)
    assert (row["track"], row["status"]) == ("knee", "ok")
    after = stored_values(store)
    original = stored_values(full_run[0])
    assert after.keys() == original.keys()
    for key, value in original.items():
        assert after[key] == pytest.approx(value, rel=1e-9), key
    assert {t: len(rows) for t, rows in dump(store).items()} == {t: len(rows) for t, rows in before.items()}


# -- shards, merge, parallel workers ----------------------------------------------------------
def test_shards_merged_equal_the_single_store_run(full_run, bench, user_env, tmp_path):
    shards = []
    for index in (1, 2):
        path = tmp_path / f"shard{index}.sqlite"
        run_ok(user_env, *evaluate_args(bench, path, "--shard", f"{index}/2", "--no-save-predictions", "--format", "json", track="ood"),
               cwd=tmp_path)
        shards.append(path)
    first, second = (stored_values(path) for path in shards)
    assert first and second and not first.keys() & second.keys()
    assert {k[2] for k in second} == {"s2"}  # round robin over sorted subjects; knee has no 2nd subject

    merged = tmp_path / "merged.sqlite"
    run_ok(user_env, "results", "merge", *map(str, shards), "--into", str(merged), cwd=tmp_path)
    reference = {k: v for k, v in stored_values(full_run[0]).items() if k[1] in ("knee", "kspace")}
    combined = stored_values(merged)
    assert combined.keys() == reference.keys()
    for key, value in reference.items():
        assert combined[key] == pytest.approx(value, rel=1e-9), key
    content = dump(merged)
    assert len(content["inputs"]) == len(reference) // len(COLUMNS)

    again = run_ok(user_env, "results", "merge", *map(str, shards), "--into", str(merged), cwd=tmp_path)
    assert "0 result row(s)" in again.stderr
    assert dump(merged) == content


@pytest.mark.slow
def test_jobs_2_gives_the_rows_of_jobs_1(full_run, bench, user_env, tmp_path):
    store = tmp_path / "parallel.sqlite"
    result = run_ok(user_env, *evaluate_args(bench, store, "--jobs", "2", "--format", "json", track="insample"), cwd=tmp_path)
    assert sorted(r["subject"] for r in json_lines(result.stdout)) == ["s1", "s2", "s3"]
    parallel = stored_values(store)
    serial = stored_values(full_run[0], track="insample")
    assert parallel.keys() == serial.keys()
    for key, value in serial.items():
        assert parallel[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


# -- provenance ---------------------------------------------------------------------------
def test_run_records_and_input_hashes(full_run, bench):
    import srbench
    from srbench.metrics.convention import CONVENTION_NAME
    from srbench.plugins import get_plugin_manager
    from srbench.results.store import ResultsStore

    with ResultsStore(full_run[0], must_exist=True) as store:
        runs = store.runs()
        inputs = store.inputs()
        rows = store.rows()
    assert len(runs) == 3  # one per (degradation, scale): insample, knee, kspace
    setups = set()
    for run in runs.to_dict(orient="records"):
        assert run["method"] == "trilinear"
        assert run["checkpoint_sha256"] is None and run["checkpoint_path"] is None
        assert run["srbench_version"] == srbench.__version__
        versions = json.loads(run["plugin_versions"])
        assert versions["srbench-mri"] == srbench.__version__
        assert versions == get_plugin_manager().versions()
        assert run["intensity_convention"] == CONVENTION_NAME
        json.loads(run["config"])
        setups.add((run["degradation"], tuple(json.loads(run["scale"]))))
        if run["git_commit"] is not None:
            head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
            assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", run["git_commit"])
            assert run["git_commit"].split("+")[0] == head.stdout.strip()
    assert setups == {("paper-linear", (2.0, 2.0, 2.0)), ("paper-linear", (2.0, 2.0, 1.0)), ("kspace", (2.0, 2.0, 2.0))}
    # every result row points at the run of its track's set-up
    run_of = {r["run_key"]: (r["degradation"], tuple(json.loads(r["scale"]))) for r in runs.to_dict(orient="records")}
    for track, key in zip(rows["track"], rows["run_key"], strict=True):
        degradation, scale, _ = TRACKS[track]
        assert run_of[key] == (degradation, tuple(float(s) for s in scale))

    assert {(t, s) for t, s in zip(inputs["track"], inputs["subject"], strict=True)} == expected_keys()
    for record in inputs.to_dict(orient="records"):
        path = Path(record["path"])
        assert path.resolve() == (bench / "data" / f"{record['subject']}.nii.gz").resolve()
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


# -- a model that cannot do the track's scale ----------------------------------------------------
ISOTROPIC_ONLY = '''
    import dataclasses
    from srbench import hookimpl
    from srbench.builtins.trilinear import TrilinearPredictor
    from srbench.errors import ScaleNotSupported

    class IsotropicOnly:
        def predict(self, lr, *, scale, settings):
            if tuple(float(s) for s in scale) != (3.0, 3.0, 3.0):
                raise ScaleNotSupported(f"pkisotropic only up-samples x3 on every axis, not {tuple(scale)}")
            return TrilinearPredictor().predict(lr, scale=scale, settings=settings)

    @dataclasses.dataclass(frozen=True)
    class Model:
        name: str = "pkisotropic"
        description: str = "x3 on every axis, nothing else (the knee's [2, 2, 1] adapter asks for x2)"
        needs_checkpoint: bool = False

        def load(self, *, checkpoint=None, device="cpu"):
            return IsotropicOnly()

    @hookimpl
    def register_models():
        return [Model()]
'''


@pytest.mark.slow
def test_a_model_that_cannot_do_the_scale_is_not_applicable(bench, tmp_path):
    site = tmp_path / "site"
    make_distribution(site, "srbench-mri-pkisotropic", modules={"srbench_pk_isotropic": textwrap.dedent(ISOTROPIC_ONLY)},
                      entry_points={"pkisotropic": "srbench_pk_isotropic"})
    store = tmp_path / "results.sqlite"
    env = {"HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200"}
    result = run_srbench(site, "evaluate", "--config", str(bench / "datasets.toml"), "--track", "knee", "--method", "trilinear",
                         "--method", "pkisotropic", "--results", str(store), "--format", "json", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    status = {r["method"]: r["status"] for r in json_lines(result.stdout)}
    assert status == {"trilinear": "ok", "pkisotropic": "not-applicable"}
    assert "pkisotropic on knee: not applicable" in result.stderr
    board = run_srbench(site, "leaderboard", "--results", str(store), "--out", str(tmp_path / "boards"), cwd=tmp_path, **env)
    assert board.returncode == 0, board.stderr
    assert "[knee](knee.md)" in board.stdout
    markdown = (tmp_path / "boards" / "knee.md").read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| pkisotropic"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "0" and set(cells[2:]) == {"not applicable"}
    assert "**pkisotropic**: pkisotropic only up-samples x3 on every axis" in markdown
    trilinear = next(line for line in markdown.splitlines() if line.startswith("| trilinear"))
    assert "not applicable" not in trilinear and trilinear.split("|")[2].strip() == "1"


# -- the leaderboard after evaluate ---------------------------------------------------------
def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_leaderboard_with_figures_after_evaluate(full_run, user_env, tmp_path):
    from srbench.figures import figure_size_px
    from srbench.metrics.convention import CONVENTION_NAME

    out = tmp_path / "boards"
    result = run_ok(user_env, "leaderboard", "--results", str(full_run[0]), "--out", str(out), "--figures", cwd=tmp_path)
    index = (out / "index.md").read_text()
    assert result.stdout == index
    for track, (degradation, scale, subjects) in TRACKS.items():
        assert f"[{track}]({track}.md)" in index
        markdown = (out / f"{track}.md").read_text()
        assert f"# Leaderboard: track `{track}`" in markdown
        assert CONVENTION_NAME in markdown and "**Intensity convention:**" in markdown
        assert f"**Degradation:** {degradation}" in markdown or f"**Degradation:** `{degradation}`" in markdown
        assert "**LPIPS planes:**" in markdown and f"**Subjects:** {len(subjects)}" in markdown
        table = [line for line in markdown.splitlines() if line.startswith("| ")]
        assert table[0].split("|")[1:3] == [" Method ", " n "]
        row = next(line for line in table if line.startswith("| trilinear"))
        assert row.split("|")[2].strip() == str(len(subjects))
        assert "PSNR" in table[0] and "LPIPS" in table[0]
        link = re.search(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", markdown)
        assert link, markdown
        figure = out / link.group(1)
        assert png_size(figure) == figure_size_px(1)
    assert "×2 × 2 × 1" in (out / "knee.md").read_text()


# -- bad input: exit 2, one line, nothing written ---------------------------------------------
def assert_usage_error(result: CLIResult, *patterns: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    for pattern in patterns:
        assert re.search(pattern, last), last


@pytest.mark.parametrize(
    ("extra", "patterns"),
    [
        (("--track", "insampel", "--method", "trilinear"), (r"unknown track 'insampel'", r"did you mean 'insample'")),
        (("--track", "knee", "--method", "trilinaer"), (r"'trilinaer'", r"did you mean 'trilinear'")),
        (("--track", "knee", "--method", "trilinear", "--method", "trigan", "--checkpoint", "model.safetensors"),
         (r"--checkpoint", r"one --method")),
    ],
    ids=["unknown-track", "unknown-method", "checkpoint-with-two-methods"],
)
def test_bad_names_exit_2_and_write_nothing(bench, user_env, tmp_path, extra, patterns):
    result = run_cli("evaluate", "--config", str(bench / "datasets.toml"), *extra, cwd=tmp_path, env=user_env)
    assert_usage_error(result, *patterns)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_in_the_config_exits_2_before_any_store_exists(bench, user_env, tmp_path):
    config = bench / "missing.toml"
    config.write_text(CONFIG.replace('paths = ["data/knee.nii.gz"]', 'paths = ["data/knee.nii.gz", "data/no_such_knee.nii.gz"]'))
    work = tmp_path / "work"
    work.mkdir()
    # the missing file belongs to the second track selected: nothing may be written for the first either
    result = run_cli("evaluate", "--config", str(config), "--track", "all", "--method", "trilinear", cwd=work, env=user_env)
    assert_usage_error(result, r"no_such_knee\.nii\.gz")
    assert list(work.iterdir()) == []  # neither results/results.sqlite nor predictions
    explicit = run_cli("evaluate", "--config", str(config), "--track", "knee", "--method", "trilinear",
                       "--results", str(work / "r.sqlite"), cwd=work, env=user_env)
    assert_usage_error(explicit, r"no_such_knee\.nii\.gz")
    assert list(work.iterdir()) == []


# -- srbench demo -------------------------------------------------------------------------
DEMO_CONFIG = """
[datasets.train]
paths = ["data/train.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[datasets.test]
paths = ["data/test.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.insample]
kind = "insample"
train = "train"
test = "test"

[datasets.dev]
paths = ["data/dev.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.tune]
kind = "dev"
train = "train"
test = "dev"
"""


def test_demo_trains_evaluates_and_publishes(user_env, tmp_path):
    from srbench.plugins import get_plugin_manager
    from srbench.results.store import ResultsStore

    if "trigan" not in get_plugin_manager().names("trainer"):
        pytest.skip("the trigan plugin is not installed")
    data = tmp_path / "bench"
    write_volume(data / "data" / "train.nii.gz", (40, 40, 40), (1.0, 1.0, 1.0), 11)  # ≥ the cpu preset's 32³ patches
    write_volume(data / "data" / "test.nii.gz", (24, 24, 24), (1.0, 1.0, 1.0), 12)
    write_volume(data / "data" / "dev.nii.gz", (24, 24, 24), (1.0, 1.0, 1.0), 13)
    (data / "datasets.toml").write_text(DEMO_CONFIG)
    work = tmp_path / "work"
    work.mkdir()
    result = run_ok(user_env, "demo", "--method", "trigan", "--iterations", "2", cwd=work,
                    env={"SRBENCH_CONFIG": str(data / "datasets.toml")})

    run_dir = work / "runs" / "trigan-cpu-insample"
    assert json.loads((run_dir / "config.json").read_text())["iterations"] == 2
    model = run_dir / "model.safetensors"
    assert model.is_file()
    assert not (work / "leaderboards").exists()  # the committed boards are never overwritten
    index = (work / "results" / "leaderboards" / "index.md").read_text()
    assert "[insample](insample.md)" in index and index in result.stdout
    assert not (work / "results" / "leaderboards" / "tune.md").exists(), "the demo evaluated the development track"
    board = (work / "results" / "leaderboards" / "insample.md").read_text()
    methods = {line.split("|")[1].strip() for line in board.splitlines() if line.startswith("| ") and "|---" not in line}
    assert {"trilinear", "trigan"} <= {m.split(" ")[0] for m in methods}
    link = re.search(r"\((figures/insample\.png)\)", board)
    assert link and (work / "results" / "leaderboards" / link.group(1)).is_file()
    with ResultsStore(work / "results" / "demo.sqlite", must_exist=True) as store:
        assert set(store.rows()["method"]) == {"trilinear", "trigan"}
    with sqlite3.connect(work / "results" / "demo.sqlite") as conn:
        checkpoints = dict(conn.execute("SELECT method, checkpoint_sha256 FROM runs").fetchall())
    assert checkpoints == {"trilinear": None, "trigan": hashlib.sha256(model.read_bytes()).hexdigest()}
