"""Cross-validation folds of a ``kind = "cv"`` track.

Two schemes, both over the track's ``test`` dataset with its ``n`` subjects sorted by id:

- ``folds = "subject"``: leave-one-subject-out. Fold ``k`` (1-based, ``1 ≤ k ≤ n``) holds
  out the ``k``-th subject and trains on the other ``n - 1``.
- ``folds = K`` (an integer, ``2 ≤ K ≤ n``): grouped K-fold. The sorted subjects are cut
  into ``K`` consecutive groups whose sizes differ by at most one (the first ``n mod K``
  groups have one subject more); fold ``k`` holds out group ``k`` and trains on the others.
  Every subject is still scored once, by a model that never saw it, at ``K`` trainings
  per method instead of ``n``.

Folds are subject-disjoint by construction: a subject id appears once, in one held-out
group. Training (``srbench train --track NAME [--fold K]``) and evaluation (``srbench
evaluate --track NAME``) both take their folds from :func:`subject_folds`, so they always
agree on which model belongs to which subject.
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
#: ``folds = "subject"``: one fold per subject
LEAVE_ONE_OUT = "subject"


@dataclasses.dataclass(frozen=True)
class Fold:
    """One fold of a cross-validation split.

    Attributes:
        number: 1-based fold number (the position of its held-out group among the folds).
        count: number of folds.
        held_out: the subjects the fold's model never sees and is tested on, sorted by id.
        train: the other subjects, sorted by id.
    """

    number: int
    count: int
    held_out: tuple[SubjectFile, ...]
    train: tuple[SubjectFile, ...]

    @property
    def directory(self) -> str:
        """The fold's sub-directory in a run directory, ``fold-<number>``."""
        return f"{FOLD_DIR_PREFIX}{self.number}"

    @property
    def held_out_ids(self) -> list[str]:
        """The held-out subjects' ids, sorted."""
        return [s.subject for s in self.held_out]

    def describe_held_out(self) -> str:
        """The held-out subject ids for a message (``sub-01, sub-02``)."""
        return ", ".join(self.held_out_ids)

    def record(self) -> dict[str, object]:
        """What a run record stores about the fold (JSON-ready): ``held_out`` is the subject
        id for a leave-one-subject-out fold and the list of ids for a grouped fold."""
        ids = self.held_out_ids
        return {"fold": self.number, "folds": self.count, "held_out": ids[0] if len(ids) == 1 else ids}


def scheme_error(folds: object, subjects: int) -> str | None:
    """Why the fold scheme ``folds`` cannot split ``subjects`` subjects (None when it can)."""
    if subjects < 2:
        return f"cross-validation needs at least 2 subjects, the dataset has {subjects}"
    if isinstance(folds, int) and not 2 <= folds <= subjects:
        return f"folds = {folds} needs between 2 and {subjects} folds for {subjects} subjects"
    return None


def describe_scheme(folds: object, subjects: int | None = None) -> str:
    """The scheme in words, for a board or a message."""
    if isinstance(folds, int):
        return (f"grouped {folds}-fold cross-validation: the subjects, sorted by id, are cut into {folds} "
                "consecutive groups of near-equal size; fold k holds out group k and its model is trained on all "
                "the other groups")
    return "leave-one-subject-out cross-validation: fold k holds out the k-th subject (sorted by id) and its model "\
           "is trained on all the others"


def subject_folds(subjects: Sequence[SubjectFile], *, track: str, folds: str | int = LEAVE_ONE_OUT) -> list[Fold]:
    """The folds of ``subjects`` (sorted by id here, whatever their order) under scheme ``folds``.

    Args:
        subjects: the cross-validation dataset's subjects.
        track: the track's name, for messages.
        folds: ``"subject"`` (leave-one-subject-out) or the number of subject groups.

    Raises:
        InputError: fewer than two subjects, more folds than subjects, or two subjects with
            the same id.
    """
    ordered = sorted(subjects, key=lambda s: s.subject)
    ids = [s.subject for s in ordered]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise InputError(f"track '{track}': subject id(s) {', '.join(repeated)} appear twice; folds need unique ids")
    problem = scheme_error(folds, len(ordered))
    if problem is not None:
        raise InputError(f"track '{track}': {problem}")
    count = folds if isinstance(folds, int) else len(ordered)
    size, extra = divmod(len(ordered), count)
    out: list[Fold] = []
    start = 0
    for k in range(count):
        stop = start + size + (1 if k < extra else 0)
        out.append(Fold(number=k + 1, count=count, held_out=tuple(ordered[start:stop]),
                        train=tuple(ordered[:start] + ordered[stop:])))
        start = stop
    return out


def folds_by_subject(folds: Sequence[Fold]) -> dict[str, Fold]:
    """Subject id → the fold that holds it out."""
    return {subject.subject: fold for fold in folds for subject in fold.held_out}


def track_folds(config: BenchmarkConfig, track: TrackSpec, pm: PluginManager) -> list[Fold]:
    """The folds of cross-validation ``track`` (its ``test`` dataset's subjects)."""
    if not track.cross_validated:
        raise InputError(f"track '{track.name}' is of kind '{track.kind}', not a cross-validation (cv) track")
    return subject_folds(config.subjects(track.test, pm), track=track.name, folds=track.folds or LEAVE_ONE_OUT)


def select_folds(folds: Sequence[Fold], number: int | None, *, track: str) -> list[Fold]:
    """``folds`` (``number`` None) or the one fold ``number`` (1-based).

    Raises:
        InputError: ``number`` is not between 1 and the number of folds.
    """
    if number is None:
        return list(folds)
    if not 1 <= number <= len(folds):
        raise InputError(f"--fold {number}: track '{track}' has folds 1 to {len(folds)}")
    return [folds[number - 1]]
