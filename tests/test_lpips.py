"""LPIPS: vendored backbone (hash, never random), plane naming, padding, edge cases."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from srbench.errors import SrbenchRuntimeError
from srbench.metrics import lpips as srlpips
from srbench.metrics.convention import scale_pair
from srbench.testing.synthetic import smooth_volume

RAS = np.eye(4)
#: Array axis 0 points posterior, 1 superior, 2 right (the knee demo volume's layout).
PSR = np.array([[0.0, 0.0, 4.0, 0.0], [-0.6, 0.0, 0.0, 0.0], [0.0, 0.6, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def textured_pair(shape: tuple[int, int, int], *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth volume with fine texture (HR) and a blurred copy of it (SR), scaled to [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    hr = smooth_volume(shape, seed=seed)
    hr = hr * (1.0 + 0.3 * torch.rand(shape, generator=generator))
    sr = torch.nn.functional.avg_pool3d(hr[None, None], 3, stride=1, padding=1, count_include_pad=False)[0, 0]
    return scale_pair(sr, hr)


def test_network_is_cached_frozen_and_uses_the_vendored_backbone():
    network = srlpips.lpips_network()
    assert network is srlpips.lpips_network()
    assert not network.training
    assert not any(p.requires_grad for p in network.parameters())
    stored = torch.load(srlpips.BACKBONE_FILE, map_location="cpu", weights_only=True)
    loaded = network.net.state_dict()
    assert len(stored) == 10
    for key, tensor in stored.items():
        index = key.split(".")[1]
        target = next(k for k in loaded if k.split(".")[1] == index and k.endswith(key.rsplit(".", 1)[1]))
        assert torch.equal(loaded[target], tensor), key


def test_corrupted_or_missing_backbone_is_refused(tmp_path):
    corrupted = tmp_path / "alexnet_features.pth"
    shutil.copyfile(srlpips.BACKBONE_FILE, corrupted)
    data = bytearray(corrupted.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    with pytest.raises(SrbenchRuntimeError, match="sha256") as excinfo:
        srlpips.build_lpips_network(backbone=corrupted)
    assert "\n" not in str(excinfo.value) and str(corrupted) in str(excinfo.value)
    with pytest.raises(SrbenchRuntimeError, match="missing"):
        srlpips.build_lpips_network(backbone=tmp_path / "absent.pth")


def test_pretrained_backbone_differs_from_a_random_one():
    sr, hr = textured_pair((40, 40, 4), seed=2)
    a = srlpips._lpips_input(sr.movedim(2, 0))
    b = srlpips._lpips_input(hr.movedim(2, 0))
    with torch.inference_mode():
        real = float(srlpips.lpips_network()(a, b).mean())
        torch.manual_seed(0)
        control = srlpips.build_lpips_network()
        for module in control.net.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.reset_parameters()
        random_value = float(control(a, b).mean())
    assert real > 0.0
    assert abs(real - random_value) > 0.5 * real


def test_identical_and_constant_volumes():
    _, hr = textured_pair((20, 24, 12))
    values = srlpips.lpips_planes(hr, hr.clone(), affine=RAS)
    assert values == {"lpips_sagittal": 0.0, "lpips_coronal": 0.0, "lpips_axial": 0.0, "lpips": 0.0}
    zeros = torch.zeros(12, 12, 12)
    for sr in (zeros, torch.ones(12, 12, 12)):
        for value in srlpips.lpips_planes(sr, zeros, affine=RAS).values():
            assert math.isfinite(value)


@pytest.mark.parametrize(
    ("affine", "expected"),
    [
        (RAS, {"sagittal": 0, "coronal": 1, "axial": 2}),
        (np.diag([-1.0, -1.0, 1.0, 1.0]), {"sagittal": 0, "coronal": 1, "axial": 2}),
        (PSR, {"sagittal": 2, "coronal": 0, "axial": 1}),
    ],
)
def test_plane_axes_follow_the_affine(affine, expected):
    assert srlpips.plane_axes(affine) == expected


@pytest.mark.parametrize(("affine", "plane"), [(RAS, "sagittal"), (PSR, "coronal")])
def test_a_difference_in_one_slice_of_axis_0_lands_in_the_named_plane(affine, plane):
    sr, hr = textured_pair((12, 36, 34), seed=4)
    sr = hr.clone()
    sr[5] = sr[5].flip(0)
    values = srlpips.lpips_planes(sr, hr, affine=affine)
    network = srlpips.lpips_network()
    with torch.inference_mode():
        single = float(network(srlpips._lpips_input(sr[5:6]), srlpips._lpips_input(hr[5:6])))
    assert values[f"lpips_{plane}"] == pytest.approx(single / 12, rel=1e-5)
    others = [p for p in srlpips.PLANES if p != plane]
    assert all(values[f"lpips_{p}"] > 0 for p in others)
    assert values["lpips"] == pytest.approx(sum(values[f"lpips_{p}"] for p in srlpips.PLANES) / 3)


def test_plane_value_is_the_mean_of_per_slice_lpips_with_manual_preprocessing():
    sr, hr = textured_pair((33, 20, 8), seed=6)
    network = srlpips.lpips_network()
    got = srlpips.plane_lpips(sr, hr, axis=2, network=network, batch_size=3)
    pad_rows = np.pad(np.arange(20), (6, 6), mode="symmetric")
    expected = []
    with torch.inference_mode():
        for k in range(8):
            a = sr[:, pad_rows, k] * 2 - 1
            b = hr[:, pad_rows, k] * 2 - 1
            expected.append(float(network(a.expand(1, 3, -1, -1), b.expand(1, 3, -1, -1))))
    assert got == pytest.approx(float(np.mean(expected)), rel=1e-5)


@pytest.mark.parametrize(("length", "target"), [(24, 32), (3, 32), (1, 32), (31, 32), (7, 10)])
def test_symmetric_padding_matches_numpy(length, target):
    before = (target - length) // 2
    expected = np.pad(np.arange(length), (before, target - length - before), mode="symmetric")
    assert srlpips._symmetric_index(length, target).tolist() == expected.tolist()


def test_thin_knee_like_volume_works():
    sr, hr = textured_pair((40, 36, 6), seed=8)
    values = srlpips.lpips_planes(sr, hr, affine=PSR)
    assert set(values) == {"lpips", "lpips_sagittal", "lpips_coronal", "lpips_axial"}
    assert all(math.isfinite(v) and v > 0 for v in values.values())
