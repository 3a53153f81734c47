"""Checking NIfTI files in bulk without decompressing whole volumes.

:func:`check_nifti` runs the gate's header part (:func:`srbench.io.nifti.read_header`:
header, 3D shape, data type, voxel offset, voxel sizes, affine, voxel limit) and then a
length check that catches truncated files cheaply: an uncompressed ``.nii`` must hold
``vox_offset + voxels × bytes per voxel`` bytes, and a ``.nii.gz`` stores its uncompressed
length (mod 2³²) in its last four bytes (the gzip trailer), which must agree. Only when
the trailer disagrees (a truncated file, or one written as several gzip members) is the
file decompressed, as a stream counted in bounded pieces, to decide. NaN or infinite
voxels are only found by reading the voxels: ``deep=True`` runs the whole gate,
:func:`srbench.io.nifti.load_volume`.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from srbench.errors import InputError, file_error, show

_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class NiftiInfo:
    """What a file's checked header says.

    Attributes:
        path: the file.
        shape: voxels per axis ``(W, H, D)``.
        voxel_size: voxel edge lengths in mm (from the affine).
        orientation: world directions of the voxel axes (nibabel's ``aff2axcodes``),
            e.g. ``"RAS"`` or ``"LAS"``.
        dtype: the stored voxel type, e.g. ``"int16"``.
    """

    path: Path
    shape: tuple[int, int, int]
    voxel_size: tuple[float, float, float]
    orientation: str
    dtype: str


def check_nifti(path: str | Path, *, deep: bool = False) -> tuple[NiftiInfo | None, str | None]:
    """``(info, None)`` when ``path`` passes, ``(info or None, problem)`` when it fails.

    Args:
        path: a ``.nii`` or ``.nii.gz`` file.
        deep: also read every voxel through :func:`srbench.io.nifti.load_volume`.

    Returns:
        The header's information (None when the header itself fails) and the problem,
        one line without the path.
    """
    from srbench.io.nifti import load_volume, quiet, read_header

    path = Path(path)
    try:
        with quiet():
            header = read_header(path)
    except InputError as exc:
        return None, _without_path(exc, path)
    info = NiftiInfo(
        path=path,
        shape=tuple(int(n) for n in header.shape),  # type: ignore[arg-type]
        voxel_size=tuple(float(z) for z in header.zooms),  # type: ignore[arg-type]
        orientation="".join(str(c) for c in nib.aff2axcodes(np.asarray(header.affine))),
        dtype=str(np.dtype(header.dtype).newbyteorder("=")),
    )
    try:
        check_length(path, header.vox_offset + header.data_bytes, compressed=header.compressed)
        if deep:
            load_volume(path)
    except InputError as exc:
        return info, _without_path(exc, path)
    return info, None


def check_length(path: Path, expected: int, *, compressed: bool) -> None:
    """Raise an InputError naming ``path`` when its (uncompressed) length is below ``expected`` bytes."""
    try:
        if not compressed:
            size = path.stat().st_size
            if size < expected:
                raise file_error(path, f"file is truncated ({size:,} bytes, the header needs {expected:,})")
            return
        with path.open("rb") as handle:
            handle.seek(-4, 2)
            trailer = struct.unpack("<I", handle.read(4))[0]
    except OSError as exc:
        raise file_error(path, f"cannot read the file ({exc.strerror or exc})") from None
    if trailer == expected % 2**32:
        return
    size = gunzip_length(path)
    if size < expected:
        raise file_error(path, f"file is truncated or corrupt ({size:,} bytes after decompression, the header needs {expected:,})")


def gunzip_length(path: Path) -> int:
    """Bytes of decompressed data in ``path`` (every gzip member) up to the first error; nothing is kept."""
    total = 0
    decoder = zlib.decompressobj(wbits=31)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            pending = chunk
            while pending:
                try:
                    total += len(decoder.decompress(pending, _CHUNK))
                except zlib.error:
                    return total
                if decoder.eof:  # end of one gzip member: another may follow
                    pending = decoder.unused_data
                    decoder = zlib.decompressobj(wbits=31)
                else:
                    pending = decoder.unconsumed_tail
    try:
        total += len(decoder.flush())
    except zlib.error:
        pass
    return total


def _without_path(exc: InputError, path: Path) -> str:
    text = str(exc)
    prefix = f"{show(path)}: "
    return text[len(prefix):] if text.startswith(prefix) else text
