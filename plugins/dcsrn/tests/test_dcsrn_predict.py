"""DCSRN inference through its registered model: grid, odd sizes, (2, 2, 1), determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srbench import grid
from srbench.errors import InputError, ScaleNotSupported
from srbench.interfaces import InferenceSettings, Volume
from srbench.plugins import get_plugin_manager
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


def lr_volume(shape=(7, 9, 5)) -> Volume:
    affine = np.array([[0.0, 0.0, 2.2, -40.0], [1.8, 0.1, 0.0, 12.5], [0.0, 2.0, 0.0, -7.0], [0.0, 0.0, 0.0, 1.0]])
    data = torch.rand(shape, generator=torch.Generator().manual_seed(3)) * 300 + 50
    return Volume(data=data, affine=affine, source="odd")


def test_predict_on_odd_sized_volume_lands_on_the_hr_grid(checkpoint):
    predictor = get_plugin_manager().get("model", "dcsrn").load(checkpoint=checkpoint)
    lr = lr_volume()
    sr = predictor.predict(lr, scale=(2, 2, 2), settings=SETTINGS)
    assert sr.shape == (14, 18, 10)
    np.testing.assert_allclose(sr.affine, grid.sr_affine(lr.affine, (2, 2, 2)), atol=1e-12)
    hr_affine = lr.affine @ np.linalg.inv(grid.lr_affine(np.eye(4), (2, 2, 2)))
    np.testing.assert_allclose(sr.affine, hr_affine, atol=1e-9)
    again = predictor.predict(lr, scale=(2, 2, 2), settings=SETTINGS)
    assert torch.equal(sr.data, again.data)  # eval mode: BatchNorm uses its running statistics


def test_in_plane_scale_averages_phases_and_other_scales_are_refused(checkpoint):
    predictor = get_plugin_manager().get("model", "dcsrn").load(checkpoint=checkpoint)
    lr = lr_volume()
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
