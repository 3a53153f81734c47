"""The evaluation mask: headline metrics measure the method inside the HR foreground, never
the background (srbench/metrics/mask.py, srbench.measurement.compute_metrics).

Tolerance of the LR-only background post-process (the audit's method: a method's SR set
to 0 wherever trilinear(LR) is below 0.1 × the LR's 99.9th percentile), stated in
README.md (Evaluation mask) and derived as follows:

- Outside the mask a post-process changes nothing, exactly: the prediction is replaced by
  the reference there before any windowed metric and excluded from every mean
  (:func:`test_nothing_outside_the_mask_changes_a_headline_value`, to float rounding).
- Inside the mask it changes only the voxels the LR calls dark while the HR reference
  does not: the edge band of the object, 0.3-0.6 % of the mask on the committed tracks
  (benchmarks/background_invariance.py, every shipped method). There it replaces the
  method's own tissue values by 0, which is the method's output and rightly scored; it
  can only lose PSNR there (it moves values away from an HR above the threshold).
- The tolerance is therefore one tenth of what the same post-process gains over the
  whole volume on ``acquisition-noise`` (+1.64 dB PSNR, +0.41 SSIM, -0.024 NRMSE), and for
  LPIPS a tenth of the smallest learned-method gain over trilinear on the committed
  in-sample board: 0.2 dB, 0.005 SSIM, 0.003 NRMSE (Euclidean, and range), 0.003 LPIPS.
  A change within it cannot reverse a claim a board makes, since a board claims only
  differences a Holm-corrected paired test supports.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from srbench.metrics import lpips as srlpips
from srbench.metrics.mask import evaluation_mask, mask_fraction, outside_replaced
from srbench.metrics.ssim import ssim
from tests.fake_distributions import forget_fake_modules, make_distribution

REPO = Path(__file__).resolve().parents[1]
HEADLINE = ("psnr", "ssim", "nrmse", "nrmse_range", "lpips", "lpips_sagittal", "lpips_coronal", "lpips_axial", "bias")
TOLERANCE = {"psnr": 0.2, "ssim": 0.005, "nrmse": 0.003, "nrmse_range": 0.003, "lpips": 0.003}

PLAIN_METRIC = """
    from types import MappingProxyType
    from srbench import hookimpl

    class WholeVolumeMean:
        name = "pkwholemean"
        outputs = MappingProxyType({"pkwholemean": False})
        symmetric = False

        def compute(self, sr, hr, *, affine):
            return {"pkwholemean": float((sr - hr).abs().mean())}

    @hookimpl
    def register_metrics():
        return [WholeVolumeMean()]
"""

ZEROED_TRILINEAR = """
    from srbench import hookimpl
    from srbench.builtins.trilinear import Trilinear
    from srbench.testing.background import LRBackgroundZeroed

    @hookimpl
    def register_models():
        return [LRBackgroundZeroed(Trilinear(), name="trilinear-lr-background")]
"""


@pytest.fixture(scope="module")
def plugin_manager(tmp_path_factory):
    """A plugin manager that discovered, through entry points, a whole-volume metric that
    knows nothing of masks and the audit's post-processed trilinear."""
    site = tmp_path_factory.mktemp("mask-site")
    make_distribution(site, "srbench-mri-pkwholemean", modules={"srbench_pk_wholemean": PLAIN_METRIC},
                      entry_points={"pkwholemean": "srbench_pk_wholemean"})
    make_distribution(site, "srbench-mri-pkzeroed", modules={"srbench_pk_zeroed": ZEROED_TRILINEAR},
                      entry_points={"pkzeroed": "srbench_pk_zeroed"})
    import sys

    sys.path.insert(0, str(site))
    try:
        from srbench.plugins import PluginManager

        yield PluginManager()
    finally:
        sys.path.remove(str(site))
        forget_fake_modules()


@pytest.fixture(scope="module")
def head_pair():
    """The demo test head (skull-stripped, real) and trilinear of its ×2 box-average LR."""
    from srbench.builtins.trilinear import TrilinearPredictor
    from srbench.data.degradations import PaperLinear
    from srbench.data.pairs import degrade_volume
    from srbench.interfaces import InferenceSettings
    from srbench.io.nifti import load_volume

    hr = load_volume(REPO / "srbench" / "demo" / "data" / "stroke_T1w.nii.gz")
    hr = hr.with_data(hr.data[:64, 40:104, 40:104].contiguous())
    hr, lr = degrade_volume(hr, degradation=PaperLinear(), scale=(2, 2, 2))
    sr = TrilinearPredictor().predict(lr, scale=(2, 2, 2), settings=InferenceSettings())
    return hr, lr, sr


def test_the_mask_is_the_hr_foreground_and_never_empty():
    hr = torch.zeros(20, 20, 20)
    hr[5:15, 5:15, 5:15] = 1.0
    hr[9, 9, 9] = 0.05  # a dark voxel inside: below 0.1 × the 99.9th percentile
    mask = evaluation_mask(hr)
    assert mask.dtype == torch.bool and int(mask.sum()) == 1000 - 1
    assert not mask[0, 0, 0] and not mask[9, 9, 9]
    assert mask_fraction(mask) == pytest.approx(999 / 8000)
    constant = evaluation_mask(torch.full((12, 12, 12), 3.0))
    assert bool(constant.all())


def test_nothing_outside_the_mask_changes_a_headline_value(plugin_manager, head_pair):
    from srbench.measurement import compute_metrics

    hr, _, sr = head_pair
    hr01_mask = evaluation_mask((hr.data - hr.data.min()) / (hr.data.max() - hr.data.min()))
    assert 0.2 < mask_fraction(hr01_mask) < 0.9
    generator = torch.Generator().manual_seed(0)
    garbage = torch.rand(sr.shape, generator=generator) * float(hr.data.max()) * 1.5
    background_changed = torch.where(hr01_mask, sr.data, garbage)
    own = compute_metrics(plugin_manager, sr=sr.data, hr=hr.data, affine=hr.affine)
    changed = compute_metrics(plugin_manager, sr=background_changed, hr=hr.data, affine=hr.affine)
    for column in (*HEADLINE, "pkwholemean", "mask_fraction"):
        assert changed[column] == pytest.approx(own[column], rel=1e-9, abs=1e-12), column
    assert changed["psnr_volume"] < own["psnr_volume"] - 3.0
    assert changed["ssim_volume"] < own["ssim_volume"] - 0.1


def test_inside_the_mask_every_headline_value_moves(plugin_manager, head_pair):
    from srbench.measurement import compute_metrics

    hr, _, sr = head_pair
    own = compute_metrics(plugin_manager, sr=sr.data, hr=hr.data, affine=hr.affine)
    brighter = compute_metrics(plugin_manager, sr=sr.data * 1.1, hr=hr.data, affine=hr.affine)
    assert brighter["psnr"] < own["psnr"] and brighter["bias"] > own["bias"]
    assert brighter["nrmse"] > own["nrmse"] and brighter["nrmse_range"] > own["nrmse_range"]
    assert brighter["ssim"] != own["ssim"] and brighter["lpips"] != own["lpips"]


def test_masked_psnr_and_nrmse_are_the_formulas_over_the_mask_voxels(head_pair):
    from srbench.metrics.convention import scale_pair
    from srbench.metrics.nrmse import NRMSEMetric
    from srbench.metrics.psnr import PSNRMetric

    hr, _, sr = head_pair
    sr01, hr01 = scale_pair(sr.data, hr.data)
    mask = evaluation_mask(hr01)
    a, b = sr01[mask].double().numpy(), hr01[mask].double().numpy()
    mse = float(np.mean((a - b) ** 2))
    psnr = PSNRMetric().compute(sr01, hr01, mask=mask)
    nrmse = NRMSEMetric().compute(sr01, hr01, mask=mask)
    assert psnr["psnr"] == pytest.approx(10 * math.log10(1 / mse), abs=1e-5)
    assert nrmse["nrmse_range"] == pytest.approx(math.sqrt(mse), rel=1e-6)
    assert nrmse["nrmse"] == pytest.approx(math.sqrt(mse) / math.sqrt(float(np.mean(b**2))), rel=1e-6)
    assert psnr["psnr"] == pytest.approx(-20 * math.log10(nrmse["nrmse_range"]), abs=1e-5)


def test_an_all_true_mask_gives_the_unmasked_ssim_and_lpips(head_pair):
    from srbench.metrics.convention import scale_pair

    hr, _, sr = head_pair
    sr01, hr01 = scale_pair(sr.data, hr.data)
    everything = torch.ones(sr01.shape, dtype=torch.bool)
    assert ssim(sr01, hr01, mask=everything) == pytest.approx(ssim(sr01, hr01), abs=1e-7)
    masked = srlpips.lpips_planes(sr01, hr01, affine=hr.affine, mask=everything)
    plain = srlpips.lpips_planes(sr01, hr01, affine=hr.affine)
    for column, value in plain.items():
        assert masked[column] == pytest.approx(value, rel=1e-5), column


def test_masked_lpips_weights_only_the_mask(head_pair):
    """A prediction equal to the reference inside the mask and garbage outside scores
    LPIPS 0; the same garbage inside the mask does not."""
    from srbench.metrics.convention import scale_pair

    hr, _, sr = head_pair
    sr01, hr01 = scale_pair(sr.data, hr.data)
    mask = evaluation_mask(hr01)
    metric = srlpips.LPIPSMetric()
    garbage = torch.rand(hr01.shape, generator=torch.Generator().manual_seed(3))
    assert metric.compute(torch.where(mask, hr01, garbage), hr01, affine=hr.affine, mask=mask)["lpips"] == 0.0
    assert metric.compute(torch.where(mask, garbage, hr01), hr01, affine=hr.affine, mask=mask)["lpips"] > 0.1
    assert metric.compute(sr01, hr01, affine=hr.affine, mask=mask)["lpips"] > 0


@pytest.mark.parametrize("track", ["insample", "acquisition-noise", "knee"])
def test_the_audit_lr_background_post_process_stays_within_the_tolerance(plugin_manager, tmp_path, track):
    """The audit's method, discovered as a plugin and evaluated by the harness on a
    committed track, scores within the stated tolerance of the baseline it post-processes,
    while its whole-volume values move (on the skull-stripped tracks) by more than that."""
    from srbench import api

    rows = api.evaluate(track, methods=["trilinear", "trilinear-lr-background"], results=tmp_path / "r.sqlite",
                        config=REPO / "datasets.toml", runs_root=tmp_path / "runs", pm=plugin_manager)
    rows = rows.set_index("method")
    base, post = rows.loc["trilinear"], rows.loc["trilinear-lr-background"]
    for column, tolerance in TOLERANCE.items():
        assert abs(post[column] - base[column]) <= tolerance, (column, base[column], post[column])
    assert post["mask_fraction"] == base["mask_fraction"]
    if track != "knee":
        assert abs(post["psnr_volume"] - base["psnr_volume"]) > 0.0
