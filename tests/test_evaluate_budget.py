"""Evaluation a lab can budget: ``--metric/--skip-metric`` compute only the chosen metrics
(recorded with the run, its rows their own run, the board says which rows lack a metric),
and ``--estimate`` predicts the time per track, method and metric before anything runs."""

from __future__ import annotations

import json

import pytest

from srbench.measurement import select_metrics
from srbench.errors import InputError
from srbench.plugins import get_plugin_manager
from srbench.cli.runner import run_cli
from tests.test_progress_log import _bench

ENV = {"NO_COLOR": "1", "SRBENCH_CONFIG": None}


def test_selection_is_none_for_every_metric_and_checked():
    pm = get_plugin_manager()
    assert select_metrics(pm) is None and select_metrics(pm, include=pm.names("metric")) is None
    assert select_metrics(pm, exclude=["lpips"]) == tuple(sorted(set(pm.names("metric")) - {"lpips"}))
    assert select_metrics(pm, include=["psnr", "ssim"]) == ("psnr", "ssim")
    with pytest.raises(InputError, match="did you mean 'lpips'"):
        select_metrics(pm, include=["lpip"])
    with pytest.raises(InputError, match="leave no metric"):
        select_metrics(pm, include=["psnr"], exclude=["psnr"])


def test_skip_metric_is_recorded_and_shown_on_the_board(tmp_path):
    config = _bench(tmp_path / "bench", 2)
    store = tmp_path / "r.sqlite"
    base = ("evaluate", "--config", str(config), "--track", "noise", "--method", "trilinear", "--results", str(store),
            "--format", "json", "--no-save-predictions")
    fast = run_cli(*base, "--skip-metric", "lpips", env=ENV, cwd=tmp_path)
    assert fast.returncode == 0, fast.stderr
    rows = [json.loads(line) for line in fast.stdout.splitlines()]
    assert rows and all("psnr" in r and "lpips" not in r for r in rows)
    assert "metric lpips" not in fast.stderr  # never computed, so never timed
    full = run_cli(*base, env=ENV, cwd=tmp_path)
    assert all("lpips" in json.loads(line) for line in full.stdout.splitlines())
    boards = run_cli("leaderboard", "--results", str(store), "--out", str(tmp_path / "boards"), env=ENV, cwd=tmp_path)
    assert boards.returncode == 0, boards.stderr
    board = (tmp_path / "boards" / "noise.md").read_text()
    assert "- **Metric selection:** trilinear \\(run " in board and "computed only bias, nrmse, psnr, ssim" in board
    bad = run_cli(*base, "--metric", "lpip", env=ENV, cwd=tmp_path)
    assert bad.returncode == 2 and "unknown metric 'lpip'" in bad.stderr


def test_estimate_prints_a_table_and_writes_nothing(tmp_path):
    config = _bench(tmp_path / "bench", 2)
    store = tmp_path / "r.sqlite"
    result = run_cli("evaluate", "--config", str(config), "--track", "noise", "--method", "trilinear", "--results",
                     str(store), "--estimate", env=ENV, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("| track | method | subjects | predict (s) |") and "metric lpips (s)" in lines[0]
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[:3] == ["noise", "trilinear", "2"] and all(float(c) >= 0 for c in cells[3:])
    assert "estimated" in result.stderr and not store.exists() and not (tmp_path / "predictions").exists()


def test_a_run_prints_its_estimate_beside_the_measured_time(tmp_path):
    config = _bench(tmp_path / "bench", 2)
    result = run_cli("evaluate", "--config", str(config), "--track", "noise", "--method", "trilinear", "--results",
                     str(tmp_path / "r.sqlite"), "--no-save-predictions", env=ENV, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "estimate: about" in result.stderr
    closing = result.stderr.strip().splitlines()[-1]
    assert closing.startswith("wall time") and "(estimated" in closing and "metric lpips" in closing and "est. " in closing


def test_scaling_extrapolates_a_power_law():
    from srbench.estimate import Scaling, probe_shapes

    fit = Scaling.fit([1000, 8000], [0.1, 0.4])  # t ∝ n^(2/3)
    assert abs(fit.exponent - 2 / 3) < 1e-9 and abs(fit.seconds(64000) - 1.6) < 1e-9
    assert Scaling.fit([1000, 8000], [0.001, 0.002]).exponent == 1.0  # below the timer's noise: linear
    assert probe_shapes((124, 160, 140), (2, 2, 2), (4, 2)) == [(30, 40, 34), (62, 80, 70)]
    assert probe_shapes((24, 24, 12), (2, 2, 1), (8, 4)) == [(12, 12, 6), (12, 12, 6)]
