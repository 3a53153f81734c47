"""Full-volume patch inference: shapes, affines, blending and scale handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srbench import grid
from srbench.errors import ScaleNotSupported
from srbench.inference import NetworkPredictor, average_phases, run_patch_inference
from srbench.interfaces import InferenceSettings, Volume
from srbench.testing.synthetic import oblique_affine


class Repeat2(torch.nn.Module):
    """Nearest-neighbour ×2: each LR voxel becomes a 2×2×2 block (a local, exact operator)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        for axis in (2, 3, 4):
            x = x.repeat_interleave(2, dim=axis)
        return x * 2.0


@pytest.mark.parametrize("shape", [(13, 9, 7), (16, 16, 16), (3, 5, 2)])
def test_patch_inference_equals_whole_volume_application(shape):
    lr = torch.rand(shape)
    net = Repeat2()
    settings = InferenceSettings(patch_size=6, overlap=2, batch_size=3)
    out = run_patch_inference(lr, net, out_scale=(2, 2, 2), settings=settings)
    whole = Repeat2()(lr[None, None])[0, 0]
    torch.testing.assert_close(out, whole)
    assert all(call[0] <= 3 for call in net.calls)  # memory bounded by the batch size
    assert all(max(call[2:]) <= 6 for call in net.calls)


def test_predictor_normalises_denormalises_and_sets_the_affine():
    data = torch.rand(11, 10, 9) * 500 + 100
    lr = Volume(data, oblique_affine((1.6, 1.6, 1.6)), "lr")
    predictor = NetworkPredictor(torch.nn.Upsample(scale_factor=2, mode="nearest"), native_scale=(2, 2, 2))
    sr = predictor.predict(lr, scale=(2.0, 2.0, 2.0), settings=InferenceSettings(patch_size=8, overlap=4))
    assert sr.shape == (22, 20, 18) and sr.data.dtype == torch.float32
    torch.testing.assert_close(sr.data[::2, ::2, ::2], data, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(sr.affine, grid.sr_affine(lr.affine, (2, 2, 2)))


def test_in_plane_scale_by_phase_averaging():
    data = torch.rand(8, 8, 5)
    lr = Volume(data, np.diag([1.25, 1.25, 4.0, 1.0]), "knee")
    predictor = NetworkPredictor(torch.nn.Upsample(scale_factor=2, mode="nearest"), native_scale=(2, 2, 2))
    sr = predictor.predict(lr, scale=(2.0, 2.0, 1.0), settings=InferenceSettings(patch_size=8))
    assert sr.shape == (16, 16, 5)
    np.testing.assert_allclose(sr.spacing, (0.625, 0.625, 4.0))
    torch.testing.assert_close(sr.data[::2, ::2, :], data, rtol=1e-5, atol=1e-5)
    with pytest.raises(ScaleNotSupported):
        predictor.predict(lr, scale=(3.0, 3.0, 3.0), settings=InferenceSettings())


def test_average_phases():
    x = torch.arange(8.0).reshape(2, 2, 2)
    assert average_phases(x, axes=(2,)).tolist() == [[[0.5], [2.5]], [[4.5], [6.5]]]


@pytest.mark.parametrize(("fields", "setting"), [
    ({"patch_size": 2}, "patch_size"), ({"patch_size": 16, "overlap": 16}, "overlap"), ({"batch_size": 0}, "batch_size"),
    ({"halo": -1}, "halo"), ({"memory_budget": 0}, "memory_budget"), ({"patch_size": 16, "halo": 2}, "memory_budget"),
    ({"precision": "float16"}, "precision"), ({"blend": "max"}, "blend"), ({"memory_format": "x"}, "memory_format"),
    ({"patch_size": 16.5}, "patch_size"), ({"batch_size": True}, "batch_size"),
])
def test_inference_settings_are_checked_however_they_are_built(fields, setting):
    """The command line, srbench.api and verify's replay of a stored run all build settings
    through the same checks: an out-of-range value is an InputError naming the field."""
    from srbench.errors import InputError, InvalidSetting

    with pytest.raises(InvalidSetting) as caught:
        InferenceSettings(**fields)
    assert caught.value.setting == setting and isinstance(caught.value, InputError)
    assert str(caught.value).startswith(f"inference setting {setting}: ")
