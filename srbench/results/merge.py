"""Merging results stores (``srbench results merge``): the union of their rows, each kept
once, refused on any conflict; built on the store's public row API
(:meth:`~srbench.results.store.ResultsStore.table_rows`, ``insert_rows``)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from srbench.errors import InputError, SrbenchRuntimeError, file_error
from srbench.io.atomic import atomic_path
from srbench.results.schema import RowSet, check_row
from srbench.results.store import TABLES, ResultsStore

#: the tables merged, in the order their rows are written (runs before what refers to them)
MERGED_TABLES = tuple(t for t in TABLES if t != "schema_version")


@dataclasses.dataclass
class MergeReport:
    """What :func:`merge` did, counted per table."""

    runs_added: int = 0
    tracks_added: int = 0
    inputs_added: int = 0
    results_added: int = 0
    results_already_present: int = 0
    not_applicable_added: int = 0
    metric_columns_added: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)


def _values_equal(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


class _Plan:
    """The rows to write, each claimed by the first file that has its unique key."""

    def __init__(self) -> None:
        self.origin: dict[tuple, tuple[Any, Path]] = {}
        self.rows: dict[str, list[tuple[Path, dict[str, Any]]]] = {t: [] for t in MERGED_TABLES}

    def first(self, table: str, key: tuple, content: Any, path: Path, row: dict[str, Any]) -> tuple[Any, Path] | None:
        """Plan ``row`` when ``key`` is new and return None; else return what was seen first."""
        seen = self.origin.get((table, *key))
        if seen is None:
            self.origin[(table, *key)] = (content, path)
            self.rows[table].append((path, row))
        return seen

    def claim(self, table: str, key: tuple, content: Any, path: Path, row: dict[str, Any],
              describe: Callable[[], str]) -> bool:
        """Like :meth:`first`, and a different content under a seen key is a conflict;
        True when ``row`` is new."""
        seen = self.first(table, key, content, path, row)
        if seen is None:
            return True
        previous, where = seen
        same = _values_equal(previous, content) if table == "results" else previous == content
        if not same:
            raise InputError(
                f"results merge conflict: {describe()} is {previous!r} in {where} but {content!r} in {path}; "
                "remove one of the two stores (or re-evaluate into one store with --force)"
            )
        return False


def check_store_rows(store: ResultsStore, path: Path) -> None:
    """Every row of ``store`` through the typed schema (:mod:`srbench.results.schema`): a store
    from elsewhere is input like any other, refused with one line naming it and the row."""
    rows = RowSet(path)
    for table in MERGED_TABLES:
        for number, row in enumerate(store.table_rows(table), start=1):
            where = f"{table} row {number}"
            rows.add(table, check_row(table, row, source=f"{path}: {where}"), where=where)
    rows.finish()


def _plan_store(plan: _Plan, store: ResultsStore, path: Path, *, into: Path, report: MergeReport) -> None:
    for row in store.table_rows("runs"):
        key, provenance = row["run_key"], (row["srbench_version"], row["plugin_versions"], row["git_commit"])
        seen = plan.first("runs", (key,), provenance, path, row)
        if seen is not None and seen[0] != provenance:
            report.notes.append(
                f"run {key[:12]} ({row['method']}): srbench/plugin versions or git commit differ between "
                f"{seen[1]} and {path}; kept the first record"
            )
    for row in store.table_rows("tracks"):
        name = row["track"]
        plan.claim("tracks", (name,), (row["kind"], row["test_dataset"]), path, row,
                   lambda name=name: f"track '{name}' (kind, test dataset)")
    for row in store.table_rows("track_settings"):
        name = row["track"]
        plan.claim("track_settings", (name,), row["primary_metric"], path, row,
                   lambda name=name: f"the primary metric of track '{name}'")
    for row in store.table_rows("inputs"):
        key = (row["run_key"], row["track"], row["subject"], row["path"])
        plan.claim("inputs", key, row["sha256"], path, row,
                   lambda key=key: f"the sha256 of input '{key[3]}' (track '{key[1]}', subject '{key[2]}')")
    for row in store.table_rows("results"):
        key = (row["run_key"], row["subject"], row["track"], row["metric"])
        new = plan.claim(
            "results", key, float(row["value"]), path, row,
            lambda key=key: f"metric '{key[3]}' of subject '{key[1]}' on track '{key[2]}' (run {key[0][:12]})",
        )
        if not new and path != into:
            report.results_already_present += 1
    for row in store.table_rows("not_applicable"):
        plan.first("not_applicable", (row["run_key"], row["track"]), row["reason"], path, row)
    for row in store.table_rows("inference_plans"):
        key = (row["run_key"], row["track"], row["subject"])
        seen = plan.first("inference_plans", key, row["plan"], path, row)
        if seen is not None and seen[0] != row["plan"]:
            report.notes.append(
                f"the inference plan of subject '{key[2]}' on track '{key[1]}' (run {key[0][:12]}) differs between "
                f"{seen[1]} and {path} (another memory budget or device); kept the first"
            )
    for row in store.table_rows("metric_columns"):
        seen = plan.first("metric_columns", (row["name"],), row["declaration"], path, row)
        if seen is not None and seen[0] != row["declaration"]:
            report.notes.append(
                f"metric column '{row['name']}': its declaration differs between {seen[1]} and {path}; kept the first"
            )


def merge(sources: Sequence[str | Path], into: str | Path) -> MergeReport:
    """Merge results stores ``sources`` into ``into`` without duplicates.

    Rows with the same unique key and the same content are kept once. A result (or an
    input file hash, or a track definition) whose value differs between two files is a
    conflict: nothing is written and an InputError names both files. Run records (and
    metric column declarations) with the same key describe the same thing; the first one
    is kept. A new ``into`` file is built beside its final name and renamed into place
    when complete.

    Raises:
        InputError: a missing source, ``into`` among the sources, or a conflict.
    """
    into = Path(into)
    paths = [Path(s) for s in sources]
    if not paths:
        raise InputError("results merge: give at least one store to merge")
    from srbench.io.paths import check_output_file, regular_file, same_file

    for path in paths:
        regular_file(path, what="results store")
        if same_file(path, into):
            raise file_error(into, "--into must not also be one of the stores being merged")
    check_output_file(into, what="merged store")

    plan = _Plan()
    report = MergeReport()
    for path in ([into] if into.exists() else []) + paths:
        with ResultsStore(path, read_only=path != into) as store:
            check_store_rows(store, path)
            _plan_store(plan, store, path, into=into, report=report)

    def write(target: Path) -> None:
        rows = [(table, row) for table, planned in plan.rows.items() for source, row in planned if source != into]
        with ResultsStore(target) as store:
            try:
                written = store.insert_rows(rows)
            except sqlite3.IntegrityError as exc:
                raise SrbenchRuntimeError(
                    f"{into}: the store changed while merging ({exc}); stop other writers and merge again"
                ) from None
            store.checkpoint()
        for table, count in written.items():
            setattr(report, f"{table}_added", count)

    if into.exists():
        write(into)
    else:
        with atomic_path(into, suffix=".sqlite") as tmp:
            write(tmp)
            for leftover in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
    return report
