"""Reading and writing NIfTI volumes with their affines, with one-line errors for bad files."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from srbench.errors import file_error
from srbench.interfaces import Volume
from srbench.io.atomic import atomic_path

SUPPORTED_DTYPES = (
    np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.int64, np.uint64,
    np.float16, np.float32, np.float64,
)
NIFTI_SUFFIXES = (".nii", ".nii.gz")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise file_error(path, "file not found")
    if path.is_dir():
        raise file_error(path, "is a directory, expected a NIfTI file (.nii or .nii.gz)")
    if not os.access(path, os.R_OK):
        raise file_error(path, "permission denied (file is not readable)")
    if not path.name.endswith(NIFTI_SUFFIXES):
        raise file_error(path, "not a NIfTI file name (expected .nii or .nii.gz)")


def load_volume(path: str | Path) -> Volume:
    """Read a 3D NIfTI file as a :class:`~srbench.interfaces.Volume` (float32 voxels).

    A 4D image whose last dimension is 1 is accepted as 3D. Raises
    :class:`~srbench.errors.InputError` naming ``path`` for anything else that is not a
    finite, non-empty 3D volume with an invertible affine.
    """
    path = Path(path)
    _check_file(path)
    try:
        image = nib.load(str(path))
    except (nib.filebasedimages.ImageFileError, ValueError, EOFError, OSError, zlib.error, gzip.BadGzipFile) as exc:
        raise file_error(path, f"not a readable NIfTI file ({_short(exc)})") from None
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        raise file_error(path, f"not a NIfTI image (nibabel read it as {type(image).__name__})")
    shape = tuple(int(n) for n in image.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise file_error(path, f"expected a 3D image, got {len(shape)}D with shape {tuple(image.shape)}")
    if min(shape) == 0:
        raise file_error(path, f"image has a zero-sized dimension (shape {shape})")
    from srbench.io.limits import check_volume_size

    check_volume_size(shape, (1, 1, 1), source=path)
    dtype = image.get_data_dtype()
    if dtype.fields is not None or not any(np.dtype(dtype) == np.dtype(t) for t in SUPPORTED_DTYPES):
        raise file_error(path, f"unsupported voxel data type {dtype} (expected integer or float)")
    try:
        array = np.asarray(image.dataobj, dtype=np.float32).reshape(shape)
    except (ValueError, EOFError, OSError, zlib.error, gzip.BadGzipFile) as exc:
        raise file_error(path, f"file is truncated or corrupt ({_short(exc)})") from None
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise file_error(path, f"image contains {bad} NaN or infinite voxel(s)")
    affine = np.asarray(image.affine, dtype=np.float64)
    check_affine(affine, source=path)
    return Volume(data=torch.from_numpy(np.ascontiguousarray(array)), affine=affine, source=str(path))


def check_affine(affine: np.ndarray, *, source: str | Path) -> None:
    """Raise an InputError naming ``source`` unless ``affine`` is a finite invertible 4×4."""
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise file_error(source, "affine contains NaN or infinite values")
    det = float(np.linalg.det(affine[:3, :3]))
    if not np.isfinite(det) or abs(det) < 1e-12:
        raise file_error(source, "affine is singular (zero voxel size or degenerate axes)")


def save_volume(volume: Volume, path: str | Path) -> None:
    """Write ``volume`` as float32 NIfTI atomically (the parent directory must exist)."""
    path = Path(path)
    if not path.name.endswith(NIFTI_SUFFIXES):
        raise file_error(path, "output must be a NIfTI file name ending in .nii or .nii.gz")
    array = volume.data.detach().to(torch.float32).cpu().numpy()
    image = nib.Nifti1Image(array, volume.affine)
    image.set_qform(volume.affine, code=1)
    image.set_sform(volume.affine, code=1)
    with atomic_path(path) as tmp:
        nib.save(image, str(tmp))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
