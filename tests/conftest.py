"""Shared fixtures of the core tests (small real NIfTI files, the toy plugin) and the record
of which srbench hooks the session calls (tests/hook_calls.py)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from srbench.testing.synthetic import oblique_affine
from tests import hook_calls

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "srbench" / "demo" / "data"


def pytest_configure(config):
    hook_calls.install()


def pytest_unconfigure(config):
    hook_calls.uninstall()


def pytest_collection_modifyitems(config, items):
    """Run the test of which hooks the session called (tests/hook_calls.py) last."""
    final = [item for item in items if item.nodeid == hook_calls.FINAL_TEST]
    items[:] = [item for item in items if item.nodeid != hook_calls.FINAL_TEST] + final


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


@pytest.fixture
def write_nifti(tmp_path):
    """``write_nifti(name, array, affine=None, dtype=None) -> Path`` writing a real NIfTI file."""

    def write(name: str, array: np.ndarray, affine: np.ndarray | None = None, dtype=None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image = nib.Nifti1Image(array if dtype is None else array.astype(dtype), oblique_affine((1.0, 1.0, 1.0)) if affine is None else affine)
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
