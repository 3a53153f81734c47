"""DCSRN inference through its registered model: (2, 2, 1) and refusals (odd sizes, the HR grid
and determinism are checked by the conformance kit, test_dcsrn_conformance.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srbench import grid
from srbench.errors import InputError, ScaleNotSupported
from srbench.interfaces import InferenceSettings
from srbench.plugins import get_plugin_manager
from srbench.testing.synthetic import lr_volume
from srbench.training.checkpoint import save_checkpoint
from srbench.training.config import config_to_dict, resolve_config
from srbench_dcsrn.trainer import TRAINER, build_network

SETTINGS = InferenceSettings(patch_size=6, overlap=2, batch_size=2)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    cfg = resolve_config(TRAINER, preset="cpu", overrides={"first_channels": "4", "growth": "2", "units": "2"})
    torch.manual_seed(0)
    network = build_network(cfg)
    with torch.no_grad():  # non-trivial weights and BatchNorm statistics
        for p in network.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for unit in network.block.units:
            unit.norm.running_mean.uniform_(-0.1, 0.1)
            unit.norm.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("dcsrn") / "model.safetensors"
    save_checkpoint(path, method="dcsrn", kind="model", config=config_to_dict(cfg), modules={"generator": network}, iteration=0)
    return path


def test_in_plane_scale_averages_phases_and_other_scales_are_refused(checkpoint):
    predictor = get_plugin_manager().get("model", "dcsrn").load(checkpoint=checkpoint)
    lr = lr_volume((7, 9, 5), seed=3)
    sr = predictor.predict(lr, scale=(2, 2, 1), settings=SETTINGS)
    assert sr.shape == (14, 18, 5)
    np.testing.assert_allclose(sr.affine, grid.sr_affine(lr.affine, (2, 2, 1)), atol=1e-12)
    with pytest.raises(ScaleNotSupported):
        predictor.predict(lr, scale=(2.5, 2.5, 2.5), settings=SETTINGS)


def test_load_needs_a_dcsrn_checkpoint(tmp_path, checkpoint):
    model = get_plugin_manager().get("model", "dcsrn")
    with pytest.raises(InputError, match="needs trained weights"):
        model.load(checkpoint=None)
    with pytest.raises(InputError, match="not found"):
        model.load(checkpoint=tmp_path / "missing.safetensors")
