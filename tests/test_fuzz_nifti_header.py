"""Fuzzing the NIfTI header fields that :func:`srbench.io.nifti.load_volume` trusts.

A valid small volume is written with nibabel, then random values are packed with
:mod:`struct` into ``dim``, ``pixdim``, ``datatype``/``bitpix``, ``vox_offset``,
``scl_slope``/``scl_inter``, the qform/sform codes, the quaternion, its offsets and the
sform rows. Loading the file must either give a finite 3D volume with a positive,
finite voxel size, or raise :class:`srbench.errors.InputError` whose message is one line
naming the file; never another exception, never a log record or warning from nibabel or
numpy, never anything on stderr.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import os
import struct
import tempfile
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srbench.errors import InputError
from srbench.io.nifti import load_volume

_spec = importlib.util.spec_from_file_location("make_bad_inputs", Path(__file__).resolve().parent / "data" / "make_bad_inputs.py")
make_bad_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_bad_inputs)

#: NIfTI-1 field → (byte offset, struct format), shared with the corpus generator
FIELDS = {name: spec for name, spec in make_bad_inputs.HEADER_FIELDS.items() if name not in ("sizeof_hdr", "magic")}
#: datatype codes: every one NIfTI-1 defines, plus codes that do not exist
DATATYPES = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, 3, 255, -16, 32767]
SHAPE = (6, 5, 4)

_float32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
_edge_float = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 1e-30, 1e30, 3e38, -3e38, float("nan"), float("inf"), float("-inf")])
_f = st.one_of(_edge_float, _float32)
_dim_entry = st.one_of(st.integers(-3, 8), st.sampled_from([0, 1, 6, 5, 4, 32767, -32768, 1000]))


@st.composite
def headers(draw) -> dict:
    """A random subset of the fields, each with a random (often broken) value."""
    fields: dict = {}
    if draw(st.booleans()):
        ndim = draw(st.one_of(st.sampled_from([3, 3, 4, 2]), st.integers(-2, 9)))
        rest = list(SHAPE) + [1, 1, 1, 1]
        if draw(st.booleans()):
            rest = [draw(_dim_entry) for _ in range(7)]
        fields["dim"] = (ndim, *rest)
    if draw(st.booleans()):
        code = draw(st.sampled_from(DATATYPES))
        fields["datatype"] = code
        if draw(st.booleans()):
            fields["bitpix"] = draw(st.sampled_from([0, 1, 8, 16, 32, 64, 128, 7]))
    if draw(st.booleans()):
        fields["pixdim"] = tuple(draw(_f) for _ in range(8))
    if draw(st.booleans()):
        fields["vox_offset"] = draw(st.one_of(st.sampled_from([352.0, 0.0, -352.0, 100.0, 4096.0, 1e10, 353.0]), _f))
    for name in ("scl_slope", "scl_inter"):
        if draw(st.booleans()):
            fields[name] = draw(_f)
    for name in ("qform_code", "sform_code"):
        if draw(st.booleans()):
            fields[name] = draw(st.integers(-2, 5))
    for name, count in (("quatern", 3), ("qoffset", 3), ("srow_x", 4), ("srow_y", 4), ("srow_z", 4)):
        if draw(st.integers(0, 3)) == 0:
            fields[name] = tuple(draw(_f) for _ in range(count))
    return fields


def _base(dtype: np.dtype) -> bytes:
    data = (np.arange(np.prod(SHAPE)).reshape(SHAPE) % 50).astype(dtype)
    image = nib.Nifti1Image(data, np.diag([1.5, 2.0, 2.5, 1.0]))
    image.header.set_qform(np.diag([1.5, 2.0, 2.5, 1.0]), code=1)
    return image.to_bytes()


BASES = {np.dtype(t).name: _base(np.dtype(t)) for t in (np.float32, np.int16, np.uint8, np.float64)}


def _patched(raw: bytes, fields: dict) -> bytes:
    data = bytearray(raw)
    for name, value in fields.items():
        offset, fmt = FIELDS[name]
        values = value if isinstance(value, tuple) else (value,)
        struct.pack_into(fmt, data, offset, *values)
    return bytes(data)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="srbench-fuzz-nifti-") as name:
        yield Path(name)


@pytest.fixture(scope="module", autouse=True)
def small_voxel_limit():
    """Keep every accepted volume small (the limit itself is part of what is fuzzed)."""
    old = os.environ.get("SRBENCH_MAX_VOXELS")
    os.environ["SRBENCH_MAX_VOXELS"] = str(10**6)
    yield
    if old is None:
        del os.environ["SRBENCH_MAX_VOXELS"]
    else:
        os.environ["SRBENCH_MAX_VOXELS"] = old


def _load_checked(path: Path, capfd) -> None:
    records = _Records()
    logging.getLogger().addHandler(records)
    capfd.readouterr()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                volume = load_volume(path)
            except InputError as exc:
                message = str(exc)
                assert "\n" not in message and "\r" not in message, f"a multi-line message: {message!r}"
                assert path.name in message, f"the message does not name {path.name}: {message!r}"
            else:
                data = volume.data.numpy()
                assert data.ndim == 3 and min(data.shape) > 0
                assert np.isfinite(data).all(), "load_volume returned non-finite voxels"
                affine = np.asarray(volume.affine, dtype=np.float64)
                sizes = np.linalg.norm(affine[:3, :3], axis=0)
                assert np.isfinite(affine).all(), f"non-finite affine {affine.tolist()}"
                assert (sizes > 0).all(), f"voxel size {sizes.tolist()} is not positive"
    finally:
        logging.getLogger().removeHandler(records)
    noisy = [r for r in records.records if r.name.startswith(("nibabel", "numpy", "py.warnings")) and r.levelno >= logging.INFO]
    assert not noisy, f"log records escaped: {[r.getMessage() for r in noisy]}"
    assert not caught, f"warnings escaped: {[str(w.message) for w in caught]}"
    err = capfd.readouterr().err
    assert err == "", f"stderr was not empty:\n{err}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fields=headers(), base=st.sampled_from(sorted(BASES)), compressed=st.booleans())
def test_any_header_is_loaded_finite_or_refused_in_one_line(fields, base, compressed, folder, capfd):
    raw = _patched(BASES[base], fields)
    path = folder / ("fuzz.nii.gz" if compressed else "fuzz.nii")
    for stale in folder.iterdir():
        stale.unlink()
    path.write_bytes(gzip.compress(raw, mtime=0) if compressed else raw)
    _load_checked(path, capfd)
    assert sorted(p.name for p in folder.iterdir()) == [path.name], "loading wrote files"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 400), noise=st.binary(min_size=0, max_size=64), compressed=st.booleans())
def test_truncated_or_trailing_bytes_are_refused_or_loaded(cut, noise, compressed, folder, capfd):
    """A header cut anywhere, or followed by junk, is still one of the two outcomes."""
    raw = BASES["float32"][:cut] + noise
    path = folder / ("cut.nii.gz" if compressed else "cut.nii")
    for stale in folder.iterdir():
        stale.unlink()
    path.write_bytes(gzip.compress(raw, mtime=0) if compressed else raw)
    _load_checked(path, capfd)


def test_the_unpatched_bases_load(folder, capfd):
    """Every base file is valid, so a refusal in the fuzz test comes from the patched fields."""
    for name, raw in BASES.items():
        path = folder / f"base_{name}.nii"
        path.write_bytes(raw)
        volume = load_volume(path)
        assert tuple(volume.data.shape) == SHAPE
        path.unlink()
    assert capfd.readouterr().err == ""
