"""PSNR, SSIM and NRMSE against scikit-image, the intensity convention and the metric plugins."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from srbench.errors import InputError, SrbenchRuntimeError
from srbench.metrics.convention import CONVENTION_NAME, scale_pair
from srbench.metrics.nrmse import nrmse
from srbench.metrics.psnr import psnr
from srbench.metrics.ssim import gaussian_taps, ssim
from srbench.plugins import get_plugin_manager
from srbench.testing.synthetic import smooth_volume

from .conftest import DEMO_DATA

#: Tighter than the 1e-4 the benchmark promises: float32 inputs agree to ~1e-7 here.
TOLERANCE = 1e-5


def skimage_metrics(sr: torch.Tensor, hr: torch.Tensor) -> dict[str, float]:
    a, b = hr.numpy(), sr.numpy()
    return {
        "psnr": peak_signal_noise_ratio(a, b, data_range=1),
        "ssim": structural_similarity(
            a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1
        ),
        "nrmse": normalized_root_mse(a, b),
    }


def ours(sr: torch.Tensor, hr: torch.Tensor, **ssim_options) -> dict[str, float]:
    return {"psnr": psnr(sr, hr), "ssim": ssim(sr, hr, **ssim_options), "nrmse": nrmse(sr, hr)}


def noisy_pair(shape: tuple[int, int, int], *, seed: int, noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    hr = smooth_volume(shape, seed=seed)
    sr = hr + noise * float(hr.max()) * torch.randn(shape, generator=generator)
    return scale_pair(sr, hr)


@pytest.mark.parametrize(
    ("shape", "noise"),
    [((24, 24, 24), 0.05), ((11, 11, 11), 0.2), ((23, 17, 12), 0.01), ((12, 20, 24), 0.5)],
)
def test_synthetic_pairs_match_scikit_image(shape, noise):
    sr, hr = noisy_pair(shape, seed=sum(shape), noise=noise)
    expected = skimage_metrics(sr, hr)
    got = ours(sr, hr)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=TOLERANCE), name


@pytest.mark.parametrize("slab", [1, 3, 7, 11, 64])
def test_ssim_slab_size_does_not_change_the_value(slab):
    sr, hr = noisy_pair((22, 13, 15), seed=3, noise=0.1)
    expected = skimage_metrics(sr, hr)["ssim"]
    assert ssim(sr, hr, slab=slab) == pytest.approx(expected, abs=TOLERANCE)


def test_real_brain_crop_degraded_and_interpolated_matches_scikit_image():
    path = DEMO_DATA / "stroke_T1w.nii.gz"
    if not path.exists():
        pytest.skip(f"demo volume {path.name} is not vendored yet")
    volume = np.asarray(nib.load(str(path)).dataobj, dtype=np.float32)
    centre = [n // 2 for n in volume.shape]
    crop = volume[tuple(slice(c - 12, c + 12) for c in centre)]
    hr = torch.from_numpy(np.ascontiguousarray(crop))
    lr = F.avg_pool3d(hr[None, None], 2)
    sr = F.interpolate(lr, scale_factor=2, mode="trilinear", align_corners=False)[0, 0]
    sr01, hr01 = scale_pair(sr, hr)
    expected = skimage_metrics(sr01, hr01)
    got = ours(sr01, hr01)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=TOLERANCE), name
    assert 15.0 < got["psnr"] < 60.0 and 0.3 < got["ssim"] < 1.0 and 0.0 < got["nrmse"] < 1.0


def test_gaussian_window_is_scipys_eleven_taps():
    taps = gaussian_taps()
    assert len(taps) == 11
    x = np.arange(-5, 6)
    expected = np.exp(-0.5 * (x / 1.5) ** 2)
    np.testing.assert_allclose(taps, expected / expected.sum(), rtol=1e-12)


def test_identical_volumes():
    sr, hr = noisy_pair((16, 16, 16), seed=1, noise=0.1)
    assert psnr(hr, hr.clone()) == math.inf
    assert ssim(hr, hr.clone()) == pytest.approx(1.0, abs=1e-6)
    assert nrmse(hr, hr.clone()) == 0.0


def test_constant_volumes_give_no_nan():
    constant = torch.full((12, 12, 12), 7.0)
    other = torch.full((12, 12, 12), 9.0)
    sr01, hr01 = scale_pair(other, constant)
    assert torch.all(hr01 == 0) and torch.all(sr01 == 1)
    for value in ours(sr01, hr01).values():
        assert not math.isnan(value)
    same_sr, same_hr = scale_pair(constant, constant)
    assert ours(same_sr, same_hr) == {"psnr": math.inf, "ssim": pytest.approx(1.0), "nrmse": 0.0}
    assert nrmse(sr01, hr01) == math.inf
    assert psnr(sr01, hr01) == pytest.approx(0.0)


def test_ssim_refuses_volumes_smaller_than_the_window():
    small = torch.rand(10, 20, 20)
    with pytest.raises(InputError, match="at least 11 voxels"):
        ssim(small, small)


def test_convention_maps_by_hr_range_and_clips_sr():
    hr = torch.tensor([100.0, 150.0, 300.0]).reshape(1, 1, 3)
    sr = torch.tensor([50.0, 200.0, 500.0]).reshape(1, 1, 3)
    sr01, hr01 = scale_pair(sr, hr)
    assert hr01.flatten().tolist() == pytest.approx([0.0, 0.25, 1.0])
    assert sr01.flatten().tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert sr01.dtype == hr01.dtype == torch.float32
    assert CONVENTION_NAME == "hr-minmax-01-mask"


def test_convention_refuses_non_finite_and_mismatched_volumes():
    hr = torch.rand(4, 4, 4)
    bad = hr.clone()
    bad[1, 2, 3] = float("nan")
    with pytest.raises(SrbenchRuntimeError, match="SR volume contains NaN"):
        scale_pair(bad, hr)
    with pytest.raises(SrbenchRuntimeError, match="different shapes"):
        scale_pair(torch.rand(4, 4, 5), hr)


def test_metric_plugins_are_registered_through_the_entry_point():
    manager = get_plugin_manager(reload=True)
    assert {"psnr", "ssim", "nrmse", "lpips"} <= set(manager.names("metric"))
    assert manager.owner("metric", "psnr").distribution == "srbench-mri"
    sr, hr = noisy_pair((16, 16, 16), seed=5, noise=0.05)
    expected = skimage_metrics(sr, hr)
    for name, higher_is_better in (("psnr", True), ("ssim", True), ("nrmse", False)):
        metric = manager.get("metric", name)
        assert metric.masked is True
        assert dict(metric.outputs)[name] is higher_is_better
        assert dict(metric.outputs)[f"{name}_volume"] is higher_is_better
        whole = metric.compute(sr, hr, affine=np.eye(4), mask=torch.ones(sr.shape, dtype=torch.bool))
        assert whole[name] == pytest.approx(expected[name], abs=TOLERANCE)
        assert whole[f"{name}_volume"] == pytest.approx(expected[name], abs=TOLERANCE)
    assert dict(manager.get("metric", "nrmse").outputs)["nrmse_range"] is False
    assert manager.get("metric", "nrmse").symmetric is False
    assert set(manager.get("metric", "lpips").outputs) == {"lpips", "lpips_sagittal", "lpips_coronal", "lpips_axial"}
