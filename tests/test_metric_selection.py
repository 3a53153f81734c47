"""``evaluate --metric/--skip-metric``: only the chosen metrics are computed, the choice is
recorded with the run (its rows are their own run), and the board says which rows lack a metric."""

from __future__ import annotations

import json

import pytest

from srbench.evaluation import select_metrics
from srbench.errors import InputError
from srbench.plugins import get_plugin_manager
from srbench.testing.cli import run_cli
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
