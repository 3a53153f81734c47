"""A folder of submitted SR volumes, matched to a track's subjects and checked before scoring.

Naming: one file per subject, ``<subject>.nii.gz`` or ``<subject>.nii`` directly in the
folder, where ``<subject>`` is the subject id as one path component (the
``prediction_file`` of the inputs manifest). Files whose name starts with ``.`` are
ignored; anything else that is not a subject of the track is an error, so a file meant
for another track, a misspelt id or a forgotten subject is never scored silently.

Each file passes the NIfTI gate (:mod:`srbench.io.nifti`) and must be float32 or
float64 (integer types would quantise the intensities), lie on the subject's SR grid
(the shape exactly, the affine within :data:`srbench.grid.AFFINE_TOLERANCE` of a voxel),
and not be a reference volume: a file with the sha256 of a test subject's HR file, the
same file through a link, or (checked when scored) voxels equal to the HR reference.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from srbench import grid
from srbench.errors import file_error, show
from srbench.external.inputs import MANIFEST_NAME, ExpectedSubject, is_inputs_export
from srbench.io.nifti import NIFTI_SUFFIXES, VolumeHeader, read_header
from srbench.io.paths import regular_file, same_file

#: voxel types a prediction may have
FLOAT_TYPES = (np.float32, np.float64)


@dataclasses.dataclass(frozen=True)
class Prediction:
    """A submitted file matched to its subject, header checked.

    Attributes:
        expected: the subject and the grid it must lie on.
        path: the file.
        header: its checked header.
        sha256: hex sha256 of the file (recorded with the rows).
    """

    expected: ExpectedSubject
    path: Path
    header: VolumeHeader
    sha256: str


def _stem(name: str) -> str | None:
    for suffix in sorted(NIFTI_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def match_files(folder: str | Path, expected: Sequence[ExpectedSubject], *, track: str,
                allow_missing: bool = False) -> tuple[dict[str, Path], list[str]]:
    """Map each subject of ``expected`` to its file in ``folder``.

    Returns:
        ``(files, missing)``: subject id → file, and the ids with no file (only when
        ``allow_missing``).

    Raises:
        InputError: ``folder`` is not a folder or is an inputs export; a file that is not
            a NIfTI name, not a subject of ``track``, or a second file for one subject; a
            missing subject (unless ``allow_missing``); no file at all.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise file_error(folder, "predictions folder not found or not a folder")
    if is_inputs_export(folder):
        raise file_error(folder, f"is an inputs export (it holds {MANIFEST_NAME}), not a folder of SR predictions")
    by_stem = {subject.stem: subject for subject in expected}
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise file_error(folder, f"cannot list the predictions folder ({exc.strerror or exc})") from None
    files: dict[str, Path] = {}
    for name in names:
        if name.startswith("."):
            continue
        path = folder / name
        stem = _stem(name)
        if stem is None:
            raise file_error(path, f"not a prediction file name: expected <subject>.nii.gz or <subject>.nii, one per "
                                   f"subject of track '{track}' (other files do not belong in the folder)")
        if stem not in by_stem:
            known = ", ".join(sorted(by_stem)[:8]) + (", ..." if len(by_stem) > 8 else "")
            raise file_error(path, f"'{stem}' is not a subject of track '{track}' (its subjects: {known})")
        subject = by_stem[stem]
        if subject.id in files:
            raise file_error(path, f"a second prediction for subject '{subject.id}' (also {files[subject.id].name})")
        regular_file(path, what="prediction")
        files[subject.id] = path
    missing = [subject.id for subject in expected if subject.id not in files]
    if missing and not allow_missing:
        listed = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise file_error(folder, f"no prediction for {len(missing)} of {len(expected)} subject(s) of track '{track}' "
                                 f"({listed}); --allow-missing scores the others")
    if not files:
        raise file_error(folder, f"holds no prediction for any subject of track '{track}'")
    return files, missing


def check_prediction(path: Path, expected: ExpectedSubject, *, references: dict[str, str]) -> Prediction:
    """Check one submitted file's header, grid and identity; return it with its sha256.

    Args:
        references: sha256 → subject id of every HR file of the track (a submitted
            reference is refused).
    """
    from srbench.io.hashing import sha256_file

    if same_file(path, expected.subject.path):
        raise file_error(path, f"is the HR reference file of subject '{expected.id}', not a prediction")
    digest = sha256_file(path)
    if digest in references:
        raise file_error(path, f"is the HR reference file of subject '{references[digest]}' (same sha256), "
                               "not a prediction")
    header = read_header(path)
    if header.dtype.newbyteorder("=") not in [np.dtype(t) for t in FLOAT_TYPES]:
        raise file_error(path, f"voxels are {header.dtype.name}; predictions must be float32 or float64 "
                               "(an integer type quantises the intensities)")
    if header.slope != 1.0 or header.inter != 0.0:
        raise file_error(path, "header scales the voxels (scl_slope/scl_inter); write the intensities themselves")
    if header.shape != expected.sr_shape:
        hint = " (the LR grid: is this the exported input?)" if header.shape == expected.lr_shape else ""
        raise file_error(path, f"shape {header.shape} is not the SR grid of subject '{expected.id}', "
                               f"{expected.sr_shape}{hint}")
    offset = grid.grid_offset(header.affine, expected.sr_affine)
    if offset > grid.AFFINE_TOLERANCE:
        millimetres = float(np.abs(header.affine - expected.sr_affine).max())
        raise file_error(path, f"affine is off the SR grid of subject '{expected.id}' by up to {millimetres:.4g} mm "
                               f"({offset:.3g} voxel; tolerance {grid.AFFINE_TOLERANCE:g}): write it with the "
                               "manifest's sr_affine")
    return Prediction(expected=expected, path=path, header=header, sha256=digest)


def refuse_reference_voxels(prediction: Prediction, sr: torch.Tensor, hr: torch.Tensor) -> None:
    """Refuse a prediction whose ``(W, H, D)`` voxels equal the HR reference's (a reference re-saved)."""
    if sr.shape == hr.shape and bool(torch.equal(sr, hr)):
        raise file_error(prediction.path, f"voxels equal the HR reference of subject '{prediction.expected.id}': "
                                          "a reference volume is not a prediction")


def describe_missing(missing: Sequence[str]) -> str:
    """One line naming the subjects scored without a prediction file."""
    return f"{len(missing)} subject(s) have no prediction and are not scored: {', '.join(show(m) for m in missing)}"

