"""ESRGAN-3D inference through its registered model: odd sizes, HR grid, (2, 2, 1), refusals."""

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
from srbench_esrgan3d.algorithm import build_generator
from srbench_esrgan3d.trainer import Esrgan3dTrainer

SETTINGS = InferenceSettings(patch_size=6, overlap=2, batch_size=2)
SMALL = {"channels": "4", "growth": "2", "blocks": "1"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    cfg = resolve_config(Esrgan3dTrainer(), preset="cpu", overrides=SMALL)
    torch.manual_seed(0)
    network = build_generator(cfg)
    with torch.no_grad():  # non-trivial weights, also in the zero-initialised last conv
        for p in network.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("esrgan3d") / "model.safetensors"
    save_checkpoint(path, method="esrgan3d", kind="model", config=config_to_dict(cfg), modules={"generator": network}, iteration=0)
    return path


def lr_volume(shape=(7, 9, 5)) -> Volume:
    affine = np.array([[0.0, 0.0, 2.2, -40.0], [1.8, 0.1, 0.0, 12.5], [0.0, 2.0, 0.0, -7.0], [0.0, 0.0, 0.0, 1.0]])
    data = torch.rand(shape, generator=torch.Generator().manual_seed(3)) * 300 + 50
    return Volume(data=data, affine=affine, source="odd")


def test_predict_on_odd_sized_volume_lands_on_the_hr_grid(checkpoint):
    predictor = get_plugin_manager().get("model", "esrgan3d").load(checkpoint=checkpoint)
    lr = lr_volume()
    sr = predictor.predict(lr, scale=(2, 2, 2), settings=SETTINGS)
    assert sr.shape == (14, 18, 10) and bool(torch.isfinite(sr.data).all())
    np.testing.assert_allclose(sr.affine, grid.sr_affine(lr.affine, (2, 2, 2)), atol=1e-12)
    hr_affine = lr.affine @ np.linalg.inv(grid.lr_affine(np.eye(4), (2, 2, 2)))
    np.testing.assert_allclose(sr.affine, hr_affine, atol=1e-9)
    assert torch.equal(sr.data, predictor.predict(lr, scale=(2, 2, 2), settings=SETTINGS).data)


def test_in_plane_scale_averages_phases_and_other_scales_are_refused(checkpoint):
    predictor = get_plugin_manager().get("model", "esrgan3d").load(checkpoint=checkpoint)
    lr = lr_volume()
    sr = predictor.predict(lr, scale=(2, 2, 1), settings=SETTINGS)
    assert sr.shape == (14, 18, 5)
    np.testing.assert_allclose(sr.affine, grid.sr_affine(lr.affine, (2, 2, 1)), atol=1e-12)
    with pytest.raises(ScaleNotSupported):
        predictor.predict(lr, scale=(3, 3, 3), settings=SETTINGS)


def test_load_needs_an_esrgan3d_checkpoint(tmp_path, checkpoint):
    model = get_plugin_manager().get("model", "esrgan3d")
    with pytest.raises(InputError, match="needs trained weights"):
        model.load(checkpoint=None)
    other = tmp_path / "other.safetensors"
    save_checkpoint(other, method="dcsrn-like", kind="model", config={}, modules={"generator": torch.nn.Linear(1, 1)}, iteration=0)
    with pytest.raises(InputError, match="not 'esrgan3d'"):
        model.load(checkpoint=other)
