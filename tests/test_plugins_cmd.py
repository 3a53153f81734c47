"""`srbench plugins [--check]` and the pytest side of the conformance kit, on fake
distributions installed through real entry points (see tests/fake_distributions.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fake_distributions import good_model_source, make_distribution, subprocess_env

SHIFTED = good_model_source("pkshifted") + textwrap.dedent('''
    class ShiftedPredictor(TrilinearPredictor):
        """Forgets to move the affine to the SR grid."""

        def predict(self, lr, *, scale, settings):
            out = super().predict(lr, scale=scale, settings=settings)
            return out.with_data(out.data, affine=lr.affine)

    Model.load = lambda self, *, checkpoint=None, device="cpu": ShiftedPredictor()
''')


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cmd-site")
    make_distribution(folder, "srbench-mri-pkgood", modules={"srbench_pk_good": good_model_source("pkgood")},
                      entry_points={"pkgood": "srbench_pk_good"}, version="1.2.3")
    make_distribution(folder, "srbench-mri-pkshifted", modules={"srbench_pk_shifted": SHIFTED},
                      entry_points={"pkshifted": "srbench_pk_shifted"})
    return folder


def run(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=subprocess_env(site),
                          cwd=cwd, timeout=300)


def test_plugins_lists_distribution_version_and_registrations(site):
    result = run(site, "srbench", "plugins", "--format", "json")
    assert result.returncode == 0, result.stderr
    import json

    rows = {row["plugin"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["pkgood"] == {"plugin": "pkgood", "distribution": "srbench-mri-pkgood", "version": "1.2.3",
                              "status": "ok", "problem": None, "registers": {"model": ["pkgood"]}}
    assert rows["trilinear"]["distribution"] == "srbench-mri"


def test_check_passes_a_good_plugin(site):
    result = run(site, "srbench", "plugins", "--check", "srbench-mri-pkgood")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PASS  plugin         pkgood           loads")
    assert any(line.startswith("PASS  model          pkgood           predict-grid") for line in lines)
    assert lines[-1].startswith("8 passed, 0 failed, 2 skipped in ")


def test_check_fails_with_a_readable_report(site):
    result = run(site, "srbench", "plugins", "--check", "pkshifted")
    assert result.returncode == 1
    report = result.stdout
    assert "FAIL  model          pkshifted        predict-grid" in report
    assert "model 'pkshifted': LR (8, 8, 8) (even) at scale (2.0, 2.0, 2.0) gave affine" in report
    assert "expected srbench.grid.sr_affine(lr.affine, scale) =" in report
    assert report.rstrip().endswith("failed: model-pkshifted-predict-grid")


def test_check_usage_errors(site):
    unknown = run(site, "srbench", "plugins", "--check", "pkgod")
    assert unknown.returncode == 2 and "did you mean 'pkgood'?" in unknown.stderr
    full = run(site, "srbench", "plugins", "--full")
    assert full.returncode == 2 and "--full: only valid with --check" in full.stderr


def test_pytest_plugin_and_test_module_helper(site, tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nsrbench_distributions = srbench-mri-pkshifted\n")
    (tmp_path / "test_good_conformance.py").write_text(
        "from srbench.testing import conformance_tests\n\ntest_conformance = conformance_tests('srbench-mri-pkgood')\n"
    )
    result = run(site, "pytest", "-p", "srbench.testing", "-p", "no:cacheprovider", "-q", "-rfs", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    out = result.stdout
    assert "FAILED srbench-conformance::srbench-mri-pkshifted::model-pkshifted-predict-grid" in out
    assert "gave affine" in out
    assert "test_good_conformance.py::test_conformance[model-pkgood-predict-grid]" not in out  # passed: not reported
    assert "1 failed, 15 passed, 4 skipped" in out
    only = run(site, "pytest", "-p", "srbench.testing", "-p", "no:cacheprovider", "-q", "-m", "srbench_conformance",
               "--srbench-distribution", "srbench-mri-pkgood", cwd=tmp_path)
    assert only.returncode == 0 and "8 passed, 2 skipped, 10 deselected" in only.stdout, only.stdout
