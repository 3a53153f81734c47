"""Cross-validation folds of a ``kind = "cv"`` track (``folds = "subject"``).

Leave-one-subject-out: the track's ``test`` dataset has ``n`` subjects, sorted by id;
fold ``k`` (1-based, ``1 ≤ k ≤ n``) holds out the ``k``-th subject for testing and trains
on the other ``n - 1``. Each method therefore has ``n`` models on such a track, and every
subject is scored once, by the model that never saw it. Training (``srbench train
--track NAME [--fold K]``) and evaluation (``srbench evaluate --track NAME``) both take
their folds from :func:`subject_folds`, so they always agree on which model belongs to
which subject.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from srbench.errors import InputError
from srbench.interfaces import SubjectFile

if TYPE_CHECKING:
    from srbench.config import BenchmarkConfig, TrackSpec
    from srbench.plugins import PluginManager

#: run directories of a cross-validation track hold one sub-directory per fold, named so
FOLD_DIR_PREFIX = "fold-"


@dataclasses.dataclass(frozen=True)
class Fold:
    """One fold of a leave-one-subject-out split.

    Attributes:
        number: 1-based fold number (the position of ``test`` among the sorted subjects).
        count: number of folds (= number of subjects).
        test: the held-out subject.
        train: the other subjects, sorted by id.
    """

    number: int
    count: int
    test: SubjectFile
    train: tuple[SubjectFile, ...]

    @property
    def directory(self) -> str:
        """The fold's sub-directory in a run directory, ``fold-<number>``."""
        return f"{FOLD_DIR_PREFIX}{self.number}"

    def record(self) -> dict[str, object]:
        """What a run record stores about the fold (JSON-ready)."""
        return {"fold": self.number, "folds": self.count, "held_out": self.test.subject}


def subject_folds(subjects: Sequence[SubjectFile], *, track: str) -> list[Fold]:
    """Leave-one-subject-out folds of ``subjects`` (sorted by id here, whatever their order).

    Raises:
        InputError: fewer than two subjects, or two subjects with the same id.
    """
    ordered = sorted(subjects, key=lambda s: s.subject)
    ids = [s.subject for s in ordered]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise InputError(f"track '{track}': subject id(s) {', '.join(repeated)} appear twice; folds need unique ids")
    if len(ordered) < 2:
        raise InputError(
            f"track '{track}' is a cross-validation track but its dataset has {len(ordered)} subject; "
            "leave-one-subject-out needs at least 2"
        )
    return [
        Fold(number=k + 1, count=len(ordered), test=subject, train=tuple(ordered[:k] + ordered[k + 1 :]))
        for k, subject in enumerate(ordered)
    ]


def track_folds(config: BenchmarkConfig, track: TrackSpec, pm: PluginManager) -> list[Fold]:
    """The folds of cross-validation ``track`` (its ``test`` dataset's subjects)."""
    if not track.cross_validated:
        raise InputError(f"track '{track.name}' is of kind '{track.kind}', not a cross-validation (cv) track")
    return subject_folds(config.subjects(track.test, pm), track=track.name)


def select_folds(folds: Sequence[Fold], number: int | None, *, track: str) -> list[Fold]:
    """``folds`` (``number`` None) or the one fold ``number`` (1-based).

    Raises:
        InputError: ``number`` is not between 1 and the number of folds.
    """
    if number is None:
        return list(folds)
    if not 1 <= number <= len(folds):
        raise InputError(f"--fold {number}: track '{track}' has folds 1 to {len(folds)} (one per subject)")
    return [folds[number - 1]]
