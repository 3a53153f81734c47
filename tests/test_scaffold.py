"""`srbench new-plugin` end to end: generate, `pip install -e`, run its tests, check, train,
evaluate, leaderboard — through the real command line and real entry points.

The scaffold is installed into a throwaway virtual environment layered over the one
running the tests (a ``.pth`` file adds this environment's site-packages), so the
shared environment is never modified and nothing needs uninstalling.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nibabel as nib
import pytest

from srbench.testing.synthetic import oblique_affine, smooth_volume

NAME = "scaffoldcheck"
DISTRIBUTION = "srbench-mri-scaffoldcheck"


def _run(args: list[str], *, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRBENCH_", "PYTEST_"))}
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"{' '.join(result.args)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def overlay_environment(root: Path) -> Path:
    """A venv at ``root`` that also sees this interpreter's site-packages; returns its python."""
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=root.parent))
    python = root / "bin" / "python"
    purelib = Path(_ok(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root)).stdout.strip())
    parent = sysconfig.get_paths()["purelib"]
    (purelib / "_srbench_parent_environment.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of the overlay venv, plugin directory) with the scaffold installed editable."""
    root = tmp_path_factory.mktemp("scaffold")
    plugin = root / "plugin"
    result = _ok(_run([sys.executable, "-m", "srbench", "new-plugin", NAME, "--dir", str(plugin)], cwd=root))
    assert result.stdout.strip() == str(plugin)
    python = overlay_environment(root / "venv")
    _ok(_run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-build-isolation",
              "--no-index", "--disable-pip-version-check", "-q", "-e", str(plugin)], cwd=root))
    return python, plugin


def test_scaffold_layout(installed):
    _, plugin = installed
    files = sorted(str(p.relative_to(plugin)) for p in plugin.rglob("*") if p.is_file() and "egg-info" not in str(p))
    assert files == sorted([
        "README.md", "pyproject.toml",
        f"srbench_{NAME}/__init__.py", f"srbench_{NAME}/model.py", f"srbench_{NAME}/network.py",
        f"srbench_{NAME}/plugin.py", f"srbench_{NAME}/trainer.py",
        f"tests/test_{NAME}_conformance.py", f"tests/test_{NAME}_network.py",
    ])
    pyproject = (plugin / "pyproject.toml").read_text()
    assert f'name = "{DISTRIBUTION}"' in pyproject
    assert f'{NAME} = "srbench_{NAME}.plugin"' in pyproject
    assert not (plugin / "tests" / "__init__.py").exists()
    assert "${" not in "".join(p.read_text() for p in plugin.rglob("*.py"))


@pytest.mark.slow
def test_scaffold_tests_pass_after_pip_install(installed):
    python, plugin = installed
    result = _ok(_run([str(python), "-m", "pytest", "-v", "-p", "no:cacheprovider"], cwd=plugin))
    assert "failed" not in result.stdout and "20 passed" in result.stdout
    for case in ("model-scaffoldcheck-lr-only", "model-scaffoldcheck-receptive-field", "model-scaffoldcheck-checkpoint-roundtrip",
                 "trainer-scaffoldcheck-train-resume"):
        assert f"tests/test_scaffoldcheck_conformance.py::test_conformance[{case}] PASSED" in result.stdout


@pytest.mark.slow
def test_scaffold_passes_plugins_check_and_is_listed(installed):
    python, plugin = installed
    listing = _ok(_run([str(python), "-m", "srbench", "plugins"], cwd=plugin)).stdout
    row = next(line for line in listing.splitlines() if line.startswith(NAME))
    assert DISTRIBUTION in row and "0.1.0" in row and f"models: {NAME}; trainers: {NAME}" in row
    report = _ok(_run([str(python), "-m", "srbench", "plugins", "--check", NAME], cwd=plugin)).stdout
    assert "0 failed" in report and f"PASS  model          {NAME}" in report


def _mini_config(root: Path) -> Path:
    for folder, seeds in (("train", (1, 2)), ("test", (3,))):
        (root / folder).mkdir(parents=True)
        for seed in seeds:
            image = nib.Nifti1Image(smooth_volume((24, 22, 20), seed=seed).numpy(), oblique_affine((1.0, 1.0, 1.0)))
            nib.save(image, str(root / folder / f"sub{seed}.nii.gz"))
    config = root / "datasets.toml"
    config.write_text(
        '[datasets.mini-train]\npaths = ["train/*.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n\n'
        '[datasets.mini-test]\npaths = ["test/*.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n\n'
        '[tracks.mini]\nkind = "insample"\ntrain = "mini-train"\ntest = "mini-test"\n'
    )
    return config


@pytest.mark.slow
def test_scaffold_trains_evaluates_and_reaches_the_leaderboard(installed, tmp_path):
    python, _ = installed
    config = _mini_config(tmp_path / "data")
    srbench = [str(python), "-m", "srbench"]
    run_dir = tmp_path / "runs" / f"{NAME}-cpu-mini"
    trained = _ok(_run([*srbench, "train", NAME, "--config", str(config), "--track", "mini", "--iterations", "2",
                        "--patch-size", "16", "--run-dir", str(run_dir), "--no-progress", "--device", "cpu"], cwd=tmp_path))
    model = Path(trained.stdout.strip().splitlines()[-1])
    assert model == run_dir / "model.safetensors" and model.is_file()
    results = tmp_path / "results.sqlite"
    evaluated = _ok(_run([*srbench, "evaluate", "--config", str(config), "--track", "mini", "--method", NAME,
                          "--checkpoint", str(model), "--results", str(results), "--format", "json",
                          "--device", "cpu", "--no-save-predictions"], cwd=tmp_path)).stdout
    assert f'"method": "{NAME}"' in evaluated and '"subject": "sub3"' in evaluated
    out = tmp_path / "leaderboards"
    _ok(_run([*srbench, "leaderboard", "--results", str(results), "--out", str(out)], cwd=tmp_path))
    assert NAME in (out / "mini.md").read_text()
