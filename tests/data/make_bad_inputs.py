"""Generate the corpus of bad (and borderline valid) inputs used by ``tests/test_bad_inputs.py``.

Nothing in the corpus is a hand-edited binary: every file is written by :func:`generate`
from seeded arrays, so the corpus can be rebuilt at any time::

    python tests/data/make_bad_inputs.py            # writes tests/data/bad/
    python tests/data/make_bad_inputs.py --out DIR  # writes DIR/

The test suite calls :func:`generate` into a temporary directory at session start, so the
repository holds only this script. :func:`all_files` documents what is wrong with each entry;
``tests/test_bad_inputs.py`` says which command each one is fed to and what must happen.

Volumes are tiny (at most 24 voxels per axis; the two "bomb" files only claim more in their headers)
so that the whole corpus runs in seconds.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path

import numpy as np

from srbench.testing.synthetic import smooth_volume

#: file name → what is wrong with it (or why it is a valid borderline input)
FILES: dict[str, str] = {
    # valid inputs the corpus derives its bad ones from
    "good_hr.nii.gz": "valid HR volume 16x16x12, 1 mm, oblique affine",
    "good_lr.nii.gz": "valid LR volume 8x8x6, 2 mm",
    "good_int16.nii.gz": "valid LR volume stored as int16",
    "good_flipped.nii.gz": "valid LR volume with a flipped, oblique, anisotropic affine",
    "good_4d_singleton.nii.gz": "valid LR volume stored as 4D with a last dimension of 1",
    # NIfTI files that must be refused
    "truncated.nii.gz": "gzip stream cut in the middle of the voxel data",
    "truncated_header.nii": "uncompressed file shorter than the 348-byte NIfTI-1 header",
    "truncated_data.nii": "uncompressed file with a complete header but half of its voxels",
    "wrong_magic.nii": "NIfTI-1 header whose magic string is 'xyz' instead of 'n+1'",
    "wrong_magic.nii.gz": "gzip-compressed NIfTI-1 header whose magic string is 'xyz'",
    "not_nifti.nii": "a text file with a .nii name",
    "not_nifti.nii.gz": "a gzip-compressed text file with a .nii.gz name",
    "image_2d.nii.gz": "2D image 8x8",
    "image_4d.nii.gz": "4D image 8x8x6x3 (a time series)",
    "zero_dim.nii.gz": "3D image with a zero-sized dimension (8x0x6)",
    "nan_voxels.nii.gz": "3 NaN voxels in an otherwise valid volume",
    "inf_voxels.nii.gz": "+inf and -inf voxels in an otherwise valid volume",
    "singular_affine.nii.gz": "sform with a zero column (degenerate axis), qform unset",
    "nonfinite_affine.nii.gz": "sform with an infinite voxel size, qform unset",
    "nan_affine.nii.gz": "sform with a NaN origin, qform unset",
    "complex64.nii.gz": "complex64 voxels",
    "rgb24.nii.gz": "RGB24 voxels (a colour image)",
    "unreadable.nii.gz": "valid volume with permissions 000 (only refused when not running as root)",
    "directory.nii.gz": "a directory with a NIfTI name",
    "one_slice_hr.nii.gz": "HR volume 8x8x1: nothing is left along the last axis after the x2 crop",
    "not_nifti_name.txt": "valid NIfTI bytes under a .txt name",
    # valid borderline inputs: commands must succeed
    "constant.nii.gz": "all-constant LR volume 6x6x4 (valid: normalisation must not divide by zero)",
    "odd_hr.nii.gz": "HR volume 11x9x7 (valid: the trailing slice of each axis is cropped)",
    "tiny_lr.nii.gz": "LR volume 3x3x2, smaller than one inference patch (valid: the patch is clipped)",
    # configuration files
    "malformed.toml": "TOML syntax error (unterminated table header)",
    "unknown_key.toml": "valid TOML whose track has the misspelt key 'tset'",
    "unknown_dataset.toml": "a track whose test dataset is not declared",
    "missing_volume.toml": "a dataset listing a file that does not exist",
    "bad_volume.toml": "a dataset whose only test volume has NaN voxels",
    "code_in_config.toml": "string values that would run code if the file were evaluated",
    "good.toml": "a valid config over the corpus' good volumes (track 'corpus')",
    # checkpoints
    "pickle_payload.safetensors": "a torch.save (pickle) file renamed .safetensors whose unpickling would create MARKER",
    "pickle_state.pt": "a plain torch.save'd state dict (.pt): a pickle, refused",
    "not_a_checkpoint.safetensors": "random bytes with a .safetensors name",
    "truncated_raw.safetensors": "a safetensors file cut in the middle of its tensor data",
}

#: name of the file that the pickle payload would create if it were ever unpickled
MARKER = "PICKLE_PAYLOAD_EXECUTED"

#: checkpoint files that need ``srbench.training.checkpoint`` to be written
CHECKPOINT_FILES: dict[str, str] = {
    "other_method.safetensors": "a valid checkpoint saved for another method",
    "truncated.safetensors": "a valid srbench checkpoint cut in the middle of its tensor data",
}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _oblique_affine(spacing: tuple[float, float, float], *, angle_deg: float = 10.0, flip: bool = False) -> np.ndarray:
    theta = np.deg2rad(angle_deg)
    rotation = np.array(
        [[np.cos(theta), -np.sin(theta), 0.0], [np.sin(theta), np.cos(theta), 0.0], [0.0, 0.0, 1.0]]
    )
    scales = np.diag(spacing)
    if flip:
        scales[0, 0] *= -1.0
    affine = np.eye(4)
    affine[:3, :3] = rotation @ scales
    affine[:3, 3] = (-90.0, 12.5, -40.25)
    return affine


def _save(array: np.ndarray, affine: np.ndarray | None, path: Path, *, header_affine: np.ndarray | None = None) -> None:
    """Write a NIfTI-1 file. ``header_affine`` puts a raw (possibly broken) sform in the header."""
    import nibabel as nib

    image = nib.Nifti1Image(array, affine)
    if header_affine is not None:
        image.header.set_sform(header_affine, code=1)
        image.header.set_qform(np.eye(4), code=0)
    nib.save(image, str(path))


def _nifti_bytes(array: np.ndarray, affine: np.ndarray) -> bytes:
    import nibabel as nib

    image = nib.Nifti1Image(array, affine)
    return image.to_bytes()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _write_volumes(out: Path) -> None:
    hr_affine = _oblique_affine((1.0, 1.0, 1.0))
    lr_affine = _oblique_affine((2.0, 2.0, 2.0))
    lr = smooth_volume((8, 8, 6), seed=2).numpy()

    _save(smooth_volume((16, 16, 12), seed=1).numpy(), hr_affine, out / "good_hr.nii.gz")
    _save(lr, lr_affine, out / "good_lr.nii.gz")
    _save(lr.round().astype(np.int16), lr_affine, out / "good_int16.nii.gz")
    _save(lr, _oblique_affine((2.0, 1.5, 3.0), angle_deg=-25.0, flip=True), out / "good_flipped.nii.gz")
    _save(lr[..., None], lr_affine, out / "good_4d_singleton.nii.gz")

    raw = _nifti_bytes(lr, lr_affine)
    compressed = _gzip(raw)
    (out / "truncated.nii.gz").write_bytes(compressed[: len(compressed) // 2])
    (out / "truncated_header.nii").write_bytes(raw[:200])
    (out / "truncated_data.nii").write_bytes(raw[: 352 + lr.nbytes // 2])
    broken = bytearray(raw)
    broken[344:348] = b"xyz\0"
    (out / "wrong_magic.nii").write_bytes(bytes(broken))
    (out / "wrong_magic.nii.gz").write_bytes(_gzip(bytes(broken)))
    text = b"subject,age\nsub-01,42\nthis is a CSV table, not a NIfTI image\n" * 8
    (out / "not_nifti.nii").write_bytes(text)
    (out / "not_nifti.nii.gz").write_bytes(_gzip(text))
    (out / "not_nifti_name.txt").write_bytes(raw)

    _save(lr[:, :, 0], lr_affine, out / "image_2d.nii.gz")
    _save(np.stack([lr, lr, lr], axis=-1), lr_affine, out / "image_4d.nii.gz")
    _save(np.zeros((8, 0, 6), np.float32), lr_affine, out / "zero_dim.nii.gz")

    nan = lr.copy()
    nan[1, 2, 3] = nan[4, 4, 4] = nan[7, 0, 5] = np.nan
    _save(nan, lr_affine, out / "nan_voxels.nii.gz")
    inf = lr.copy()
    inf[0, 0, 0], inf[5, 5, 5] = np.inf, -np.inf
    _save(inf, lr_affine, out / "inf_voxels.nii.gz")

    singular = lr_affine.copy()
    singular[:3, 1] = 0.0
    _save(lr, None, out / "singular_affine.nii.gz", header_affine=singular)
    infinite = lr_affine.copy()
    infinite[0, 0] = np.inf
    _save(lr, None, out / "nonfinite_affine.nii.gz", header_affine=infinite)
    nan_origin = lr_affine.copy()
    nan_origin[1, 3] = np.nan
    _save(lr, None, out / "nan_affine.nii.gz", header_affine=nan_origin)

    _save(lr.astype(np.complex64), lr_affine, out / "complex64.nii.gz")
    rgb = np.zeros(lr.shape, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["R"] = (lr / 4).astype(np.uint8)
    _save(rgb, lr_affine, out / "rgb24.nii.gz")

    unreadable = out / "unreadable.nii.gz"
    if unreadable.exists():
        unreadable.chmod(0o600)
    _save(lr, lr_affine, unreadable)
    unreadable.chmod(0o000)
    (out / "directory.nii.gz").mkdir(exist_ok=True)
    _save(smooth_volume((8, 8, 1), seed=3).numpy(), hr_affine, out / "one_slice_hr.nii.gz")

    _save(np.full((6, 6, 4), 250.0, np.float32), lr_affine, out / "constant.nii.gz")
    _save(smooth_volume((11, 9, 7), seed=4).numpy(), hr_affine, out / "odd_hr.nii.gz")
    _save(smooth_volume((3, 3, 2), seed=5).numpy(), lr_affine, out / "tiny_lr.nii.gz")


GOOD_TOML = """\
# A valid configuration over the corpus' good volumes.
[datasets.corpus-train]
paths = ["good_hr.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[datasets.corpus-test]
paths = ["odd_hr.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.corpus]
kind = "insample"
train = "corpus-train"
test = "corpus-test"
"""


def _write_configs(out: Path) -> None:
    (out / "good.toml").write_text(GOOD_TOML)
    (out / "malformed.toml").write_text('[datasets.corpus-test\npaths = ["odd_hr.nii.gz"]\n')
    (out / "unknown_key.toml").write_text(GOOD_TOML.replace('test = "corpus-test"', 'tset = "corpus-test"'))
    (out / "unknown_dataset.toml").write_text(GOOD_TOML.replace('test = "corpus-test"', 'test = "corpus-tset"'))
    (out / "missing_volume.toml").write_text(GOOD_TOML.replace('paths = ["odd_hr.nii.gz"]', 'paths = ["missing_subject.nii.gz"]'))
    (out / "bad_volume.toml").write_text(GOOD_TOML.replace('paths = ["odd_hr.nii.gz"]', 'paths = ["nan_voxels.nii.gz"]'))
    injection = f"__import__('pathlib').Path('{MARKER}').touch()"
    (out / "code_in_config.toml").write_text(
        GOOD_TOML.replace('contrast = "T1w"\nanatomy = "brain"\n\n[datasets.corpus-test]', f'contrast = "{injection}"\nanatomy = "brain"\n\n[datasets.corpus-test]')
        .replace('paths = ["odd_hr.nii.gz"]', f'paths = ["{injection}"]')
    )


class _PicklePayload:
    """Unpickling this object calls ``open(path, "w")``: it creates the marker file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _write_checkpoints(out: Path, *, method: str) -> list[str]:
    """Write the checkpoint files; returns the names of :data:`CHECKPOINT_FILES` not written.

    ``other_method.safetensors`` is saved for :func:`other_method` of ``method`` and
    ``truncated.safetensors`` for ``method``, the method the test feeds them to.
    """
    import torch
    from safetensors.torch import save_file

    torch.save({"generator": _PicklePayload(str(out / MARKER)), "weight": torch.zeros(2)}, out / "pickle_payload.safetensors")
    torch.save({"conv.weight": torch.zeros(4, 1, 3, 3, 3), "conv.bias": torch.zeros(4)}, out / "pickle_state.pt")
    (out / "not_a_checkpoint.safetensors").write_bytes(_rng(6).bytes(4096))
    raw = out / "truncated_raw.safetensors"
    save_file({"generator.conv.weight": torch.ones(8, 1, 3, 3, 3)}, str(raw), metadata={"format": "pt"})
    data = raw.read_bytes()
    raw.write_bytes(data[: len(data) - 300])

    try:
        from srbench.training.checkpoint import save_checkpoint
    except ImportError:
        return sorted(CHECKPOINT_FILES)
    network = torch.nn.Conv3d(1, 1, 3, padding=1)
    for name, saved_for in (("other_method.safetensors", other_method(method)), ("truncated.safetensors", method)):
        save_checkpoint(
            out / name,
            method=saved_for,
            kind="model",
            config={"method": saved_for},
            modules={"generator": network},
            iteration=1,
        )
    data = (out / "truncated.safetensors").read_bytes()
    (out / "truncated.safetensors").write_bytes(data[: len(data) - 64])
    return []


def all_files(out: Path | None = None) -> dict[str, str]:
    """Every corpus entry → what is wrong with it (``out`` fills in the config texts' paths)."""
    configs = {name: text for name, (text, _) in _toml_cases(out or Path("/corpus")).items()}
    headers = {name: text for name, (text, _) in {**HEADER_CASES, **VALID_HEADER_CASES}.items()}
    return {**FILES, **CHECKPOINT_FILES, **headers, **VALUE_FILES, **configs, **CHECKPOINT_VARIANTS, **STORE_FILES}


def other_method(method: str) -> str:
    """The method named inside ``other_method.safetensors`` when the corpus targets ``method``."""
    return "esrgan3d" if method != "esrgan3d" else "trigan"


# -- NIfTI headers: fields patched in the raw bytes of a valid file ------------------------------
#: byte offset and struct format of the NIfTI-1 header fields the corpus breaks
HEADER_FIELDS: dict[str, tuple[int, str]] = {
    "sizeof_hdr": (0, "<i"),
    "dim": (40, "<8h"),
    "datatype": (70, "<h"),
    "bitpix": (72, "<h"),
    "pixdim": (76, "<8f"),
    "vox_offset": (108, "<f"),
    "scl_slope": (112, "<f"),
    "scl_inter": (116, "<f"),
    "qform_code": (252, "<h"),
    "sform_code": (254, "<h"),
    "quatern": (256, "<3f"),
    "qoffset": (268, "<3f"),
    "srow_x": (280, "<4f"),
    "srow_y": (296, "<4f"),
    "srow_z": (312, "<4f"),
    "magic": (344, "4s"),
}

_NAN, _INF = float("nan"), float("inf")
_LR_DIM = (3, 8, 8, 6, 1, 1, 1, 1)
_LR_PIXDIM = (1.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0)
_NO_CODES = {"qform_code": 0, "sform_code": 0}

#: file name → (what is wrong, header fields to set); the base is a valid float32 8x8x6 volume
#: with 2 mm voxels (sform code 2, qform code 0). ``.nii.gz`` names are written compressed.
#: valid borderline headers: NIfTI readers (nibabel, and srbench) take a NaN scl_slope as
#: "unscaled", and nibabel itself writes NaN slopes for unscaled images
VALID_HEADER_CASES: dict[str, tuple[str, dict]] = {
    "valid_slope_nan.nii": ("scl_slope = NaN, scl_inter = NaN: unscaled (as nibabel writes)", {"scl_slope": _NAN, "scl_inter": _NAN}),
}

HEADER_CASES: dict[str, tuple[str, dict]] = {
    "hdr_dtype_0.nii": ("datatype code 0 (DT_UNKNOWN)", {"datatype": 0, "bitpix": 0}),
    "hdr_dtype_255.nii": ("datatype code 255 (no such code)", {"datatype": 255}),
    "hdr_dtype_255.nii.gz": ("gzip-compressed, datatype code 255 (no such code)", {"datatype": 255}),
    "hdr_dtype_binary.nii": ("datatype code 1 (DT_BINARY, one bit per voxel)", {"datatype": 1, "bitpix": 1}),
    "hdr_dtype_negative.nii": ("datatype code -16", {"datatype": -16}),
    "hdr_dtype_rgba32.nii": ("datatype code 2304 (RGBA32, same size as float32)", {"datatype": 2304, "bitpix": 32}),
    "hdr_dtype_complex128.nii": ("datatype code 1792 (complex128)", {"datatype": 1792, "bitpix": 128}),
    "hdr_dtype_float128.nii": ("datatype code 1536 (float128)", {"datatype": 1536, "bitpix": 128}),
    "hdr_dim0_8.nii": ("dim[0] = 8 (more than the 7 dimensions NIfTI allows)", {"dim": (8, 8, 8, 6, 1, 1, 1, 1)}),
    "hdr_dim0_0.nii": ("dim[0] = 0", {"dim": (0, 8, 8, 6, 1, 1, 1, 1)}),
    "hdr_dim0_negative.nii": ("dim[0] = -3", {"dim": (-3, 8, 8, 6, 1, 1, 1, 1)}),
    "hdr_dim0_negative.nii.gz": ("gzip-compressed, dim[0] = -3", {"dim": (-3, 8, 8, 6, 1, 1, 1, 1)}),
    "hdr_dim_negative.nii": ("dim[2] = -8", {"dim": (3, 8, -8, 6, 1, 1, 1, 1)}),
    "hdr_dim_huge.nii": ("dims 32767^3 in a file holding 8x8x6 voxels", {"dim": (3, 32767, 32767, 32767, 1, 1, 1, 1)}),
    "hdr_dim_4d_zero.nii": ("dim[0] = 4 with dim[4] = 0 (an empty time series)", {"dim": (4, 8, 8, 6, 0, 1, 1, 1)}),
    "hdr_voxoffset_negative.nii": ("vox_offset = -352", {"vox_offset": -352.0}),
    "hdr_voxoffset_negative.nii.gz": ("gzip-compressed, vox_offset = -352", {"vox_offset": -352.0}),
    "hdr_voxoffset_huge.nii": ("vox_offset = 1e10 (far past the end of the file)", {"vox_offset": 1e10}),
    "hdr_voxoffset_past_end.nii": ("vox_offset = 4096 in a 1888-byte file", {"vox_offset": 4096.0}),
    "hdr_voxoffset_nan.nii": ("vox_offset = NaN", {"vox_offset": _NAN}),
    "hdr_voxoffset_inside_header.nii": ("vox_offset = 100, inside the 348-byte header", {"vox_offset": 100.0}),
    "hdr_slope_inf.nii": ("scl_slope = +inf", {"scl_slope": _INF, "scl_inter": 0.0}),
    "hdr_slope_inf.nii.gz": ("gzip-compressed, scl_slope = +inf", {"scl_slope": _INF, "scl_inter": 0.0}),
    "hdr_inter_nan.nii": ("scl_slope = 1, scl_inter = NaN", {"scl_slope": 1.0, "scl_inter": _NAN}),
    "hdr_inter_neg_inf.nii": ("scl_slope = 1, scl_inter = -inf", {"scl_slope": 1.0, "scl_inter": -_INF}),
    "hdr_pixdim_zero_nocodes.nii": ("pixdim[1] = 0 with qform_code = sform_code = 0", {"pixdim": (1.0, 0.0, 2.0, 2.0, 0, 0, 0, 0), **_NO_CODES}),
    "hdr_pixdim_negative_nocodes.nii": ("pixdim[2] = -2 with qform_code = sform_code = 0", {"pixdim": (1.0, 2.0, -2.0, 2.0, 0, 0, 0, 0), **_NO_CODES}),
    "hdr_pixdim_nan_nocodes.nii": ("pixdim[3] = NaN with qform_code = sform_code = 0", {"pixdim": (1.0, 2.0, 2.0, _NAN, 0, 0, 0, 0), **_NO_CODES}),
    "hdr_pixdim_inf_nocodes.nii": ("pixdim[1] = inf with qform_code = sform_code = 0", {"pixdim": (1.0, _INF, 2.0, 2.0, 0, 0, 0, 0), **_NO_CODES}),
    "hdr_pixdim_zero_nocodes.nii.gz": ("gzip-compressed, all pixdim 0 with qform_code = sform_code = 0", {"pixdim": (1.0, 0.0, 0.0, 0.0, 0, 0, 0, 0), **_NO_CODES}),
    "hdr_pixdim_zero_qform.nii": (
        "pixdim[3] = 0 with qform_code = 1 (the qform's voxel size is zero), sform_code = 0",
        {"pixdim": (1.0, 2.0, 2.0, 0.0, 0, 0, 0, 0), "qform_code": 1, "sform_code": 0, "quatern": (0.0, 0.0, 0.0)},
    ),
    "hdr_pixdim_zero_sform.nii": (
        "pixdim all 0 and an sform (code 1) whose rows are all zero, qform_code = 0",
        {"pixdim": (1.0, 0.0, 0.0, 0.0, 0, 0, 0, 0), "qform_code": 0, "sform_code": 1,
         "srow_x": (0.0, 0.0, 0.0, 0.0), "srow_y": (0.0, 0.0, 0.0, 0.0), "srow_z": (0.0, 0.0, 0.0, 0.0)},
    ),
    "hdr_quatern_nan.nii": ("qform_code = 1 with quatern_b = NaN, sform_code = 0", {"qform_code": 1, "sform_code": 0, "quatern": (_NAN, 0.0, 0.0)}),
    "hdr_qoffset_inf.nii": ("qform_code = 1 with qoffset_x = inf, sform_code = 0", {"qform_code": 1, "sform_code": 0, "quatern": (0.0, 0.0, 0.0), "qoffset": (_INF, 0.0, 0.0)}),
    "hdr_sizeof_hdr_540.nii": ("sizeof_hdr = 540 (NIfTI-2's) in a NIfTI-1 file", {"sizeof_hdr": 540}),
    "hdr_magic_pair.nii": ("magic 'ni1' (header of a .hdr/.img pair) in a single .nii file", {"magic": b"ni1\0"}),
}


def _patched_header(raw: bytes, fields: dict) -> bytes:
    import struct

    data = bytearray(raw)
    for name, value in fields.items():
        offset, fmt = HEADER_FIELDS[name]
        values = value if isinstance(value, tuple) else (value,)
        struct.pack_into(fmt, data, offset, *values)
    return bytes(data)


def _write_headers(out: Path) -> None:
    import struct

    lr = smooth_volume((8, 8, 6), seed=2).numpy()
    raw = _nifti_bytes(lr, _oblique_affine((2.0, 2.0, 2.0)))
    for name, (_, fields) in {**HEADER_CASES, **VALID_HEADER_CASES}.items():
        data = _patched_header(raw, fields)
        (out / name).write_bytes(_gzip(data) if name.endswith(".gz") else data)
    for name, size in (("hdr_extension_huge.nii", 2**30), ("hdr_extension_negative.nii", -16)):
        # one 16-byte extension record between the header and the voxels (vox_offset 368),
        # whose size field lies
        data = bytearray(_patched_header(raw[:352], {"vox_offset": 368.0}))
        data[348] = 1  # "an extension follows"
        data += struct.pack("<ii", size, 0) + b"srbench!" + raw[352:]
        (out / name).write_bytes(bytes(data))
    crc = bytearray(_gzip(raw))
    crc[-8] ^= 0xFF  # the gzip trailer's CRC-32 no longer matches the data
    (out / "crc_corrupt.nii.gz").write_bytes(bytes(crc))
    ints = (lr / 10).round().astype(np.int16)
    scaled = _patched_header(_nifti_bytes(ints, _oblique_affine((2.0, 2.0, 2.0))), {"scl_slope": 1e38, "scl_inter": 0.0})
    (out / "hdr_slope_overflow.nii").write_bytes(scaled)


# -- voxel values and data types ------------------------------------------------------------
def _write_values(out: Path) -> None:
    affine = _oblique_affine((2.0, 2.0, 2.0))
    lr = smooth_volume((8, 8, 6), seed=2).numpy()
    huge = lr.astype(np.float64) * 1e300
    _save(huge, affine, out / "float64_beyond_float32.nii.gz")
    _save(lr.astype(np.float64), affine, out / "good_float64.nii.gz")
    _save((lr / 4).astype(np.uint8), affine, out / "good_uint8.nii.gz")
    extreme = np.full((16, 16, 12), 3.0e38, np.float32)
    extreme[::2] = -3.0e38
    extreme[:, :, 6:] = 3.2e38
    _save(extreme, _oblique_affine((1.0, 1.0, 1.0)), out / "near_float32_max_hr.nii.gz")
    _save(extreme[::2, ::2, ::2].copy(), affine, out / "near_float32_max_lr.nii.gz")
    import nibabel as nib

    nib.save(nib.Nifti2Image(lr, affine), str(out / "good_nifti2.nii.gz"))
    nan = lr.copy()
    nan[2, 2, 2] = np.nan
    for name in NASTY_NAMES:
        _save(nan, affine, out / name)
    _save(smooth_volume((24, 24, 24), seed=7).numpy(), _oblique_affine((1.0, 1.0, 1.0)), out / "ev_hr.nii.gz")
    text_only = out / "text_only"
    text_only.mkdir(exist_ok=True)
    (text_only / "subjects.csv").write_text("subject,age\nsub-01,42\n")
    (text_only / "README.txt").write_text("no image in this folder\n")
    dotdot = out / "dotdot_subject"
    dotdot.mkdir(exist_ok=True)
    _save(smooth_volume((24, 24, 24), seed=8).numpy(), _oblique_affine((1.0, 1.0, 1.0)), dotdot / "...nii.gz")
    control = out / "control_subject"
    control.mkdir(exist_ok=True)
    _save(smooth_volume((24, 24, 24), seed=9).numpy(), _oblique_affine((1.0, 1.0, 1.0)), control / "sub\n01\x1b[2J.nii.gz")


#: file names with a newline or terminal control characters (each holds a NaN voxel)
NASTY_NAMES = ("nan_new\nline.nii.gz", "nan_esc\x1b[2J\x07.nii.gz")


# -- decompression bombs: the header claims more than the limit -------------------------------
#: LR shape of ``bomb_lr.nii.gz``: below the voxel limit itself, above it once super-resolved ×2
BOMB_SHAPE = (400, 400, 400)


def _write_bombs(out: Path) -> None:
    header = bytearray(_nifti_bytes(np.zeros((2, 2, 2), np.float32), _oblique_affine((2.0, 2.0, 2.0)))[:352])
    header = bytearray(_patched_header(bytes(header), {"dim": (3, *BOMB_SHAPE, 1, 1, 1, 1)}))
    # a multi-member gzip (valid, and read as one stream): the header, then one compressed
    # 4 MiB block of zeros repeated until the voxel data is complete
    block = 1 << 22
    total = 4 * int(np.prod(BOMB_SHAPE))
    chunks = [_gzip(bytes(header))] + [_gzip(bytes(block))] * (total // block)
    if total % block:
        chunks.append(_gzip(bytes(total % block)))
    (out / "bomb_lr.nii.gz").write_bytes(b"".join(chunks))
    huge = _patched_header(bytes(header), {"dim": (3, 2048, 2048, 2048, 1, 1, 1, 1)})
    (out / "bomb_header_only.nii.gz").write_bytes(_gzip(huge + bytes(1 << 20)))


# -- configurations -------------------------------------------------------------------------------
EVAL_TOML = """\
# A valid, evaluable configuration: one 24^3 subject, track 'corpus'.
[datasets.corpus-test]
paths = ["ev_hr.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.corpus]
kind = "ood"
test = "corpus-test"
"""

_DATASET = '[datasets.corpus-test]\npaths = ["ev_hr.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n'
_TRACK = '[tracks.corpus]\nkind = "ood"\ntest = "corpus-test"\n'


def _with(old: str, new: str) -> str:
    assert old in EVAL_TOML, old
    return EVAL_TOML.replace(old, new)


def _toml_cases(out: Path) -> dict[str, tuple[str, str]]:
    """config file name → (what is wrong, text)."""
    escaped_abs = (out / "escaped_abs").as_posix()
    return {
        "evaluable.toml": ("a valid config over ev_hr.nii.gz (track 'corpus')", EVAL_TOML),
        "t_datasets_int.toml": ("datasets = 5", "datasets = 5\n" + _TRACK),
        "t_tracks_int.toml": ("tracks = 5", "tracks = 5\n" + _DATASET),
        "t_dataset_str.toml": ("a dataset that is a string, not a table", '[datasets]\ncorpus-test = "ev_hr.nii.gz"\n' + _TRACK),
        "t_track_list.toml": ("tracks = [..] (an array)", 'tracks = ["corpus"]\n' + _DATASET),
        "t_test_list.toml": ("test = [\"corpus-test\"] (an array instead of a name)", _with('test = "corpus-test"', 'test = ["corpus-test"]')),
        "t_test_int.toml": ("test = 5", _with('test = "corpus-test"', "test = 5")),
        "t_test_table.toml": ("test = {name = ...} (an inline table)", _with('test = "corpus-test"', 'test = {name = "corpus-test"}')),
        "t_paths_int_list.toml": ("paths = [42]", _with('paths = ["ev_hr.nii.gz"]', "paths = [42]")),
        "t_paths_int.toml": ("paths = 42", _with('paths = ["ev_hr.nii.gz"]', "paths = 42")),
        "t_paths_nested.toml": ("paths = [[\"ev_hr.nii.gz\"]]", _with('paths = ["ev_hr.nii.gz"]', 'paths = [["ev_hr.nii.gz"]]')),
        "t_paths_empty.toml": ("paths = [] (nothing to evaluate)", _with('paths = ["ev_hr.nii.gz"]', "paths = []")),
        "t_paths_nul.toml": ("a path holding a NUL character", _with('paths = ["ev_hr.nii.gz"]', 'paths = ["ev_hr\\u0000.nii.gz"]')),
        "t_paths_etc_passwd.toml": ("paths = [\"/etc/passwd\"]", _with('paths = ["ev_hr.nii.gz"]', 'paths = ["/etc/passwd"]')),
        "t_paths_text_only.toml": ("a glob that matches only non-NIfTI files", _with('paths = ["ev_hr.nii.gz"]', 'paths = ["text_only/*"]')),
        "t_paths_directory.toml": ("a path naming a directory", _with('paths = ["ev_hr.nii.gz"]', 'paths = ["text_only"]')),
        "t_select_ab.toml": ("select = \"a:b\"", _with('anatomy = "brain"\n', 'anatomy = "brain"\nselect = "a:b"\n')),
        "t_select_int.toml": ("select = 5", _with('anatomy = "brain"\n', 'anatomy = "brain"\nselect = 5\n')),
        "t_select_three.toml": ("select = \"0:1:2\"", _with('anatomy = "brain"\n', 'anatomy = "brain"\nselect = "0:1:2"\n')),
        "t_contrast_int.toml": ("contrast = 5", _with('contrast = "T1w"', "contrast = 5")),
        "t_anatomy_table.toml": ("anatomy = {organ = ...}", _with('anatomy = "brain"', 'anatomy = {organ = "brain"}')),
        "t_root_int.toml": ("root = 5", _with('anatomy = "brain"\n', 'anatomy = "brain"\nroot = 5\n')),
        "t_bids_int.toml": ("bids = 5 instead of paths", _with('paths = ["ev_hr.nii.gz"]', "bids = 5")),
        "t_reader_unknown.toml": ("reader = \"niftii\" (no such reader)", _with('anatomy = "brain"\n', 'anatomy = "brain"\nreader = "niftii"\n')),
        "t_scale_str.toml": ("scale = \"two\"", _with('kind = "ood"', 'kind = "ood"\nscale = "two"')),
        "t_scale_zero.toml": ("scale = 0", _with('kind = "ood"', 'kind = "ood"\nscale = 0')),
        "t_scale_negative.toml": ("scale = -2", _with('kind = "ood"', 'kind = "ood"\nscale = -2')),
        "t_scale_bool.toml": ("scale = true", _with('kind = "ood"', 'kind = "ood"\nscale = true')),
        "t_scale_two_axes.toml": ("scale = [2, 2] (two factors)", _with('kind = "ood"', 'kind = "ood"\nscale = [2, 2]')),
        "t_scale_nan.toml": ("scale = nan", _with('kind = "ood"', 'kind = "ood"\nscale = nan')),
        "t_scale_inf.toml": ("scale = inf", _with('kind = "ood"', 'kind = "ood"\nscale = inf')),
        "t_scale_bigint.toml": ("scale = 99999999999999999999 (beyond 64 bits)", _with('kind = "ood"', 'kind = "ood"\nscale = 99999999999999999999')),
        "t_scale_fraction_linear.toml": ("scale = 1.5 with the integer-only paper-linear degradation", _with('kind = "ood"', 'kind = "ood"\nscale = 1.5\ndegradation = "paper-linear"')),
        "t_degradation_unknown.toml": ("degradation = \"paper-linaer\"", _with('kind = "ood"', 'kind = "ood"\ndegradation = "paper-linaer"')),
        "t_degradation_int.toml": ("degradation = 5", _with('kind = "ood"', 'kind = "ood"\ndegradation = 5')),
        "t_kind_int.toml": ("kind = 3", _with('kind = "ood"', "kind = 3")),
        "t_description_int.toml": ("description = 5", _with('kind = "ood"', 'kind = "ood"\ndescription = 5')),
        "t_models_from_int.toml": ("models_from = 5", _with('kind = "ood"', 'kind = "ood"\nmodels_from = 5')),
        "t_track_dotdot.toml": ("a track named '../../escaped'", _with("[tracks.corpus]", '[tracks."../../escaped"]')),
        "t_track_absolute.toml": ("a track named with an absolute path inside the corpus", _with("[tracks.corpus]", f'[tracks."{escaped_abs}"]')),
        "t_track_newline.toml": ("a track name holding a newline", _with("[tracks.corpus]", '[tracks."cor\\npus"]')),
        "t_track_empty_name.toml": ("a track named ''", _with("[tracks.corpus]", '[tracks.""]')),
        "t_dataset_dotdot.toml": ("a dataset named '../../escaped'", EVAL_TOML.replace("corpus-test", "../../escaped").replace("[datasets.../../escaped]", '[datasets."../../escaped"]')),
        "t_subject_dotdot.toml": ("the subject id of '...nii.gz' is '..'", _with('paths = ["ev_hr.nii.gz"]', 'paths = ["dotdot_subject/...nii.gz"]')),
        "t_subject_control.toml": ("a subject id with a newline and an escape sequence", _with('paths = ["ev_hr.nii.gz"]', 'paths = ["control_subject/*.nii.gz"]')),
        "t_utf8_invalid.toml": ("bytes that are not UTF-8", ""),
        "t_data_root.toml": ("a dataset under $SRBENCH_DATA_ROOT (unset or wrong in the cases)", _with('anatomy = "brain"\n', 'anatomy = "brain"\nroot = "data-root"\n')),
        "t_duplicate_subject.toml": ("one file listed twice under two spellings (subject 'ev_hr' twice)", _with('paths = ["ev_hr.nii.gz"]', 'paths = ["ev_hr.nii.gz", "text_only/../ev_hr.nii.gz"]')),
        "t_key_case.toml": ("'Paths' instead of 'paths'", _with("paths = ", "Paths = ")),
        "t_reader_without_key.toml": ("reader = \"bids\" in a dataset that has 'paths' but no 'bids' folder", _with('anatomy = "brain"\n', 'anatomy = "brain"\nreader = "bids"\n')),
        "t_deep_nesting.toml": ("an array nested 20,000 deep (a recursive parser overflows)", _with('contrast = "T1w"', "contrast = " + "[" * 20000 + "]" * 20000)),
    }


def _write_configs_extra(out: Path) -> None:
    for name, (_, text) in _toml_cases(out).items():
        (out / name).write_text(text)
    (out / "t_utf8_invalid.toml").write_bytes(EVAL_TOML.replace("T1w", "T1w\udcff").encode("utf-8", "surrogateescape"))


# -- checkpoints with broken metadata or weights ---------------------------------------------------
#: checkpoint file name → what is wrong with it (all saved for the corpus' learned method)
CHECKPOINT_VARIANTS: dict[str, str] = {
    "ckpt_valid.safetensors": "a valid model checkpoint with untrained weights (cpu preset)",
    "ckpt_nan_weights.safetensors": "a valid checkpoint whose first weight tensor is all NaN",
    "ckpt_inf_weights.safetensors": "a valid checkpoint with one +inf weight",
    "ckpt_no_config.safetensors": "metadata without 'config'",
    "ckpt_config_not_json.safetensors": "metadata 'config' that is not JSON",
    "ckpt_config_list.safetensors": "metadata 'config' that is a JSON array",
    "ckpt_config_missing_key.safetensors": "a network field removed from the stored config",
    "ckpt_config_mistyped.safetensors": "a network width stored as the string 'many'",
    "ckpt_config_fraction.safetensors": "a network width stored as 16.5",
    "ckpt_config_negative.safetensors": "a network width of -4",
    "ckpt_config_zero.safetensors": "a network width of 0",
    "ckpt_config_huge.safetensors": "a network width of 2**40",
    "ckpt_iteration_negative.safetensors": "iteration = '-1'",
    "ckpt_iteration_huge.safetensors": "iteration beyond 64 bits",
    "ckpt_iteration_mistyped.safetensors": "iteration = 'ten'",
    "ckpt_no_method.safetensors": "metadata without 'method'",
    "ckpt_no_format.safetensors": "metadata without 'srbench.format'",
    "ckpt_kind_unknown.safetensors": "kind = 'weights'",
    "ckpt_wrong_shape.safetensors": "one weight tensor with the wrong shape",
    "ckpt_missing_tensor.safetensors": "one weight tensor removed",
    "ckpt_extra_tensor.safetensors": "an extra weight tensor the network does not have",
    "ckpt_header_lies_size.safetensors": "safetensors header: a tensor whose shape needs more bytes than its offsets give",
    "ckpt_header_overlap.safetensors": "safetensors header: two tensors at the same bytes",
    "ckpt_header_huge_length.safetensors": "safetensors header length field of 2**40",
    "ckpt_metadata_not_strings.safetensors": "safetensors __metadata__ with a number value",
    "ckpt_empty.safetensors": "a zero-byte file",
    "ckpt_config_deep.safetensors": "metadata 'config' nested 100,000 arrays deep (a recursive JSON parser overflows)",
    "ckpt_config_nan.safetensors": "a network width stored as NaN (JSON extension accepted by Python)",
}

#: config keys tried, in order, as 'the network width' of a stored config
WIDTH_KEYS = ("nf", "num_features", "features", "channels", "width", "base_channels")


def _width_key(config: dict) -> str:
    for key in WIDTH_KEYS:
        if isinstance(config.get(key), int) and not isinstance(config.get(key), bool):
            return key
    return next(k for k, v in config.items() if isinstance(v, int) and not isinstance(v, bool) and v > 1)


def _raw_safetensors(header: dict, data: bytes) -> bytes:
    import json

    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def _write_checkpoint_variants(out: Path, *, method: str) -> list[str]:
    """Write :data:`CHECKPOINT_VARIANTS` for ``method``; returns the names not written."""
    import json

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    try:
        from srbench.plugins import PluginManager
        from srbench.training.checkpoint import save_checkpoint
        from srbench.training.config import config_to_dict, resolve_config

        trainer = PluginManager().get("trainer", method)
        config = resolve_config(trainer, preset="cpu", overrides={})
        torch.manual_seed(0)
        algorithm = trainer.build(config, device="cpu")
        module_key = getattr(PluginManager().get("model", method), "module_key", "generator")
        modules = {module_key: algorithm.modules[module_key]} if module_key in algorithm.modules else algorithm.modules
        save_checkpoint(out / "ckpt_valid.safetensors", method=method, kind="model", config=config_to_dict(config), modules=modules, iteration=0)
    except Exception:  # noqa: BLE001 - a checkout without this trainer: those cases are skipped
        return sorted(CHECKPOINT_VARIANTS)
    with safe_open(str(out / "ckpt_valid.safetensors"), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    stored = json.loads(metadata["config"])
    width = _width_key(stored)
    weight_key = next(k for k in sorted(tensors) if k.startswith(f"module/{module_key}/") and k.endswith("weight") and tensors[k].dim() >= 2)

    def variant(name: str, *, meta: dict | None = None, drop: tuple[str, ...] = (), config: dict | None = None, tensors_: dict | None = None) -> None:
        new_meta = {k: v for k, v in {**metadata, **(meta or {})}.items() if k not in drop}
        if config is not None:
            new_meta["config"] = json.dumps(config)
        save_file(tensors if tensors_ is None else tensors_, str(out / name), metadata=new_meta)

    nan = dict(tensors)
    nan[weight_key] = torch.full_like(tensors[weight_key], float("nan"))
    variant("ckpt_nan_weights.safetensors", tensors_=nan)
    inf = dict(tensors)
    inf[weight_key] = tensors[weight_key].clone()
    inf[weight_key].view(-1)[0] = float("inf")
    variant("ckpt_inf_weights.safetensors", tensors_=inf)
    variant("ckpt_no_config.safetensors", drop=("config",))
    variant("ckpt_config_not_json.safetensors", meta={"config": '{"' + width + '": 16,'})
    variant("ckpt_config_list.safetensors", meta={"config": "[1, 2, 3]"})
    variant("ckpt_config_missing_key.safetensors", config={k: v for k, v in stored.items() if k != width})
    for name, value in (("mistyped", "many"), ("fraction", stored[width] + 0.5), ("negative", -4), ("zero", 0), ("huge", 2**40)):
        variant(f"ckpt_config_{name}.safetensors", config={**stored, width: value})
    variant("ckpt_config_deep.safetensors", meta={"config": "[" * 100000 + "]" * 100000})
    variant("ckpt_config_nan.safetensors", meta={"config": json.dumps({**stored, width: float("nan")})})
    variant("ckpt_iteration_negative.safetensors", meta={"iteration": "-1"})
    variant("ckpt_iteration_huge.safetensors", meta={"iteration": "9" * 30})
    variant("ckpt_iteration_mistyped.safetensors", meta={"iteration": "ten"})
    variant("ckpt_no_method.safetensors", drop=("method",))
    variant("ckpt_no_format.safetensors", drop=("srbench.format",))
    variant("ckpt_kind_unknown.safetensors", meta={"kind": "weights"})
    shaped = dict(tensors)
    shaped[weight_key] = torch.zeros(*[n + 1 for n in tensors[weight_key].shape])
    variant("ckpt_wrong_shape.safetensors", tensors_=shaped)
    variant("ckpt_missing_tensor.safetensors", tensors_={k: v for k, v in tensors.items() if k != weight_key})
    variant("ckpt_extra_tensor.safetensors", tensors_={**tensors, weight_key.rsplit("/", 1)[0] + "/bogus.weight": torch.zeros(3, 3)})

    meta = {"__metadata__": metadata}
    entry = {"dtype": "F32", "shape": [1000], "data_offsets": [0, 16]}
    (out / "ckpt_header_lies_size.safetensors").write_bytes(_raw_safetensors({**meta, weight_key: entry}, bytes(16)))
    shape = list(tensors[weight_key].shape)
    size = 4 * int(np.prod(shape))
    overlap = {**meta, weight_key: {"dtype": "F32", "shape": shape, "data_offsets": [0, size]},
               weight_key + "_twin": {"dtype": "F32", "shape": shape, "data_offsets": [0, size]}}
    (out / "ckpt_header_overlap.safetensors").write_bytes(_raw_safetensors(overlap, bytes(size)))
    (out / "ckpt_header_huge_length.safetensors").write_bytes((2**40).to_bytes(8, "little") + b'{"__metadata__":{}}' + bytes(64))
    bad_meta = {"__metadata__": {**metadata, "iteration": 5}, "x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    (out / "ckpt_metadata_not_strings.safetensors").write_bytes(_raw_safetensors(bad_meta, bytes(8)))
    (out / "ckpt_empty.safetensors").write_bytes(b"")
    return []


# -- results stores ------------------------------------------------------------------------------
STORE_FILES: dict[str, str] = {
    "store_valid.sqlite": "a results store written by `srbench evaluate` on evaluable.toml (as written: WAL)",
    "store_rollback.sqlite": "store_valid.sqlite switched to journal_mode = DELETE (a read must not switch it back to WAL)",
    "store_random.sqlite": "8 KiB of random bytes",
    "store_corrupt_pages.sqlite": "store_rollback.sqlite with a valid first page and random bytes in every later page",
    "store_truncated.sqlite": "the first half of store_rollback.sqlite",
    "store_foreign.sqlite": "a valid SQLite database written by another program (a 'customers' table)",
    "store_empty.sqlite": "a zero-byte file",
    "store_newer_schema.sqlite": "store_rollback.sqlite claiming schema version 999 (written by a future srbench)",
}


def _write_stores(out: Path) -> list[str]:
    """Build ``store_valid.sqlite`` with the real CLI (in this process), then the broken stores derived from it."""
    import contextlib
    import io
    import sqlite3

    valid = out / "store_valid.sqlite"
    if not valid.exists():
        argv = [
            "evaluate", "--config", str(out / "evaluable.toml"), "--track", "corpus", "--method", "trilinear",
            "--results", str(valid), "--no-save-predictions", "--device", "cpu",
        ]
        messages = io.StringIO()
        code: object = 1
        try:
            from srbench.cli import main as cli_main

            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(messages):
                cli_main(argv)
        except SystemExit as exc:
            code = exc.code
        except Exception as exc:  # noqa: BLE001 - reported below; the store cases are then skipped
            messages.write(f"{type(exc).__name__}: {exc}")
        if code not in (0, None) or not valid.exists():
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{valid}{suffix}").unlink(missing_ok=True)
            print(f"could not build store_valid.sqlite: {messages.getvalue().strip()[-500:]}", file=sys.stderr)
            return sorted(STORE_FILES)
    import gc

    gc.collect()  # close the connection evaluate left to the garbage collector, then fold its WAL in
    connection = sqlite3.connect(str(valid))
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    rollback = out / "store_rollback.sqlite"
    rollback.write_bytes(valid.read_bytes())
    connection = sqlite3.connect(str(rollback))
    connection.execute("PRAGMA journal_mode = DELETE")
    connection.close()
    data = rollback.read_bytes()
    page = int.from_bytes(data[16:18], "big") or 65536
    noise = _rng(11).bytes(len(data))
    (out / "store_corrupt_pages.sqlite").write_bytes(data[:page] + noise[page:])
    (out / "store_truncated.sqlite").write_bytes(data[: len(data) // 2])
    (out / "store_random.sqlite").write_bytes(_rng(12).bytes(8192))
    foreign = out / "store_foreign.sqlite"
    foreign.unlink(missing_ok=True)
    connection = sqlite3.connect(str(foreign))
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.execute("INSERT INTO customers (name) VALUES ('Ada'), ('Grace')")
    connection.commit()
    connection.close()
    (out / "store_empty.sqlite").write_bytes(b"")
    newer = out / "store_newer_schema.sqlite"
    newer.write_bytes(data)
    connection = sqlite3.connect(str(newer))
    connection.execute("UPDATE schema_version SET version = 999")
    connection.commit()
    connection.close()
    return []


#: the files written by the writers above, with what is wrong with each (merged into FILES)
VALUE_FILES: dict[str, str] = {
    "float64_beyond_float32.nii.gz": "float64 voxels near 1e303: finite, but infinite once read as float32",
    "good_float64.nii.gz": "valid LR volume stored as float64",
    "good_uint8.nii.gz": "valid LR volume stored as uint8",
    "good_nifti2.nii.gz": "valid LR volume in the NIfTI-2 format",
    "near_float32_max_hr.nii.gz": "finite float32 HR volume with values of ±3e38 (a float32 block mean overflows)",
    "near_float32_max_lr.nii.gz": "finite float32 LR volume with values of ±3e38",
    "ev_hr.nii.gz": "valid HR volume 24^3 (large enough for SSIM), the subject of evaluable.toml",
    "text_only": "a folder holding only a .csv and a .txt file",
    "dotdot_subject": "a folder holding a valid volume named '...nii.gz' (subject id '..')",
    "control_subject": "a folder holding a valid volume whose name has a newline and an escape sequence",
    "hdr_slope_overflow.nii": "int16 voxels with scl_slope = 1e38: infinite once scaled",
    "hdr_extension_huge.nii": "a 16-byte header extension whose size field claims 1 GiB (vox_offset 368)",
    "hdr_extension_negative.nii": "a 16-byte header extension whose size field is -16 (vox_offset 368)",
    "crc_corrupt.nii.gz": "a gzip stream whose CRC-32 does not match its data",
    "bomb_lr.nii.gz": "a ~250 kB gzip whose header claims 400^3 float32 voxels (256 MB), above the voxel limit once super-resolved",
    "bomb_header_only.nii.gz": "a ~1 kB gzip whose header claims 2048^3 float32 voxels (32 GiB)",
    **{name: "valid NaN-voxel volume under a name with control characters" for name in NASTY_NAMES},
}


def generate(out: Path, *, checkpoint_method: str = "trigan") -> list[str]:
    """Write the whole corpus into ``out`` (created if needed).

    Args:
        out: the directory to fill.
        checkpoint_method: the learned method the checkpoint cases are fed to.

    Returns the names of files that could not be written in this checkout: the
    checkpoints when ``srbench.training.checkpoint`` or the method's trainer is missing,
    the stores when ``srbench evaluate`` (run in this process on ``evaluable.toml``) fails.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_volumes(out)
    _write_headers(out)
    _write_values(out)
    _write_bombs(out)
    _write_configs(out)
    _write_configs_extra(out)
    missing = _write_checkpoints(out, method=checkpoint_method)
    missing += _write_checkpoint_variants(out, method=checkpoint_method)
    missing += _write_stores(out)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="trigan", help="learned method the checkpoint cases target (default: trigan)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "bad", help="directory to write (default: tests/data/bad next to this script)")
    args = parser.parse_args(argv)
    missing = generate(args.out, checkpoint_method=args.method)
    written = sorted(p.name for p in args.out.iterdir())
    print(f"wrote {len(written)} corpus entries to {args.out}", file=sys.stderr)
    for name in missing:
        print(f"skipped {name}: srbench.training.checkpoint is not available", file=sys.stderr)
    if os.geteuid() == 0:
        print("note: running as root, so unreadable.nii.gz is still readable", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
