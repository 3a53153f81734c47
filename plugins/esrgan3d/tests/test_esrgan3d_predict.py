"""ESRGAN-3D inference through its registered model: (2, 2, 1) and refusals (odd sizes, the HR
grid and determinism are checked by the conformance kit, test_esrgan3d_conformance.py)."""

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


def test_in_plane_scale_averages_phases_and_other_scales_are_refused(checkpoint):
    predictor = get_plugin_manager().get("model", "esrgan3d").load(checkpoint=checkpoint)
    lr = lr_volume((7, 9, 5), seed=3)
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
