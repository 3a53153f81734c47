"""The grid convention: degrade then trilinear predict returns the HR grid exactly."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from srbench import grid
from srbench.builtins.trilinear import TrilinearPredictor
from srbench.data.degradations import PaperLinear
from srbench.data.pairs import degrade_volume
from srbench.errors import InputError
from srbench.interfaces import InferenceSettings, Volume
from srbench.cli.runner import run_cli
from srbench.testing.synthetic import oblique_affine, smooth_volume


def _world(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    return (affine @ np.append(ijk, 1.0))[:3]


@pytest.mark.parametrize("scale", [(2, 2, 2), (2, 2, 1), (3, 2, 1)])
def test_lr_voxel_centre_is_mean_of_covered_hr_centres(scale):
    hr = oblique_affine((0.8, 0.7, 1.1))
    lr = grid.lr_affine(hr, scale)
    covered = [np.array([i, j, k]) for i in range(scale[0]) for j in range(scale[1]) for k in range(scale[2])]
    centre = np.mean([_world(hr, c + np.array(scale) * [3, 1, 2]) for c in covered], axis=0)
    np.testing.assert_allclose(_world(lr, np.array([3, 1, 2])), centre, atol=1e-9)
    np.testing.assert_allclose(grid.sr_affine(lr, scale), hr, atol=1e-12)


def test_degrade_then_predict_trilinear_via_cli(write_nifti, tmp_path):
    hr_path = write_nifti("hr.nii.gz", smooth_volume((21, 18, 16), seed=0).numpy(), affine=oblique_affine((0.8, 0.8, 0.8)))
    run_cli("degrade", "--input", str(hr_path), "--output", str(tmp_path / "lr.nii.gz"), check=True)
    run_cli("predict", "trilinear", "--input", str(tmp_path / "lr.nii.gz"), "--output", str(tmp_path / "sr.nii.gz"), check=True)
    sr = nib.load(str(tmp_path / "sr.nii.gz"))
    lr = nib.load(str(tmp_path / "lr.nii.gz"))
    assert lr.shape == (10, 9, 8)
    assert sr.shape == (20, 18, 16)  # odd HR size 21 cropped to 20
    np.testing.assert_allclose(sr.affine, nib.load(str(hr_path)).affine, atol=1e-5)


def test_paper_linear_is_block_mean():
    hr = torch.arange(4 * 4 * 2, dtype=torch.float32).reshape(1, 1, 4, 4, 2)
    lr = PaperLinear().degrade(hr, scale=(2, 2, 2))
    assert lr.shape == (1, 1, 2, 2, 1)
    assert lr[0, 0, 0, 0, 0] == hr[0, 0, :2, :2, :2].mean()


def test_trilinear_reproduces_linear_ramp_in_the_interior():
    """A linear intensity ramp survives degrade + trilinear exactly away from the edges."""
    ramp = torch.arange(16, dtype=torch.float32)[:, None, None].expand(16, 8, 8).contiguous()
    hr = Volume(ramp, np.eye(4), "ramp")
    cropped, lr = degrade_volume(hr, degradation=PaperLinear(), scale=(2.0, 2.0, 2.0))
    sr = TrilinearPredictor().predict(lr, scale=(2.0, 2.0, 2.0), settings=InferenceSettings())
    torch.testing.assert_close(sr.data[1:-1], cropped.data[1:-1])


def test_non_integer_scale_shape_and_affine():
    lr = Volume(torch.rand(10, 9, 7), oblique_affine((1.0, 1.0, 1.0)), "lr")
    sr = TrilinearPredictor().predict(lr, scale=(2.5, 2.5, 1.5), settings=InferenceSettings())
    assert sr.shape == (25, 22, 10)
    eff = grid.effective_scale(lr.shape, (2.5, 2.5, 1.5))
    np.testing.assert_allclose(sr.spacing, np.array(lr.spacing) / np.array(eff), rtol=1e-9)


@pytest.mark.parametrize("bad", ["0", "-2", "abc", "2,2", "nan", "100"])
def test_parse_scale_rejects(bad):
    with pytest.raises(InputError, match="invalid scale"):
        grid.parse_scale(bad)
