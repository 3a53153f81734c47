"""Up-front size limits, so that a volume too large fails with advice instead of an OOM kill."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from srbench.errors import InputError

MAX_VOXELS_ENV = "SRBENCH_MAX_VOXELS"
DEFAULT_MAX_VOXELS = 768**3  # SR output voxels; two float32 buffers of this size ≈ 3.6 GB


def max_output_voxels() -> int:
    """The limit on SR output voxels (``$SRBENCH_MAX_VOXELS`` or the default)."""
    raw = os.environ.get(MAX_VOXELS_ENV)
    if not raw:
        return DEFAULT_MAX_VOXELS
    try:
        value = int(float(raw))
    except (ValueError, OverflowError):
        raise InputError(f"{MAX_VOXELS_ENV}={raw!r} is not a finite number of voxels") from None
    if value < 1:
        raise InputError(f"{MAX_VOXELS_ENV}={raw!r} must be positive")
    return value


def check_volume_size(lr_shape: Sequence[int], scale: Sequence[float], *, source: str | Path) -> None:
    """Raise an InputError naming ``source`` when the SR output would exceed the voxel limit."""
    voxels = math.prod(max(1, round(n * s)) for n, s in zip(lr_shape, scale, strict=True))
    limit = max_output_voxels()
    if voxels > limit:
        raise InputError(
            f"{source}: the super-resolved volume would have {voxels:,} voxels, above the limit of "
            f"{limit:,} (about {voxels * 8 / 2**30:.1f} GiB of output buffers); raise {MAX_VOXELS_ENV} "
            "if this machine has the memory"
        )
