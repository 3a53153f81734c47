"""Grid and affine arithmetic between HR, LR and SR volumes.

Convention (the paper's ×2 linear down-sampling): each LR voxel covers ``s`` consecutive
HR voxels along an axis with scale ``s``, and its centre is the mean of their centres.
With ``M = diag(s, 1) + offset (s − 1)/2``, the LR affine is ``A_hr @ M``. Super-resolution
inverts it: ``A_sr = A_lr @ M⁻¹`` puts the SR output exactly on the HR grid.

HR sizes that are not a multiple of the scale are cropped at the end (the last slice(s)
along that axis are dropped) before degradation; the metrics compare against the
cropped HR volume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from srbench.errors import InputError
from srbench.interfaces import Scale


def parse_scale(value: float | str | Sequence[float], *, source: str = "scale") -> Scale:
    """Normalise ``2``, ``"2"``, ``"2,2,1"`` or ``[2, 2, 1]`` into a per-axis scale.

    Each factor must be a finite number ≥ 1; the error names ``source``.
    """
    if isinstance(value, str):
        parts: list[float | str] = [p for p in value.replace("x", ",").split(",") if p.strip()]
    elif isinstance(value, (int, float)):
        parts = [value]
    else:
        parts = list(value)
    try:
        factors = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise InputError(f"{source}: invalid scale {value!r} (expected a number or three numbers, e.g. 2 or 2,2,1)") from None
    if len(factors) == 1:
        factors *= 3
    if len(factors) != 3 or not all(math.isfinite(f) and f >= 1 for f in factors):
        raise InputError(f"{source}: invalid scale {value!r} (expected one or three finite factors >= 1, e.g. 2 or 2,2,1)")
    if max(factors) > 16:
        raise InputError(f"{source}: invalid scale {value!r} (factors above 16 are not supported)")
    return (factors[0], factors[1], factors[2])


def integer_scale(scale: Scale, *, source: str = "scale") -> tuple[int, int, int]:
    """The scale as integers; degradations need integer factors."""
    if not all(float(f).is_integer() for f in scale):
        raise InputError(f"{source}: degradation needs integer factors, got {scale}")
    return (int(scale[0]), int(scale[1]), int(scale[2]))


def _grid_matrix(scale: Sequence[float]) -> np.ndarray:
    m = np.eye(4)
    for axis, s in enumerate(scale):
        m[axis, axis] = s
        m[axis, 3] = (s - 1.0) / 2.0
    return m


def lr_affine(hr_affine: np.ndarray, scale: Sequence[float]) -> np.ndarray:
    """Affine of the LR grid whose voxels each cover ``scale`` HR voxels."""
    return hr_affine @ _grid_matrix(scale)


def sr_affine(lr_affine_: np.ndarray, scale: Sequence[float]) -> np.ndarray:
    """Affine of the SR grid ``scale`` times finer than the LR grid (inverse of :func:`lr_affine`)."""
    return lr_affine_ @ np.linalg.inv(_grid_matrix(scale))


def sr_shape(lr_shape: Sequence[int], scale: Sequence[float]) -> tuple[int, int, int]:
    """Output shape for an LR shape: ``round(n · s)`` per axis (at least 1)."""
    return tuple(max(1, int(round(n * s))) for n, s in zip(lr_shape, scale, strict=True))  # type: ignore[return-value]


def effective_scale(lr_shape: Sequence[int], scale: Sequence[float]) -> Scale:
    """The exact per-axis factor ``n_out / n`` realised by :func:`sr_shape` (non-integer scales)."""
    out = sr_shape(lr_shape, scale)
    return tuple(o / n for o, n in zip(out, lr_shape, strict=True))  # type: ignore[return-value]


def cropped_hr_shape(hr_shape: Sequence[int], scale: Sequence[int]) -> tuple[int, int, int]:
    """The HR shape after dropping trailing slices so each axis is a multiple of its scale."""
    return tuple((n // s) * s for n, s in zip(hr_shape, scale, strict=True))  # type: ignore[return-value]


#: largest distance between an output's affine and the SR grid, as a fraction of the
#: smallest voxel size (1e-4 of a voxel: float32 round trips of the header pass, a
#: half-voxel or one-voxel shift is refused)
AFFINE_TOLERANCE = 1e-4


def grid_offset(affine: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute difference between two 4 × 4 affines, in units of the smallest
    voxel size of ``expected`` (``inf`` for a malformed or non-finite ``affine``)."""
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        return math.inf
    spacing = float(np.min(np.linalg.norm(expected[:3, :3], axis=0)))
    return float(np.abs(affine - expected).max()) / spacing
