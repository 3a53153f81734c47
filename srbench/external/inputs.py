"""A track's test inputs as files, for methods srbench does not run (``srbench inputs export``).

Layout of an export folder ``DIR``::

    DIR/manifest.json                   what each file is and what to submit
    DIR/lr/<subject>.nii.gz             the LR input of each test subject
    DIR/fold-<K>/lr/<subject>.nii.gz    (cross-validation track) the subject held out by fold K

``<subject>`` is the subject id as one path component
(:func:`srbench.io.paths.path_component`); the submitted SR volume of a subject is named
the same (``<subject>.nii.gz`` or ``<subject>.nii``, see :mod:`srbench.external.predictions`).
Every LR volume is made by :func:`srbench.data.pairs.make_pair`, the function evaluation
uses, so it is bit for bit the input a plugin is given. HR volumes are never written, and
the manifest holds no path of this machine: subject ids, relative file names, hashes,
shapes and affines only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from srbench import capabilities
from srbench import grid
from srbench.errors import InputError, file_error
from srbench.folds import LEAVE_ONE_OUT, Fold, folds_by_subject, subject_folds
from srbench.interfaces import SubjectFile
from srbench.io.paths import check_creatable_dir, path_component, regular_file

if TYPE_CHECKING:
    from srbench.config import BenchmarkConfig, TrackSpec
    from srbench.plugins import PluginManager

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "srbench-inputs"
MANIFEST_VERSION = 1
#: what every manifest says about intensities and naming (the same text as docs/external.md)
SUBMISSION_RULES = (
    "Submit one SR volume per subject, named <subject>.nii.gz (or .nii) as in prediction_file, as float32 or "
    "float64 NIfTI on the subject's sr_shape and sr_affine (within grid_tolerance of a voxel), in the intensity "
    "units of its LR file."
)


@dataclasses.dataclass(frozen=True)
class ExpectedSubject:
    """One test subject of a track and the SR volume a submission must give for it.

    Attributes:
        subject: the subject (id and HR file; the file never leaves srbench).
        stem: the subject id as one path component: LR and SR files are ``<stem>.nii.gz``.
        sr_shape: ``(W, H, D)`` of the HR grid as compared (cropped to a multiple of the scale).
        sr_affine: 4 × 4 voxel → world (mm) affine of that grid.
        lr_shape: ``(W/sx, H/sy, D/sz)``: the shape of the exported input.
        fold: the cross-validation fold holding the subject out (None without folds).
    """

    subject: SubjectFile
    stem: str
    sr_shape: tuple[int, int, int]
    sr_affine: np.ndarray
    lr_shape: tuple[int, int, int]
    fold: Fold | None = None

    @property
    def id(self) -> str:
        return self.subject.subject

    @property
    def lr_file(self) -> str:
        """The LR file's path inside an export folder (POSIX, relative)."""
        folder = f"{self.fold.directory}/lr" if self.fold is not None else "lr"
        return f"{folder}/{self.stem}.nii.gz"


def expected_subjects(config: BenchmarkConfig, track: TrackSpec, *, pm: PluginManager) -> list[ExpectedSubject]:
    """Every test subject of ``track`` with its SR grid, read from the HR headers only.

    Raises:
        InputError: the track's data is missing or a file fails the NIfTI gate.
    """
    subjects = config.subjects(track.test, pm)
    folds = (folds_by_subject(subject_folds(subjects, track=track.name, folds=track.folds or LEAVE_ONE_OUT))
             if track.cross_validated else {})
    return [expected_subject(subject, track, fold=folds.get(subject.subject)) for subject in subjects]


def expected_subject(subject: SubjectFile, track: TrackSpec, *, fold: Fold | None = None) -> ExpectedSubject:
    """One subject's SR grid on ``track``, from its HR header (cropped to a multiple of the scale)."""
    from srbench.io.nifti import read_header

    factors = grid.integer_scale(track.scale, source=f"track '{track.name}': scale")
    regular_file(subject.path, what="NIfTI volume")
    header = read_header(subject.path)
    shape = grid.cropped_hr_shape(header.shape, factors)
    if min(shape) < 1:
        raise file_error(subject.path, f"volume of shape {header.shape} is smaller than the scale {factors}")
    lr_shape = tuple(n // s for n, s in zip(shape, factors, strict=True))
    return ExpectedSubject(subject=subject, stem=path_component(subject.subject), sr_shape=shape,
                           sr_affine=header.affine, lr_shape=lr_shape, fold=fold)  # type: ignore[arg-type]


def _matrix(affine: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in np.asarray(affine, dtype=np.float64)]


def manifest_header(track: TrackSpec, *, config: BenchmarkConfig, pm: PluginManager) -> dict[str, Any]:
    """The track-level fields of a manifest: what was degraded how, and the rules of a submission."""
    from srbench import __version__
    from srbench.config.document import configure
    from srbench.metrics.convention import CONVENTION_DESCRIPTION, CONVENTION_NAME

    dataset = config.dataset(track.test)
    degradation = configure(pm.get("degradation", track.degradation), track.degradation_options)
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "srbench_version": __version__,
        "track": {"name": track.name, "kind": track.kind, "test_dataset": track.test, "description": track.description,
                  "contrast": dataset.contrast, "anatomy": dataset.anatomy},
        "degradation": {"name": track.degradation, "options": dict(track.degradation_options), "seed": track.seed,
                        "description": capabilities.description(degradation)},
        "scale": [float(s) for s in track.scale],
        "intensity_convention": {"name": CONVENTION_NAME, "description": CONVENTION_DESCRIPTION},
        "grid_tolerance": grid.AFFINE_TOLERANCE,
        "submission": SUBMISSION_RULES,
    }


def _check_destination(out_dir: Path) -> None:
    """``out_dir`` must be new or an empty folder whose parent can be written."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise file_error(out_dir, "exists and is not a folder; give a new or empty folder for the inputs")
    if out_dir.exists() and any(os.scandir(out_dir)):
        raise file_error(out_dir, "folder is not empty; give a new or empty folder for the inputs")
    if not out_dir.parent.is_dir():
        raise file_error(out_dir, f"parent folder '{out_dir.parent}' does not exist")
    check_creatable_dir(out_dir, what="inputs folder")


def export_inputs(
    config: BenchmarkConfig,
    track: TrackSpec,
    out_dir: str | Path,
    *,
    pm: PluginManager,
    on_subject: Callable[[ExpectedSubject], None] = lambda subject: None,
) -> dict[str, Any]:
    """Write every test subject's LR volume of ``track`` and the manifest to ``out_dir``.

    Everything is written into a temporary folder beside ``out_dir`` and renamed into place
    at the end, so a failure or a signal leaves no partial export.

    Args:
        out_dir: a new or empty folder (its parent must exist).
        on_subject: called after each subject's LR volume is written (progress).

    Returns:
        The manifest (also written as ``out_dir/manifest.json``).

    Raises:
        InputError: ``out_dir`` is not new or empty, or an input fails its checks.
    """
    from srbench.data.pairs import make_pair
    from srbench.io.atomic import current_umask, write_text_atomic
    from srbench.io.hashing import sha256_file
    from srbench.io.nifti import save_volume

    out_dir = Path(out_dir)
    _check_destination(out_dir)
    expected = expected_subjects(config, track, pm=pm)
    manifest = manifest_header(track, config=config, pm=pm)
    if track.cross_validated:
        folds = {e.fold.number: e.fold for e in expected if e.fold is not None}
        manifest["folds"] = [
            {**fold.record(), "train_subjects": [s.subject for s in fold.train]} for _, fold in sorted(folds.items())
        ]
    staging = Path(tempfile.mkdtemp(prefix=".srbench-inputs-", dir=out_dir.parent))
    try:
        entries = []
        for subject in expected:
            pair = make_pair(track, subject.subject, pm=pm)
            target = staging / subject.lr_file
            target.parent.mkdir(parents=True, exist_ok=True)
            save_volume(pair.lr, target)
            entries.append({
                "subject": subject.id,
                "lr_file": subject.lr_file,
                "lr_sha256": sha256_file(target),
                "lr_shape": list(pair.lr.shape),
                "lr_affine": _matrix(pair.lr.affine),
                "sr_shape": list(subject.sr_shape),
                "sr_affine": _matrix(subject.sr_affine),
                "prediction_file": f"{subject.stem}.nii.gz",
                **({"fold": subject.fold.number} if subject.fold is not None else {}),
            })
            on_subject(subject)
        manifest["subjects"] = entries
        write_text_atomic(staging / MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp creates 0700
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(staging, out_dir)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        raise
    return manifest


def is_inputs_export(folder: Path) -> bool:
    """True when ``folder`` holds an srbench inputs manifest (an export, not predictions)."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            head = handle.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return f'"{MANIFEST_FORMAT}"' in head


def single_track(track_name: str, config: BenchmarkConfig) -> TrackSpec:
    """The one track named ``track_name``; a kind (``ood``, ``all``...) is refused: submissions are per track."""
    if track_name in config.tracks:
        return config.tracks[track_name]
    selected = config.select_tracks(track_name)  # unknown names get the did-you-mean error
    raise InputError(f"--track {track_name}: give one track ({', '.join(t.name for t in selected)}), "
                     "inputs and predictions are per track")
