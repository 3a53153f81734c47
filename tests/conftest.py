"""Shared fixtures of the core tests: small real NIfTI files and the real command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "srbench" / "demo" / "data"


#: datasets.toml tables of the synthetic benchmarks the CLI tests build: a training volume
#: ``data/train.nii.gz`` and test subjects ``data/s*.nii.gz``
TRAIN_TEST_DATASETS = """
[datasets.train]
paths = ["data/train.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[datasets.test]
paths = ["data/s*.nii.gz"]
contrast = "T1w"
anatomy = "brain"
"""


def smooth_volume(shape: tuple[int, int, int], *, seed: int = 0) -> np.ndarray:
    """A smooth random positive volume (sum of a few Gaussian blobs), float32."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    out = np.zeros(shape, dtype=np.float64)
    for _ in range(6):
        centre = rng.uniform(0.2, 0.8, 3)
        width = rng.uniform(0.1, 0.3)
        out += rng.uniform(50, 200) * np.exp(-sum((g - c) ** 2 for g, c in zip(grids, centre)) / (2 * width**2))
    return out.astype(np.float32)


def oblique_affine(spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """A rotated, translated voxel→world affine with the given voxel sizes (mm)."""
    angle = 0.3
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag(spacing)
    affine[:3, 3] = [-40.5, 12.25, 7.0]
    return affine


@pytest.fixture
def write_nifti(tmp_path):
    """``write_nifti(name, array, affine=None, dtype=None) -> Path`` writing a real NIfTI file."""

    def write(name: str, array: np.ndarray, affine: np.ndarray | None = None, dtype=None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image = nib.Nifti1Image(array if dtype is None else array.astype(dtype), oblique_affine() if affine is None else affine)
        nib.save(image, str(path))
        return path

    return write


@pytest.fixture
def toy_plugin(monkeypatch):
    """Register the toy trainer and model (tests/training_toy.py) in the process-wide plugin manager."""
    from srbench.plugins import PluginInfo, Registered, get_plugin_manager
    from tests.training_toy import TOY_MODEL, ToyTrainer

    pm = get_plugin_manager()
    info = PluginInfo(name="toy", distribution="srbench-test-toy", version="0")
    monkeypatch.setitem(pm.registries["trainer"], "toy", Registered(obj=ToyTrainer(), plugin=info))
    monkeypatch.setitem(pm.registries["model"], "toy", Registered(obj=TOY_MODEL, plugin=info))
    return pm


@pytest.fixture
def srbench_cli():
    """Run the installed ``srbench`` command line in a subprocess (real entry points)."""

    def run(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
        import os

        full_env = dict(os.environ)
        full_env.update(env or {})
        result = subprocess.run(
            [sys.executable, "-m", "srbench", *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=600
        )
        if check and result.returncode != 0:
            raise AssertionError(f"srbench {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    return run
