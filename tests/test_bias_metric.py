"""The ``bias`` diagnostic: mean signed SR − HR over the HR foreground, in units of the HR
range. Known offsets give known values, the sign says which way, identical volumes give 0,
background and clipping behave as documented, an empty foreground falls back to every
voxel; the foreground is the one srbench.data.foreground defines (also the SNR's)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from srbench.data.degradations import foreground_mean
from srbench.data.foreground import FOREGROUND_FRACTION, FOREGROUND_PERCENTILE, foreground_mask
from srbench.data.foreground import foreground_bias
from srbench.metrics.bias import BiasMetric
from srbench.metrics.convention import scale_pair

SHAPE = (16, 18, 14)


def head(*, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A [0, 1] volume: a textured box of 0.2–0.8 on a background of 0, and its foreground."""
    rng = np.random.default_rng(seed)
    volume = np.zeros(SHAPE, dtype=np.float32)
    inside = np.zeros(SHAPE, dtype=bool)
    inside[3:13, 4:14, 3:11] = True
    volume[inside] = rng.uniform(0.2, 0.8, int(inside.sum())).astype(np.float32)
    return torch.from_numpy(volume), torch.from_numpy(inside)


def test_identical_volumes_have_zero_bias():
    hr, _ = head()
    assert foreground_bias(hr, hr.clone()) == 0.0
    assert BiasMetric().compute(hr, hr.clone(), affine=np.eye(4)) == {"bias": 0.0}


@pytest.mark.parametrize("offset", [0.05, -0.03, 0.125])
def test_a_known_offset_of_the_foreground_is_the_bias_with_its_sign(offset):
    hr, inside = head()
    sr = torch.where(inside, hr + offset, hr)
    assert foreground_bias(sr, hr) == pytest.approx(offset, abs=1e-6)
    # swapping the arguments flips the sign (same foreground: the box is HR's and SR's)
    assert foreground_bias(hr, sr) == pytest.approx(-offset, abs=1e-6)


def test_the_background_does_not_count():
    hr, inside = head()
    sr = torch.where(inside, hr + 0.02, hr + 0.3)  # bright air around a slightly bright head
    assert foreground_bias(sr, hr) == pytest.approx(0.02, abs=1e-6)
    assert torch.equal(foreground_mask(hr), inside)


def test_units_are_the_hr_range_under_the_intensity_convention():
    # scanner units: head 50–150 on air 0, one hot voxel of 252 (the HR maximum); SR 10.5 lower
    # in the foreground (no clipping below the HR minimum 0)
    rng = np.random.default_rng(1)
    hr = np.zeros(SHAPE, dtype=np.float32)
    hr[3:13, 4:14, 3:11] = rng.uniform(50, 150, (10, 10, 8))
    hr[8, 8, 7] = 252.0
    sr = np.where(hr > 0, hr - 10.5, hr).astype(np.float32)
    sr01, hr01 = scale_pair(torch.from_numpy(sr), torch.from_numpy(hr))
    assert BiasMetric().compute(sr01, hr01, affine=np.eye(4))["bias"] == pytest.approx(-10.5 / 252.0, abs=1e-6)


def test_overshoot_above_the_hr_maximum_is_clipped_as_for_every_metric():
    # HR head at its maximum 252, SR at 295 there (the ESRGAN-3D case): after the convention's
    # clipping only the part inside the HR range counts
    hr = np.zeros(SHAPE, dtype=np.float32)
    hr[3:13, 4:14, 3:11] = 252.0
    hr[3:8, 4:14, 3:11] = 126.0
    sr = np.where(hr > 0, hr + 43.0, hr).astype(np.float32)
    sr01, hr01 = scale_pair(torch.from_numpy(sr), torch.from_numpy(hr))
    half = 5 * 10 * 8 / (10 * 10 * 8)  # the 126 half gains 43 / 252; the 252 half is clipped to 1
    assert foreground_bias(sr01, hr01) == pytest.approx(half * 43.0 / 252.0, abs=1e-6)


def test_an_empty_foreground_falls_back_to_every_voxel_and_is_never_nan():
    flat = torch.zeros(SHAPE)  # what a constant HR volume becomes under the convention
    assert foreground_mask(flat).sum() == 0
    assert foreground_bias(torch.full(SHAPE, 0.1), flat) == pytest.approx(0.1, abs=1e-7)
    assert foreground_bias(flat, flat) == 0.0
    sr01, hr01 = scale_pair(torch.rand(SHAPE, generator=torch.Generator().manual_seed(0)), torch.full(SHAPE, 7.0))
    assert math.isfinite(foreground_bias(sr01, hr01))


def test_one_foreground_definition_for_the_metric_and_the_snr():
    hr, _ = head(seed=2)
    values = hr.numpy().astype(np.float64)
    expected = values > FOREGROUND_FRACTION * np.percentile(values, FOREGROUND_PERCENTILE)
    assert np.array_equal(foreground_mask(hr).numpy(), expected)
    # the kspace degradation's SNR foreground is the same set of voxels
    assert float(foreground_mean(hr[None, None])) == pytest.approx(float(values[expected].mean()), rel=1e-12)


def test_registered_as_a_diagnostic():
    from srbench.plugins import get_plugin_manager

    metric = get_plugin_manager().get("metric", "bias")
    assert dict(metric.outputs) == {"bias": None}  # no better direction: never ranked
    assert metric.symmetric is False
    assert "foreground" in metric.description and "HR intensity range" in metric.description


def test_passes_the_conformance_checks(tmp_path):
    from srbench.plugins import get_plugin_manager
    from srbench.testing import metric_checks
    from srbench.testing.context import CheckContext
    from srbench.testing.failures import CheckSkipped

    ctx = CheckContext(pm=get_plugin_manager(), workdir=tmp_path)
    metric = BiasMetric()
    for check in (metric_checks.registration, metric_checks.columns, metric_checks.identical_optimal,
                  metric_checks.constant_volumes):
        check(metric, ctx)
    with pytest.raises(CheckSkipped):
        metric_checks.symmetry(metric, ctx)
