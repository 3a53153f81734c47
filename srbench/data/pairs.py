"""HR volume → (cropped HR, LR) pair with the right affines: the first step of every evaluation."""

from __future__ import annotations

import hashlib

import torch

from srbench import grid
from srbench.errors import InputError
from srbench.interfaces import Degradation, Scale, Volume


def subject_seed(*, track_seed: int, subject: str) -> int:
    """The noise seed of one subject of a track: the same on every machine and process.

    The first 8 bytes (big-endian) of ``sha256("srbench-subject-seed:<track_seed>:<subject>")``
    (UTF-8), with the top bit cleared: an int in ``[0, 2**63)``. Every method evaluated on
    the subject sees the same noisy LR, and two subjects get independent noise.
    """
    if isinstance(track_seed, bool) or not isinstance(track_seed, int) or track_seed < 0:
        raise InputError(f"track seed must be an integer ≥ 0, got {track_seed!r}")
    digest = hashlib.sha256(f"srbench-subject-seed:{track_seed}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def crop_to_scale(hr: Volume, scale: tuple[int, int, int]) -> Volume:
    """Drop trailing slices so every axis is a multiple of its scale (affine unchanged)."""
    shape = grid.cropped_hr_shape(hr.shape, scale)
    if shape == hr.shape:
        return hr
    return hr.with_data(hr.data[: shape[0], : shape[1], : shape[2]].contiguous())


def degrade_volume(hr: Volume, *, degradation: Degradation, scale: Scale, seed: int = 0) -> tuple[Volume, Volume]:
    """Crop ``hr`` to a multiple of ``scale`` and degrade it.

    Returns:
        ``(hr_cropped, lr)``: the HR reference the metrics compare against and the LR
        volume on the grid of :func:`srbench.grid.lr_affine` (``float32``, ``(W/sx, H/sy, D/sz)``).
    """
    factors = grid.integer_scale(scale, source=f"{hr.source}: scale")
    cropped = crop_to_scale(hr, factors)
    if min(n // s for n, s in zip(hr.shape, factors, strict=True)) < 1:
        raise InputError(f"{hr.source}: volume of shape {hr.shape} is smaller than the scale {factors}")
    generator = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        lr = degradation.degrade(cropped.data[None, None].to(torch.float32), scale=factors, generator=generator)[0, 0]
    return cropped, Volume(data=lr.contiguous(), affine=grid.lr_affine(hr.affine, factors), source=f"LR of {hr.source}")
