"""The one NIfTI gate: every volume srbench reads passes :func:`read_header` then :func:`load_volume`.

The gate reads and checks the header first (at most 540 bytes, decompressing nothing
more), so a file that claims an impossible or a too large volume is refused before any
voxel is decompressed. Checked: a regular file with a ``.nii``/``.nii.gz`` name, a
NIfTI-1 or NIfTI-2 header (single file), ``dim[0]`` in 1..7 with non-negative sizes, a
3D image (a 4D image with one volume is 3D), a supported integer or float data type, a
``vox_offset`` inside the file, finite positive voxel sizes, a finite invertible
affine, finite scaling (``scl_slope``/``scl_inter``) and the voxel limit of
:mod:`srbench.io.limits`. The voxel data are then streamed from the file into one buffer
of exactly the size the header announces (a decompression bomb cannot grow past it),
scaled in float64 and stored as float32; non-finite intensities are refused.

Every problem is one :class:`~srbench.errors.InputError` naming the file; nibabel's log
messages and numpy's warnings are kept off stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import logging
import math
import struct
import warnings
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from srbench.errors import InputError, exception_line, file_error
from srbench.interfaces import Volume
from srbench.io.atomic import atomic_path
from srbench.io.paths import regular_file

SUPPORTED_DTYPES = (
    np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.int64, np.uint64,
    np.float16, np.float32, np.float64,
)
NIFTI_SUFFIXES = (".nii", ".nii.gz")
_HEADER_SIZES = {348: nib.Nifti1Header, 540: nib.Nifti2Header}
_CHUNK = 8 * 1024 * 1024
#: most bytes accepted after the voxel data of a compressed file (read to verify its CRC)
_MAX_TRAILING = 16 * 1024 * 1024
#: largest header extension region accepted between the header and the voxel data
_MAX_VOX_OFFSET = 64 * 1024 * 1024


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence nibabel's logger and numpy/Python warnings inside the block."""
    logger = logging.getLogger("nibabel.global")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


@dataclasses.dataclass(frozen=True)
class VolumeHeader:
    """What the header of a NIfTI file says, checked.

    Attributes:
        path: the file.
        shape: ``(W, H, D)`` voxels.
        zooms: voxel size in mm per axis (from the affine).
        affine: 4×4 voxel → world (mm) matrix.
        dtype: the stored data type (byte order included).
        vox_offset: byte offset of the voxel data in the (uncompressed) file.
        slope, inter: the intensity scaling applied to stored values (1, 0 when none).
        compressed: the file is gzip-compressed.
    """

    path: Path
    shape: tuple[int, int, int]
    zooms: tuple[float, float, float]
    affine: np.ndarray
    dtype: np.dtype
    vox_offset: int
    slope: float
    inter: float
    compressed: bool

    @property
    def data_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _open(path: Path, compressed: bool) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if compressed else open(path, "rb")  # noqa: SIM115 - closed by callers


def _read_prefix(path: Path, compressed: bool, size: int) -> bytes:
    try:
        with _open(path, compressed) as handle:
            return handle.read(size)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        what = "gzip stream" if compressed else "file"
        raise file_error(path, f"not a readable NIfTI file (corrupt {what}: {exception_line(exc)})") from None


def _header_class(path: Path, head: bytes) -> type:
    if len(head) < 4:
        raise file_error(path, f"not a NIfTI file (only {len(head)} bytes)")
    for order in ("<", ">"):
        size = struct.unpack(f"{order}i", head[:4])[0]
        if size in _HEADER_SIZES:
            klass = _HEADER_SIZES[size]
            if len(head) < size:
                raise file_error(path, f"not a NIfTI file (truncated header: {len(head)} of {size} bytes)")
            return klass
    raise file_error(path, "not a NIfTI file (no NIfTI-1 or NIfTI-2 header)")


def read_header(path: str | Path, *, scale: Sequence[float] = (1, 1, 1)) -> VolumeHeader:
    """Check a NIfTI file's header without reading its voxels.

    Args:
        path: a ``.nii`` or ``.nii.gz`` file.
        scale: the factor of the volume a command will make from this one (SR output);
            the voxel limit is checked for ``shape × scale``.

    Raises:
        InputError: one line naming ``path`` for anything srbench cannot use.
    """
    path = Path(path)
    if not path.name.endswith(NIFTI_SUFFIXES):
        regular_file(path, what="NIfTI volume")
        raise file_error(path, "not a NIfTI file name (expected .nii or .nii.gz)")
    regular_file(path, what="NIfTI volume")
    compressed = path.name.endswith(".gz")
    head = _read_prefix(path, compressed, 540)
    klass = _header_class(path, head)
    try:
        with quiet():
            header = klass.from_fileobj(io.BytesIO(head), check=False)
            return _checked(path, header, compressed=compressed, scale=scale)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any nibabel failure on a malformed header
        raise file_error(path, f"not a readable NIfTI header ({exception_line(exc)})") from None


def _checked(path: Path, header: nib.Nifti1Header, *, compressed: bool, scale: Sequence[float]) -> VolumeHeader:
    from srbench.io.limits import check_volume_size

    magic = bytes(header["magic"]).rstrip(b"\x00")
    if magic in (b"ni1", b"ni2"):
        raise file_error(path, "header says the voxels are in a separate .img file (pair format); convert it to a single .nii")
    if magic not in (b"n+1", b"n+2"):
        raise file_error(path, f"not a NIfTI file (magic string {magic!r})")
    dims = [int(d) for d in header["dim"]]
    ndim = dims[0]
    if not 1 <= ndim <= 7:
        raise file_error(path, f"invalid header: dim[0] = {ndim}, expected 1 to 7 dimensions")
    sizes = dims[1 : ndim + 1]
    if any(n < 0 for n in sizes):
        raise file_error(path, f"invalid header: negative image size {tuple(sizes)}")
    if any(n == 0 for n in sizes):
        raise file_error(path, f"image has a zero-sized dimension (shape {tuple(sizes)})")
    while len(sizes) > 3 and sizes[-1] == 1:
        sizes = sizes[:-1]
    if len(sizes) != 3:
        raise file_error(path, f"expected a 3D image, got {len(sizes)}D with shape {tuple(dims[1 : ndim + 1])}")
    shape = (sizes[0], sizes[1], sizes[2])
    check_volume_size(shape, tuple(scale), source=path)
    try:
        dtype = header.get_data_dtype()
    except Exception:  # noqa: BLE001 - an unknown datatype code
        raise file_error(path, f"unsupported voxel data type code {int(header['datatype'])}") from None
    if dtype.fields is not None or not any(np.dtype(dtype).newbyteorder("=") == np.dtype(t) for t in SUPPORTED_DTYPES):
        raise file_error(path, f"unsupported voxel data type {dtype} (expected integer or float)")
    vox_offset = float(header["vox_offset"])
    minimum = int(header["sizeof_hdr"]) + 4
    if vox_offset == 0:  # some writers leave it unset: the data follow the header and its extension flag
        vox_offset = float(minimum)
    if not math.isfinite(vox_offset) or vox_offset < minimum or vox_offset > _MAX_VOX_OFFSET or not vox_offset.is_integer():
        raise file_error(path, f"invalid header: vox_offset = {vox_offset!r} (expected an integer from {minimum} on)")
    slope, inter = _scaling(path, header)
    sform_code, qform_code = int(header["sform_code"]), int(header["qform_code"])
    if sform_code == 0:
        pixdim = [float(p) for p in header["pixdim"][1:4]]
        if not all(math.isfinite(p) and p > 0 for p in pixdim):
            raise file_error(path, f"invalid voxel size {tuple(pixdim)} mm in the header (pixdim must be finite and > 0)")
    affine = np.asarray(header.get_best_affine(), dtype=np.float64)
    check_affine(affine, source=path)
    zooms = tuple(float(z) for z in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))
    if not all(math.isfinite(z) and z > 0 for z in zooms):
        raise file_error(path, f"invalid voxel size {zooms} mm (from the {'sform' if sform_code else 'qform'})")
    del qform_code
    return VolumeHeader(
        path=path, shape=shape, zooms=zooms, affine=affine, dtype=np.dtype(dtype), vox_offset=int(vox_offset),
        slope=slope, inter=inter, compressed=compressed,
    )


def _scaling(path: Path, header: nib.Nifti1Header) -> tuple[float, float]:
    """The (slope, intercept) applied to stored values; NIfTI's "0 or NaN slope = none"."""
    slope, inter = float(header["scl_slope"]), float(header["scl_inter"])
    if math.isnan(slope) or slope == 0:
        return 1.0, 0.0
    if not math.isfinite(slope):
        raise file_error(path, f"invalid header: scl_slope = {slope} is not finite")
    if not math.isfinite(inter):
        raise file_error(path, f"invalid header: scl_inter = {inter} is not finite")
    return slope, inter


def _read_voxels(header: VolumeHeader) -> np.ndarray:
    """Stream exactly ``header.data_bytes`` bytes of voxel data into one buffer."""
    path = header.path
    wanted = header.data_bytes
    buffer = np.empty(wanted, dtype=np.uint8)
    view = memoryview(buffer)
    filled = 0
    try:
        with _open(path, header.compressed) as handle:
            skipped = 0
            while skipped < header.vox_offset:
                chunk = handle.read(min(_CHUNK, header.vox_offset - skipped))
                if not chunk:
                    raise file_error(path, f"file is truncated (ends before the voxel data at byte {header.vox_offset})")
                skipped += len(chunk)
            while filled < wanted:
                count = handle.readinto(view[filled : filled + min(_CHUNK, wanted - filled)])
                if not count:
                    raise file_error(path, f"file is truncated ({filled:,} of {wanted:,} bytes of voxel data)")
                filled += count
            if header.compressed:  # read to the end, so gzip checks its CRC and length trailer
                trailing = 0
                while chunk := handle.read(_CHUNK):
                    trailing += len(chunk)
                    if trailing > _MAX_TRAILING:
                        raise file_error(path, f"file has more than {_MAX_TRAILING // 2**20} MiB of data after the voxels")
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise file_error(path, f"file is truncated or corrupt ({exception_line(exc)})") from None
    return buffer.view(header.dtype).reshape(header.shape, order="F")


def load_volume(path: str | Path, *, scale: Sequence[float] = (1, 1, 1)) -> Volume:
    """Read a 3D NIfTI file through the gate as a :class:`~srbench.interfaces.Volume`.

    Args:
        path: a ``.nii`` or ``.nii.gz`` file.
        scale: factor of the largest volume the caller will derive (the voxel limit is
            checked on ``shape × scale`` from the header, before reading voxels).

    Returns:
        A float32 ``(W, H, D)`` volume with its affine (mm).
    """
    header = read_header(path, scale=scale)
    with quiet():
        stored = _read_voxels(header)
        if (header.slope, header.inter) == (1.0, 0.0):
            array = stored.astype(np.float32)
        else:
            array = (stored.astype(np.float64) * header.slope + header.inter).astype(np.float32)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise file_error(header.path, f"image contains {bad} NaN or infinite voxel(s) (after intensity scaling, as float32)")
    return Volume(data=torch.from_numpy(np.ascontiguousarray(array)), affine=header.affine, source=str(header.path))


def check_affine(affine: np.ndarray, *, source: str | Path) -> None:
    """Raise an InputError naming ``source`` unless ``affine`` is a finite invertible 4×4."""
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise file_error(source, "affine contains NaN or infinite values")
    with np.errstate(all="ignore"):
        det = float(np.linalg.det(affine[:3, :3]))
    if not np.isfinite(det) or abs(det) < 1e-12:
        raise file_error(source, "affine is singular (zero voxel size or degenerate axes)")


def check_finite_volume(volume: Volume, *, what: str) -> None:
    """Refuse a volume with NaN or infinite voxels; ``what`` says whose it is (method, subject...)."""
    finite = torch.isfinite(volume.data)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise InputError(f"{what}: {bad:,} of {volume.data.numel():,} voxels are NaN or infinite")


def save_volume(volume: Volume, path: str | Path) -> None:
    """Write ``volume`` as float32 NIfTI atomically (the parent directory must exist).

    A volume with NaN or infinite voxels is refused (nothing is written).
    """
    path = Path(path)
    if not path.name.endswith(NIFTI_SUFFIXES):
        raise file_error(path, "output must be a NIfTI file name ending in .nii or .nii.gz")
    check_finite_volume(volume, what=f"{path}: refusing to write")
    array = volume.data.detach().to(torch.float32).cpu().numpy()
    with quiet():
        image = nib.Nifti1Image(array, volume.affine)
        image.set_qform(volume.affine, code=1)
        image.set_sform(volume.affine, code=1)
        with atomic_path(path) as tmp:
            nib.save(image, str(tmp))



