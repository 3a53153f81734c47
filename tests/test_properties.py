"""Property-based tests (hypothesis) of the NIfTI reader and the grid/affine arithmetic.

The reader must round-trip any small 3D volume of a supported type with any invertible
affine (oblique, flipped, anisotropic) and refuse any volume holding a NaN or an
infinity with an InputError naming the file. The grid helpers must agree with the
convention of :mod:`srbench.grid` for every scale: an LR voxel centre is the mean of the
centres of the HR voxels it covers, and ``sr_affine`` undoes ``lr_affine``.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from srbench.data.degradations import PaperLinear
from srbench.errors import InputError
from srbench.grid import (
    cropped_hr_shape,
    effective_scale,
    integer_scale,
    lr_affine,
    parse_scale,
    sr_affine,
    sr_shape,
)
from srbench.interfaces import Volume
from srbench.io.nifti import load_volume, save_volume

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

shapes = st.tuples(*[st.integers(1, 12)] * 3)
int_scales = st.tuples(*[st.integers(1, 4)] * 3)
DTYPES = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.float32, np.float64]


@st.composite
def affines(draw) -> np.ndarray:
    """A random invertible voxel→world affine: rotation × signed spacing, plus an origin (mm)."""
    quaternion = np.array(draw(st.tuples(*[st.floats(-1, 1)] * 4)))
    assume(np.linalg.norm(quaternion) > 0.1)
    w, x, y, z = quaternion / np.linalg.norm(quaternion)
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    spacing = np.array(draw(st.tuples(*[st.floats(0.2, 5.0)] * 3)))
    signs = np.array(draw(st.tuples(*[st.sampled_from([-1.0, 1.0])] * 3)))
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing * signs)
    affine[:3, 3] = draw(st.tuples(*[st.floats(-200, 200)] * 3))
    return affine


@st.composite
def volumes(draw, *, dtype=None) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)) if dtype is None else dtype)
    shape = draw(shapes)
    if dtype.kind == "f":
        elements = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=min(32, dtype.itemsize * 8))
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _world(affine: np.ndarray, index) -> np.ndarray:
    return (affine @ np.array([*index, 1.0], dtype=np.float64))[:3]


# -- NIfTI reader ---------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(array=volumes(), affine=affines(), gz=st.booleans())
def test_nifti_round_trip_of_any_supported_volume(array, affine, gz):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("v.nii.gz" if gz else "v.nii")
        image = nib.Nifti1Image(array, affine)
        nib.save(image, str(path))
        volume = load_volume(path)
        assert volume.shape == array.shape
        assert volume.data.dtype == torch.float32
        np.testing.assert_array_equal(volume.data.numpy(), array.astype(np.float32))
        # the header stores the affine as float32
        np.testing.assert_allclose(volume.affine, affine, rtol=1e-5, atol=1e-3)
        assert volume.source == str(path)


@PROPERTY_SETTINGS
@given(array=volumes(dtype=np.float32), affine=affines())
def test_save_then_load_is_the_identity(array, affine):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.nii.gz"
        save_volume(Volume(data=torch.from_numpy(array), affine=affine, source="test"), path)
        again = load_volume(path)
        np.testing.assert_array_equal(again.data.numpy(), array)
        np.testing.assert_allclose(again.affine, affine, rtol=1e-5, atol=1e-3)
        assert [p.name for p in Path(folder).iterdir()] == ["out.nii.gz"]


@PROPERTY_SETTINGS
@given(
    array=volumes(dtype=np.float32),
    affine=affines(),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    where=st.tuples(*[st.floats(0, 0.999)] * 3),
)
def test_any_nan_or_inf_voxel_is_refused(array, affine, bad, where):
    index = tuple(int(f * n) for f, n in zip(where, array.shape))
    array = array.copy()
    array[index] = bad
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bad.nii.gz"
        nib.save(nib.Nifti1Image(array, affine), str(path))
        with pytest.raises(InputError) as error:
            load_volume(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "NaN or infinite" in message


@PROPERTY_SETTINGS
@given(array=volumes(dtype=np.float32), column=st.integers(0, 2))
def test_any_singular_affine_is_refused(array, column):
    affine = np.diag([1.5, 2.0, 0.5, 1.0])
    affine[:3, column] = 0.0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "singular.nii"
        image = nib.Nifti1Image(array, None)
        image.header.set_sform(affine, code=1)
        image.header.set_qform(np.eye(4), code=0)
        nib.save(image, str(path))
        with pytest.raises(InputError, match="singular"):
            load_volume(path)


# -- grid and affine arithmetic --------------------------------------------------------------
@PROPERTY_SETTINGS
@given(affine=affines(), scale=st.one_of(int_scales, st.tuples(*[st.floats(1.0, 8.0)] * 3)))
def test_sr_affine_inverts_lr_affine(affine, scale):
    np.testing.assert_allclose(sr_affine(lr_affine(affine, scale), scale), affine, atol=1e-9 * np.abs(affine).max() + 1e-9)
    np.testing.assert_allclose(lr_affine(sr_affine(affine, scale), scale), affine, atol=1e-9 * np.abs(affine).max() + 1e-9)


@PROPERTY_SETTINGS
@example(scale=(2, 2, 1), index=(3, 0, 5))
@example(scale=(2, 2, 2), index=(0, 0, 0))
@given(scale=int_scales, index=st.tuples(*[st.integers(0, 20)] * 3))
def test_lr_voxel_centre_is_mean_of_covered_hr_centres(scale, index):
    hr = _fixed_oblique()
    lr = lr_affine(hr, scale)
    covered = [
        _world(hr, (scale[0] * index[0] + a, scale[1] * index[1] + b, scale[2] * index[2] + c))
        for a in range(scale[0])
        for b in range(scale[1])
        for c in range(scale[2])
    ]
    np.testing.assert_allclose(_world(lr, index), np.mean(covered, axis=0), atol=1e-9)
    # LR voxel size is the HR voxel size times the scale, axis by axis
    np.testing.assert_allclose(np.linalg.norm(lr[:3, :3], axis=0), np.linalg.norm(hr[:3, :3], axis=0) * np.array(scale))


@PROPERTY_SETTINGS
@given(hr=affines(), scale=int_scales, index=st.tuples(*[st.integers(0, 12)] * 3))
def test_lr_centre_convention_for_any_affine(hr, scale, index):
    lr = lr_affine(hr, scale)
    covered = [
        _world(hr, (scale[0] * index[0] + a, scale[1] * index[1] + b, scale[2] * index[2] + c))
        for a in range(scale[0])
        for b in range(scale[1])
        for c in range(scale[2])
    ]
    np.testing.assert_allclose(_world(lr, index), np.mean(covered, axis=0), atol=1e-6)


def _fixed_oblique() -> np.ndarray:
    angle = 0.4
    affine = np.eye(4)
    affine[:3, :3] = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]) @ np.diag([0.9, -1.1, 2.5])
    affine[:3, 3] = [-31.0, 7.5, 100.25]
    return affine


@PROPERTY_SETTINGS
@given(hr_shape=shapes, scale=int_scales)
def test_degrade_then_super_resolve_shapes_round_trip(hr_shape, scale):
    cropped = cropped_hr_shape(hr_shape, scale)
    assert all(c % s == 0 and hr - s < c <= hr for c, s, hr in zip(cropped, scale, hr_shape))
    lr_shape = tuple(c // s for c, s in zip(cropped, scale))
    assume(min(lr_shape) >= 1)
    assert sr_shape(lr_shape, scale) == cropped
    assert effective_scale(lr_shape, scale) == tuple(float(s) for s in scale)


@PROPERTY_SETTINGS
@given(lr_shape=shapes, scale=st.tuples(*[st.floats(1.0, 16.0)] * 3))
def test_effective_scale_is_realised_by_sr_shape(lr_shape, scale):
    out = sr_shape(lr_shape, scale)
    realised = effective_scale(lr_shape, scale)
    for n, o, s, r in zip(lr_shape, out, scale, realised):
        assert o >= 1 and isinstance(o, int)
        assert abs(o - n * s) <= 0.5 + 1e-9
        assert math.isclose(r * n, o, rel_tol=1e-12)
        assert abs(r - s) <= 0.5 / n + 1e-9


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31), lr_shape=st.tuples(*[st.integers(1, 4)] * 3), scale=int_scales, where=st.tuples(*[st.floats(0, 0.999)] * 3))
def test_paper_degradation_is_the_mean_of_each_covered_block(seed, lr_shape, scale, where):
    shape = tuple(n * s for n, s in zip(lr_shape, scale))
    volume = torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    lr = PaperLinear().degrade(volume[None, None], scale=scale)[0, 0]
    assert tuple(lr.shape) == lr_shape
    i, j, k = (int(f * n) for f, n in zip(where, lr_shape))
    block = volume[i * scale[0] : (i + 1) * scale[0], j * scale[1] : (j + 1) * scale[1], k * scale[2] : (k + 1) * scale[2]]
    assert torch.isclose(lr[i, j, k], block.mean(), atol=1e-12)


# -- parsing scales -----------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(factors=st.lists(st.floats(1.0, 16.0), min_size=1, max_size=3).filter(lambda f: len(f) != 2))
def test_parse_scale_accepts_valid_factors_in_every_spelling(factors):
    expected = tuple(factors * 3) if len(factors) == 1 else tuple(factors)
    for value in (",".join(repr(f) for f in factors), factors, factors[0] if len(factors) == 1 else factors):
        assert parse_scale(value) == pytest.approx(expected)


@PROPERTY_SETTINGS
@given(text=st.text(max_size=20))
@example(text="abc")
@example(text="0")
@example(text="-2")
@example(text="2,2")
@example(text="nan")
@example(text="inf")
@example(text="1e400")
@example(text="17")
@example(text="")
def test_parse_scale_never_fails_with_anything_but_input_error(text):
    try:
        scale = parse_scale(text, source="--scale")
    except InputError as exc:
        message = str(exc)
        assert message.startswith("--scale: ") and "\n" not in message
        return
    assert len(scale) == 3 and all(math.isfinite(f) and 1.0 <= f <= 16.0 for f in scale)


@PROPERTY_SETTINGS
@given(
    bad=st.one_of(
        st.floats(max_value=0.999, allow_nan=False),
        st.floats(min_value=16.001, allow_infinity=False),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
    position=st.integers(0, 2),
)
def test_parse_scale_rejects_any_factor_out_of_range(bad, position):
    factors = [2.0, 2.0, 2.0]
    factors[position] = bad
    with pytest.raises(InputError):
        parse_scale(factors)
    with pytest.raises(InputError):
        parse_scale(",".join(repr(f) for f in factors))


@PROPERTY_SETTINGS
@given(count=st.sampled_from([0, 2, 4, 5]))
def test_parse_scale_rejects_wrong_factor_counts(count):
    with pytest.raises(InputError):
        parse_scale([2.0] * count)


@PROPERTY_SETTINGS
@given(scale=st.tuples(*[st.floats(1.0, 8.0)] * 3))
def test_integer_scale_accepts_exactly_the_whole_factors(scale):
    if all(float(f).is_integer() for f in scale):
        assert integer_scale(scale) == tuple(int(f) for f in scale)
    else:
        with pytest.raises(InputError, match="integer"):
            integer_scale(scale, source="--scale")
