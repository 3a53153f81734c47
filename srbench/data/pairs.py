"""HR volume → (cropped HR, LR) pair with the right affines: the first step of every evaluation."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from srbench import grid
from srbench.errors import InputError
from srbench.interfaces import Degradation, Scale, SubjectFile, Volume
from srbench.stage_times import StageTimes

if TYPE_CHECKING:
    from srbench.config import TrackSpec
    from srbench.plugins import PluginManager


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


@dataclasses.dataclass(frozen=True)
class SubjectPair:
    """One test subject of a track made ready to score: its HR reference and the LR input.

    Attributes:
        subject: the subject id.
        path: the HR file it was read from.
        sha256: hex sha256 of that file (recorded with every row scored on it).
        seed: the subject's noise seed (:func:`subject_seed`).
        hr: the HR reference as compared (cropped to a multiple of the scale), ``(W, H, D)``.
        lr: the degraded input on the LR grid, ``(W/sx, H/sy, D/sz)`` float32.
    """

    subject: str
    path: Path
    sha256: str
    seed: int
    hr: Volume
    lr: Volume


def make_pair(track: TrackSpec, subject: SubjectFile, *, pm: PluginManager, times: StageTimes | None = None) -> SubjectPair:
    """Load, hash and degrade one subject of ``track`` exactly as evaluation does.

    The one place where a track's LR volume is made: ``evaluate``, ``verify``,
    ``inputs export`` and ``score`` all call it, so an exported LR volume is the one a
    plugin would have been given. ``times`` (optional) gets the ``load`` and ``degrade`` stages.
    """
    from srbench.config.document import configure
    from srbench.io.hashing import sha256_file
    from srbench.io.nifti import load_volume

    times = times if times is not None else StageTimes()
    with times.stage("load"):
        hr_raw = load_volume(subject.path)
        digest = sha256_file(subject.path)
    with times.stage("degrade"):
        degradation = configure(pm.get("degradation", track.degradation), track.degradation_options)
        seed = subject_seed(track_seed=track.seed, subject=subject.subject)
        hr, lr = degrade_volume(hr_raw, degradation=degradation, scale=track.scale, seed=seed)
    return SubjectPair(subject=subject.subject, path=Path(subject.path), sha256=digest, seed=seed, hr=hr, lr=lr)
