"""Eight broken variants of a tiny learned method, installed as third-party plugins through
real entry points: `srbench plugins --check NAME` and the conformance test module that
`srbench new-plugin` generates must each catch every one of them, and pass the good one."""

from __future__ import annotations

import re
import string
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from tests import broken_variants
from tests.fake_distributions import subprocess_env

#: every variant through a fresh `srbench plugins --check` and pytest process
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("broken-site")
    broken_variants.install(folder)
    return folder


def run(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd,
                          env=subprocess_env(site, OMP_NUM_THREADS="1"), timeout=300)


def failed_ids(report: str) -> set[str]:
    """The case ids on the last line of a `srbench plugins --check` report (``failed: a, b``)."""
    last = report.rstrip().splitlines()[-1]
    return set(last.removeprefix("failed: ").split(", ")) if last.startswith("failed: ") else set()


def test_the_good_learned_plugin_passes_the_quick_and_the_full_check(site, tmp_path):
    result = run(site, "srbench", "plugins", "--check", broken_variants.plugin_name("goodlearned"), "--full", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^17 passed, 0 failed, 0 skipped", result.stdout.splitlines()[-1])


@pytest.mark.parametrize("variant", sorted(broken_variants.VARIANTS))
def test_plugins_check_catches_the_variant(site, tmp_path, variant):
    result = run(site, "srbench", "plugins", "--check", broken_variants.plugin_name(variant), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken_variants.expected_failure(variant) in failed_ids(result.stdout), result.stdout
    assert not list(tmp_path.rglob("*.marker"))  # the pickle variant's payload never ran in the working folder


def test_generated_conformance_tests_catch_every_variant(site, tmp_path):
    template = string.Template(files("srbench.scaffold").joinpath("templates", "test_conformance.py.tmpl").read_text())
    variants = [None, *sorted(broken_variants.VARIANTS)]
    for variant in variants:
        name = broken_variants.plugin_name(variant or "goodlearned")
        (tmp_path / f"test_{name}_conformance.py").write_text(
            template.substitute(distribution=broken_variants.distribution(variant or "goodlearned"))
        )
    result = run(site, "pytest", "-p", "no:cacheprovider", "-q", "-rf", "-p", "no:randomly", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = set(re.findall(r"^FAILED test_(pk\w+)_conformance\.py::test_conformance\[([\w-]+)\]", result.stdout, re.M))
    for variant in variants[1:]:
        name = broken_variants.plugin_name(variant)
        assert (name, broken_variants.expected_failure(variant)) in failed, (variant, sorted(failed))
    assert not [case for plugin, case in failed if plugin == broken_variants.plugin_name("goodlearned")]
