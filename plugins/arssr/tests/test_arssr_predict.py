"""ArSSR inference: any per-axis scale lands on the right grid; tiling is seamless; the CLI."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from srbench import grid
from srbench.errors import InputError
from srbench.interfaces import InferenceSettings
from srbench.io.nifti import load_volume, save_volume
from srbench.plugins import get_plugin_manager
from srbench.cli.runner import run_cli
from srbench.testing.synthetic import lr_volume
from srbench.training.checkpoint import save_checkpoint
from srbench.training.config import config_to_dict, resolve_config
from srbench_arssr.predictor import ArSSRPredictor
from srbench_arssr.trainer import TRAINER, build_network

SMALL = {"feature_dim": "4", "encoder_channels": "4", "encoder_depth": "1", "decoder_width": "8"}
SETTINGS = InferenceSettings(patch_size=6, overlap=2, batch_size=2)


def network(*, perturb: bool = True, **changes):
    cfg = resolve_config(TRAINER, preset="cpu", overrides={**SMALL, **changes})
    torch.manual_seed(0)
    net = build_network(cfg)
    if perturb:
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.1 * torch.randn_like(p))
    return cfg, net


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    cfg, net = network()
    path = tmp_path_factory.mktemp("arssr") / "model.safetensors"
    save_checkpoint(path, method="arssr", kind="model", config=config_to_dict(cfg), modules={"network": net}, iteration=0)
    return path


@pytest.mark.parametrize("scale", [(2, 2, 2), (2.5, 2.5, 2.5), (1.5, 1.5, 1.5), (2, 2, 1), (2.5, 1.5, 3.2)])
def test_any_scale_gives_the_sr_grid_shape_and_affine(checkpoint, scale):
    predictor = get_plugin_manager().get("model", "arssr").load(checkpoint=checkpoint)
    lr = lr_volume((7, 9, 5), seed=3)
    sr = predictor.predict(lr, scale=scale, settings=SETTINGS)
    expected_shape = tuple(int(round(n * s)) for n, s in zip(lr.shape, scale))
    assert sr.shape == expected_shape == grid.sr_shape(lr.shape, scale)
    effective = grid.effective_scale(lr.shape, scale)
    np.testing.assert_allclose(sr.affine, grid.sr_affine(lr.affine, effective), atol=1e-12)
    # SR voxel 0's centre sits (s − 1)/(2s) LR voxels before LR voxel 0's centre (not on it)
    first = sr.affine @ np.array([0.0, 0.0, 0.0, 1.0])
    offset = np.linalg.solve(lr.affine, first)[:3]
    np.testing.assert_allclose(offset, [(0.5 / s - 0.5) for s in effective], atol=1e-12)
    assert bool(torch.isfinite(sr.data).all())
    assert torch.equal(sr.data, predictor.predict(lr, scale=scale, settings=SETTINGS).data)  # deterministic


def test_untrained_residual_model_matches_the_trilinear_baseline_at_non_integer_scale():
    _, net = network(perturb=False)
    lr = lr_volume((7, 9, 5), seed=3)
    sr = ArSSRPredictor(net).predict(lr, scale=(2.5, 1.5, 3.0), settings=SETTINGS)
    baseline = get_plugin_manager().get("model", "trilinear").load(checkpoint=None).predict(lr, scale=(2.5, 1.5, 3.0), settings=SETTINGS)
    np.testing.assert_allclose(sr.affine, baseline.affine, atol=1e-12)
    torch.testing.assert_close(sr.data, baseline.data, atol=1e-3, rtol=1e-5)


@pytest.mark.parametrize("coordinates", ["global", "local"])
def test_tiled_inference_equals_whole_volume_inference_when_the_margin_covers_the_receptive_field(coordinates):
    _, net = network(coordinates=coordinates, residual="false")
    lr = lr_volume((11, 9, 7), seed=3)
    predictor = ArSSRPredictor(net, query_chunk=100)
    whole = predictor.predict(lr, scale=(2.5, 2.0, 1.5), settings=InferenceSettings(patch_size=64, overlap=0))
    # encoder: 8 convolutions 3³ → receptive radius 8 LR voxels, +1 for the trilinear sampling
    tiled = predictor.predict(lr, scale=(2.5, 2.0, 1.5), settings=InferenceSettings(patch_size=24, overlap=20))
    torch.testing.assert_close(tiled.data, whole.data, atol=1e-4, rtol=1e-5)
    direct_points = torch.stack(torch.meshgrid(*[(torch.arange(o) + 0.5) / (o / n) - 0.5 for o, n in zip(whole.shape, lr.shape)], indexing="ij"), dim=-1)
    lo, hi = float(lr.data.min()), float(torch.quantile(lr.data.flatten(), 0.999))
    with torch.no_grad():
        x = ((lr.data - lo) / (hi - lo))[None, None]
        direct = net(x, direct_points.reshape(1, -1, 3).float()).reshape(whole.shape) * (hi - lo) + lo
    torch.testing.assert_close(whole.data, direct, atol=1e-3, rtol=1e-4)


def test_planned_tiles_probe_the_encoder_and_equal_whole_volume_inference():
    _, net = network(coordinates="global")
    predictor = ArSSRPredictor(net, query_chunk=100)
    # encoder: 8 convolutions 3³ → receptive radius 8 LR voxels, +1 for the trilinear sampling
    assert predictor.context_need().radius == (9, 9, 9)
    lr = lr_volume((8, 7, 40), seed=4)
    whole = predictor.predict(lr, scale=(2.0, 2.0, 2.0), settings=InferenceSettings())
    assert float(whole.data.std()) > 0.1 * float(lr.data.std())
    assert predictor.inference_plan(lr.shape, scale=(2, 2, 2), settings=InferenceSettings()).tiles == 1
    plan = predictor.inference_plan(lr.shape, scale=(2, 2, 2), settings=InferenceSettings(memory_budget=2**60))
    budget = int(plan.fixed_bytes + 0.8 * plan.voxel_bytes * 8 * 7 * 40)
    tiled_settings = InferenceSettings(memory_budget=budget, halo=9)
    tiled_plan = predictor.inference_plan(lr.shape, scale=(2, 2, 2), settings=tiled_settings)
    assert tiled_plan.tiles > 1 and tiled_plan.exact
    tiled = predictor.predict(lr, scale=(2.0, 2.0, 2.0), settings=tiled_settings)
    assert float((tiled.data - whole.data).abs().max()) <= 1e-5 * float(whole.data.max() - whole.data.min())
    short = predictor.predict(lr, scale=(2.0, 2.0, 2.0), settings=InferenceSettings(memory_budget=budget, halo=1))
    assert float((short.data - whole.data).abs().max()) > 1e-4 * float(whole.data.max() - whole.data.min())


def test_predict_command_writes_a_non_integer_scale_volume(tmp_path, checkpoint):
    lr = lr_volume((7, 9, 5), seed=3)
    source = tmp_path / "lr.nii.gz"
    save_volume(lr, source)
    output = tmp_path / "sr.nii.gz"
    run_cli("predict", "arssr", "--scale", "2.5", "--input", str(source), "--output", str(output),
            "--checkpoint", str(checkpoint), "--patch-size", "6", "--overlap", "2", "--device", "cpu", check=True)
    written = load_volume(output)
    assert written.shape == (18, 22, 12)
    np.testing.assert_allclose(written.affine, grid.sr_affine(load_volume(source).affine, grid.effective_scale((7, 9, 5), (2.5,) * 3)), atol=1e-5)
    zooms = [float(np.linalg.norm(lr.affine[:3, i])) * lr.shape[i] / written.shape[i] for i in range(3)]
    assert nib.load(str(output)).header.get_zooms()[:3] == pytest.approx(zooms, abs=1e-4)


def test_load_needs_an_arssr_checkpoint(tmp_path):
    model = get_plugin_manager().get("model", "arssr")
    with pytest.raises(InputError, match="needs trained weights"):
        model.load(checkpoint=None)
    other = tmp_path / "model.safetensors"
    save_checkpoint(other, method="dcsrn", kind="model", config={}, modules={"network": torch.nn.Linear(1, 1)}, iteration=0)
    with pytest.raises(InputError, match="trained by method 'dcsrn'"):
        model.load(checkpoint=other)
