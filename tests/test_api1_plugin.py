"""A plugin frozen at hook API 1.0 as documented before 2026-11-30 (tests/data/api1_plugin:
the scaffold of that time, unchanged) still works through the adapter of srbench/compat.py:
it is discovered through its entry point, passes the conformance kit, trains and reaches a
leaderboard row, and every command that loads it says once how to upgrade."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fake_distributions import run_srbench

FROZEN = REPO / "tests" / "data" / "api1_plugin" / "srbench_pk_oldapi"
NOTICE = "note: method 'oldapi' uses srbench.training.checkpoint.CheckpointModel (hook API 1.0)"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The frozen plugin installed as distribution srbench-mri-oldapi (entry point oldapi)."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(FROZEN, site / FROZEN.name)
    info = site / "srbench_mri_oldapi-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: srbench-mri-oldapi\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[srbench]\noldapi = srbench_pk_oldapi.plugin\n")
    return site


def test_the_api1_plugin_passes_the_conformance_kit(site, tmp_path):
    result = run_srbench(site, "plugins", "--check", "oldapi", cwd=tmp_path, SRBENCH_STRICT_PLUGINS="1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stderr.count(NOTICE) == 1


@pytest.mark.slow
def test_the_api1_plugin_trains_and_reaches_a_leaderboard_row(site, tmp_path):
    trained = run_srbench(site, "train", "oldapi", "--set", "iterations=4", "--set", "checkpoint_every=2", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    evaluated = run_srbench(site, "evaluate", "--track", "insample", "--method", "oldapi", "--method", "trilinear",
                            "--skip-metric", "lpips", "--format", "json", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert '"method": "oldapi"' in evaluated.stdout and '"status": "ok"' in evaluated.stdout
    boards = run_srbench(site, "leaderboard", cwd=tmp_path)
    assert boards.returncode == 0, boards.stderr[-3000:]
    assert "| oldapi | 1 |" in (tmp_path / "results" / "leaderboards" / "insample.md").read_text()
