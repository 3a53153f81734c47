"""``srbench datasets check``: is the data of a datasets.toml ready for a long run?

For each dataset the selected tracks use: whether its files are found (or why not), its
subjects, the voxel sizes and orientations their headers declare, and the files that fail
the NIfTI gate (:mod:`srbench.io.nifti_check`: header, 3D shape, data type, affine and
file length, without decompressing whole volumes; ``deep`` reads every voxel as
evaluation would). For each track: runnable, skipped (its test data is not on this
machine, as ``srbench evaluate`` would skip it) or blocked (files fail the gate, the data
cannot be read, or its degradation is not installed), with the reason.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from srbench.errors import InputError
from srbench.folds import LEAVE_ONE_OUT, scheme_error
from srbench.io.nifti_check import NiftiInfo, check_nifti

#: track statuses
RUNNABLE, SKIPPED, BLOCKED = "runnable", "skipped", "blocked"
#: dataset statuses
OK, UNAVAILABLE, FAILING, UNREADABLE = "ok", "unavailable", "failing", "unreadable"


@dataclasses.dataclass(frozen=True)
class FileCheck:
    """One subject's file: its header when the header gate passed, else the problem."""

    subject: str
    path: Path
    header: NiftiInfo | None
    problem: str | None


@dataclasses.dataclass
class DatasetCheck:
    """One dataset: status (``ok``, ``unavailable``, ``failing``, ``unreadable``), message, files."""

    name: str
    contrast: str
    anatomy: str
    status: str
    message: str = ""
    files: list[FileCheck] = dataclasses.field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        return [f.subject for f in self.files]

    @property
    def failing(self) -> list[FileCheck]:
        return [f for f in self.files if f.problem is not None]

    @property
    def voxel_sizes(self) -> dict[str, int]:
        """``"0.7×0.7×0.7"`` (mm, 3 significant digits) → number of files."""
        return _count(format_voxel_size(f.header.voxel_size) for f in self.files if f.header is not None)

    @property
    def orientations(self) -> dict[str, int]:
        """Axis codes (``"RAS"``, ``"LAS"``...) → number of files."""
        return _count(f.header.orientation for f in self.files if f.header is not None)

    @property
    def shapes(self) -> dict[str, int]:
        """``"260×311×260"`` → number of files."""
        return _count("×".join(str(n) for n in f.header.shape) for f in self.files if f.header is not None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: status, message, subjects, voxel sizes, orientations, shapes, failing files."""
        return {
            "dataset": self.name,
            "contrast": self.contrast,
            "anatomy": self.anatomy,
            "status": self.status,
            "message": self.message,
            "subjects": self.subjects,
            "files": len(self.files),
            "voxel_sizes_mm": self.voxel_sizes,
            "orientations": self.orientations,
            "shapes": self.shapes,
            "failing": [{"subject": f.subject, "path": str(f.path), "problem": f.problem} for f in self.failing],
        }


@dataclasses.dataclass(frozen=True)
class TrackCheck:
    """One track: ``runnable``, ``skipped`` or ``blocked``, and why."""

    name: str
    kind: str
    test: str
    train: str | None
    degradation: str
    scale: tuple[float, ...]
    status: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"scale": list(self.scale)}


@dataclasses.dataclass
class DatasetsReport:
    """The whole check: tracks (in configuration order) and the datasets they use."""

    config: Path
    tracks: list[TrackCheck]
    datasets: list[DatasetCheck]

    @property
    def ok(self) -> bool:
        """True when no selected track is blocked."""
        return all(t.status != BLOCKED for t in self.tracks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": str(self.config),
            "ok": self.ok,
            "tracks": [t.as_dict() for t in self.tracks],
            "datasets": [d.as_dict() for d in self.datasets],
        }


def format_voxel_size(size: Sequence[float]) -> str:
    """``(0.7, 0.7, 0.7000001)`` → ``"0.7×0.7×0.7"``."""
    return "×".join(f"{v:.3g}" for v in size)


def _subject_range(subjects: Sequence[str]) -> str:
    """``"3 (s1 … s3)"``; ``"0"`` when none."""
    if not subjects:
        return "0"
    if len(subjects) == 1:
        return f"1 ({subjects[0]})"
    return f"{len(subjects)} ({subjects[0]} … {subjects[-1]})"


def _count(values: Any) -> dict[str, int]:
    return dict(sorted(collections.Counter(values).items()))


def check_dataset(
    config: Any,
    name: str,
    pm: Any,
    *,
    deep: bool = False,
    jobs: int = 4,
    on_file: Callable[[], None] | None = None,
    cache: dict[Path, FileCheck] | None = None,
) -> DatasetCheck:
    """Find ``name``'s subjects with ``config.subjects`` and check each file.

    Args:
        config: a :class:`srbench.config.BenchmarkConfig`.
        name: a dataset declared in it.
        pm: the plugin manager (its dataset readers find the files).
        deep: read every voxel too (slow: decompresses whole volumes).
        jobs: files checked in parallel threads (the work is mostly I/O).
        on_file: called after each file.
        cache: path → result, shared between datasets that use the same files.
    """
    from srbench.config import DataUnavailable

    spec = config.datasets[name]
    check = DatasetCheck(name=name, contrast=spec.contrast, anatomy=spec.anatomy, status=OK)
    try:
        subjects = config.subjects(name, pm)
    except DataUnavailable as exc:
        check.status, check.message = UNAVAILABLE, str(exc)
        return check
    except InputError as exc:
        check.status, check.message = UNREADABLE, str(exc)
        return check
    cache = {} if cache is None else cache

    def one(subject: Any) -> FileCheck:
        path = Path(subject.path)
        if path not in cache:
            header, problem = check_nifti(path, deep=deep)
            cache[path] = FileCheck(subject=subject.subject, path=path, header=header, problem=problem)
        if on_file is not None:
            on_file()
        return dataclasses.replace(cache[path], subject=subject.subject)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        check.files = list(pool.map(one, subjects))
    if check.failing:
        check.status = FAILING
        check.message = f"{len(check.failing)} of {len(check.files)} file(s) fail the NIfTI gate"
    return check


def check_track(track: Any, datasets: dict[str, DatasetCheck], pm: Any) -> TrackCheck:
    """The status of ``track`` given its datasets' checks."""
    def result(status: str, reason: str) -> TrackCheck:
        return TrackCheck(
            name=track.name, kind=track.kind, test=track.test, train=track.train, degradation=track.degradation,
            scale=tuple(float(s) for s in track.scale), status=status, reason=reason,
        )

    test = datasets[track.test]
    if test.status == UNAVAILABLE:
        return result(SKIPPED, test.message)
    try:
        pm.get("degradation", track.degradation)
    except InputError as exc:
        return result(BLOCKED, str(exc))
    problems = []
    for role, name in (("test", track.test), ("train", track.train)):
        if name is None:
            continue
        data = datasets[name]
        if data.status in (FAILING, UNREADABLE):
            problems.append(f"{role} dataset '{name}': {data.message}")
    if problems:
        return result(BLOCKED, "; ".join(problems))
    notes = [f"{len(test.files)} test subject(s)"]
    if track.cross_validated:
        scheme = track.folds or LEAVE_ONE_OUT
        problem = scheme_error(scheme, len(test.files))
        if problem is not None:
            return result(BLOCKED, f"dataset '{track.test}': {problem}")
        count = scheme if isinstance(scheme, int) else len(test.files)
        fewest, most = len(test.files) - -(-len(test.files) // count), len(test.files) - len(test.files) // count
        trained_on = str(most) if fewest == most else f"{fewest} to {most}"
        notes.append(f"{count} subject-disjoint folds, each training on {trained_on} subject(s)")
    if track.train is not None and datasets[track.train].status == UNAVAILABLE:
        notes.append(f"train dataset '{track.train}' unavailable (evaluation needs trained runs from elsewhere)")
    elif track.train is not None:
        notes.append(f"{len(datasets[track.train].files)} train subject(s)")
    return result(RUNNABLE, "; ".join(notes))


def check_datasets(
    config: Any,
    pm: Any,
    *,
    track: str = "all",
    deep: bool = False,
    jobs: int = 4,
    on_file: Callable[[], None] | None = None,
) -> DatasetsReport:
    """Check the datasets of the tracks ``config.select_tracks(track)`` selects.

    Raises:
        InputError: ``track`` names no track (nothing else: problems are reported).
    """
    tracks = config.select_tracks(track)
    names: list[str] = []
    for spec in tracks:
        for name in (spec.test, spec.train):
            if name is not None and name not in names:
                names.append(name)
    cache: dict[Path, FileCheck] = {}
    checks = {name: check_dataset(config, name, pm, deep=deep, jobs=jobs, on_file=on_file, cache=cache) for name in names}
    return DatasetsReport(
        config=Path(config.path),
        tracks=[check_track(spec, checks, pm) for spec in tracks],
        datasets=[checks[name] for name in names],
    )


def render_table(report: DatasetsReport) -> str:
    """The report as markdown tables: tracks, datasets, then every failing file."""
    import pandas as pd

    def table(rows: list[dict[str, Any]]) -> str:
        return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)

    def summary(counts: dict[str, int]) -> str:
        return ", ".join(f"{key} ({n})" for key, n in counts.items()) or "—"

    tracks = [
        {"track": t.name, "kind": t.kind, "test": t.test, "train": t.train or ("other folds" if t.kind == "cv" else "—"), "status": t.status, "why": t.reason}
        for t in report.tracks
    ]
    datasets = [
        {
            "dataset": d.name, "status": d.status, "subjects": _subject_range(d.subjects), "voxel sizes (mm)": summary(d.voxel_sizes),
            "orientations": summary(d.orientations), "failing": len(d.failing), "message": d.message or "—",
        }
        for d in report.datasets
    ]
    parts = [f"Configuration: {report.config}", "", "## Tracks", "", table(tracks), "", "## Datasets", "", table(datasets)]
    failing = [
        {"dataset": d.name, "subject": f.subject, "file": str(f.path), "problem": f.problem}
        for d in report.datasets
        for f in d.failing
    ]
    parts += ["", "## Files failing the NIfTI gate", ""]
    parts += [table(failing)] if failing else ["none"]
    return "\n".join(parts) + "\n"
