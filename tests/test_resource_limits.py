"""Resource limits: patch inference memory is bounded by the patch batch, and a volume
beyond the voxel limit (``SRBENCH_MAX_VOXELS``) is refused up front with a message
naming the setting."""

from __future__ import annotations

import math

import pytest
import torch

from srbench.errors import InputError
from srbench.inference import run_patch_inference
from srbench.interfaces import InferenceSettings
from srbench.io.limits import MAX_VOXELS_ENV, check_volume_size, max_output_voxels


@pytest.mark.parametrize("shape", [(6, 6, 6), (20, 16, 12), (40, 9, 7)])
def test_every_forward_pass_gets_at_most_one_batch_of_patches(shape):
    """What the network sees per call does not grow with the volume."""
    settings = InferenceSettings(patch_size=8, overlap=2, batch_size=3)
    seen = []

    def upsample(batch: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(batch.shape))
        return batch.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3).repeat_interleave(2, dim=4)

    lr = torch.rand(shape)
    out = run_patch_inference(lr, upsample, out_scale=(2, 2, 2), settings=settings)
    assert tuple(out.shape) == tuple(2 * n for n in shape)
    assert seen, "the network was never called"
    for batch_shape in seen:
        assert batch_shape[0] <= settings.batch_size
        assert all(edge <= settings.patch_size for edge in batch_shape[2:])
    # the whole volume is covered: nearest-neighbour up-sampling survives blending exactly
    expected = lr.repeat_interleave(2, 0).repeat_interleave(2, 1).repeat_interleave(2, 2)
    torch.testing.assert_close(out, expected)


def test_volume_over_the_limit_is_refused_with_the_setting_named(monkeypatch):
    monkeypatch.setenv(MAX_VOXELS_ENV, "1000")
    with pytest.raises(InputError) as error:
        check_volume_size((8, 8, 6), (2, 2, 2), source="lr.nii.gz")
    message = str(error.value)
    assert message.startswith("lr.nii.gz: ") and MAX_VOXELS_ENV in message and "\n" not in message
    assert f"{16 * 16 * 12:,}" in message  # the output size it would have had


def test_volume_at_the_limit_is_accepted(monkeypatch):
    monkeypatch.setenv(MAX_VOXELS_ENV, str(16 * 16 * 12))
    check_volume_size((8, 8, 6), (2, 2, 2), source="lr.nii.gz")
    check_volume_size((8, 8, 6), (2, 2, 1), source="lr.nii.gz")


def test_default_limit_allows_paper_sized_volumes(monkeypatch):
    monkeypatch.delenv(MAX_VOXELS_ENV, raising=False)
    assert max_output_voxels() >= 512**3
    check_volume_size((128, 160, 128), (2, 2, 2), source="hcp.nii.gz")  # 0.7 mm HCP-like output
    with pytest.raises(InputError, match=MAX_VOXELS_ENV):
        check_volume_size((2048, 2048, 2048), (2, 2, 2), source="huge.nii.gz")


@pytest.mark.parametrize("value", ["lots", "-5", "0"])
def test_invalid_limit_setting_is_an_input_error(monkeypatch, value):
    monkeypatch.setenv(MAX_VOXELS_ENV, value)
    with pytest.raises(InputError, match=MAX_VOXELS_ENV):
        check_volume_size((4, 4, 4), (2, 2, 2), source="x.nii.gz")


def test_limit_is_computed_on_the_output_voxels(monkeypatch):
    lr_shape, scale = (10, 10, 10), (2.5, 2.5, 1.0)
    out = math.prod(round(n * s) for n, s in zip(lr_shape, scale))
    monkeypatch.setenv(MAX_VOXELS_ENV, str(out - 1))
    with pytest.raises(InputError):
        check_volume_size(lr_shape, scale, source="x")
    monkeypatch.setenv(MAX_VOXELS_ENV, str(out))
    check_volume_size(lr_shape, scale, source="x")
