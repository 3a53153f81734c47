"""The one typed schema of a results row: every row srbench reads from a results export or
from another store passes :func:`check_row` before it is used or written.

Stores and exports are input like any other: a crafted file may hold extra columns (whose
names would otherwise become SQL identifiers), wrong types, NaN values, malformed hashes
or rows that contradict each other. Each table's columns are declared here with their
types; a row with a column not declared, a required column missing or a value of another
type is refused with one line naming the file, the table and the column. JSON columns
(``plugin_versions``, ``scale``, ``config``, ``plan``, ``declaration``) are stored as text
and parsed here to check their shape.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from srbench.errors import file_error

_HEX64 = re.compile(r"[0-9a-f]{64}")
#: the longest text accepted in a name-like column (a method, track, subject, metric)
MAX_NAME = 512
#: the longest free text (a reason, a path, a JSON column)
MAX_TEXT = 1_000_000


def _text(limit: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and len(v) <= limit


def _name(v: Any) -> bool:
    return isinstance(v, str) and 0 < len(v) <= MAX_NAME and v.isprintable()


def _hex(v: Any) -> bool:
    return isinstance(v, str) and bool(_HEX64.fullmatch(v))


def _json(shape: type | tuple[type, ...]) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        if not isinstance(v, str) or len(v) > MAX_TEXT:
            return False
        try:
            parsed = json.loads(v)
        except ValueError:
            return False
        return isinstance(parsed, shape)

    return check


def _scale(v: Any) -> bool:
    if not _json(list)(v):
        return False
    values = json.loads(v)
    return len(values) == 3 and all(isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s >= 1
                                    for s in values)


def _versions(v: Any) -> bool:
    return _json(dict)(v) and all(isinstance(k, str) and isinstance(x, str) for k, x in json.loads(v).items())


def _value(v: Any) -> bool:
    """A metric value: a number, finite or ±infinity (a PSNR of identical volumes), never NaN."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


#: table → column → (check, required, what the check expects)
COLUMNS: dict[str, dict[str, tuple[Callable[[Any], bool], bool, str]]] = {
    "schema_version": {"version": (lambda v: isinstance(v, int) and not isinstance(v, bool), True, "an integer")},
    "runs": {
        "run_key": (_hex, True, "a sha256 (64 lowercase hex digits)"),
        "method": (_name, True, "a name"),
        "checkpoint_path": (_optional(_text(4096)), False, "a path or null"),
        "checkpoint_sha256": (_optional(_hex), False, "a sha256 or null"),
        "srbench_version": (_text(MAX_NAME), True, "a version"),
        "plugin_versions": (_versions, True, "a JSON object of version strings"),
        "git_commit": (_optional(_text(MAX_NAME)), False, "a commit or null"),
        "degradation": (_name, True, "a name"),
        "intensity_convention": (_name, True, "a name"),
        "scale": (_scale, True, "a JSON list of three factors >= 1"),
        "config": (_json(dict), True, "a JSON object"),
        "created_at": (_text(MAX_NAME), True, "a time"),
    },
    "tracks": {
        "track": (_name, True, "a name"),
        "kind": (_name, True, "a name"),
        "test_dataset": (_name, True, "a name"),
        "train_dataset": (_optional(_name), False, "a name or null"),
    },
    "inputs": {
        "run_key": (_hex, True, "a sha256"),
        "track": (_name, True, "a name"),
        "subject": (_name, True, "a name"),
        "path": (_text(4096), True, "a path"),
        "sha256": (_hex, True, "a sha256"),
    },
    "results": {
        "run_key": (_hex, True, "a sha256"),
        "track": (_name, True, "a name"),
        "subject": (_name, True, "a name"),
        "metric": (_name, True, "a name"),
        "value": (_value, True, "a number (finite or infinite, not NaN)"),
    },
    "not_applicable": {
        "run_key": (_hex, True, "a sha256"),
        "method": (_name, True, "a name"),
        "track": (_name, True, "a name"),
        "reason": (_text(MAX_TEXT), True, "a text"),
    },
    "metric_columns": {
        "name": (_name, True, "a name"),
        "declaration": (_json(dict), True, "a JSON object"),
    },
    "track_settings": {
        "track": (_name, True, "a name"),
        "primary_metric": (_name, True, "a name"),
    },
    "inference_plans": {
        "run_key": (_hex, True, "a sha256"),
        "track": (_name, True, "a name"),
        "subject": (_name, True, "a name"),
        "plan": (_json(dict), True, "a JSON object"),
    },
}


def check_row(table: str, row: Mapping[str, Any], *, source: str | Path) -> dict[str, Any]:
    """``row`` of ``table`` when every column is declared, present when required and of its
    type; else an InputError naming ``source`` (the file, with a line or row when known).

    The returned dict holds only declared columns, so no name from the data ever becomes an
    SQL identifier.
    """
    declared = COLUMNS.get(table)
    if declared is None:
        raise file_error(source, f"unknown results table {table!r}")
    if not isinstance(row, Mapping):
        raise file_error(source, f"a {table} row is not an object")
    unknown = sorted(str(k) for k in row if k not in declared)
    if unknown:
        raise file_error(source, f"{table} row has a column srbench does not know: {unknown[0]!r}")
    for column, (check, required, expected) in declared.items():
        if column not in row:
            if required:
                raise file_error(source, f"{table} row lacks the column '{column}'")
            continue
        if not check(row[column]):
            shown = repr(row[column])
            raise file_error(source, f"{table} row: '{column}' must be {expected}, got {shown[:80]}")
    return {column: row[column] for column in declared if column in row}


#: table → the columns that identify a row (a second row with the same key is refused)
KEYS: dict[str, tuple[str, ...]] = {
    "runs": ("run_key",),
    "tracks": ("track",),
    "inputs": ("run_key", "track", "subject", "path"),
    "results": ("run_key", "track", "subject", "metric"),
    "not_applicable": ("run_key", "track"),
    "metric_columns": ("name",),
    "inference_plans": ("run_key", "track", "subject"),
    "track_settings": ("track",),
}


class RowSet:
    """The rows of one file checked together: unique keys, and every row that refers to a
    run refers to one the file holds (with the same method)."""

    def __init__(self, source: str | Path) -> None:
        self.source = source
        self.seen: dict[str, set[tuple[Any, ...]]] = {table: set() for table in KEYS}
        self.methods: dict[str, str] = {}
        self.pending: list[tuple[str, Mapping[str, Any], str]] = []

    def add(self, table: str, row: Mapping[str, Any], *, where: str = "") -> None:
        """Record a checked row; ``where`` (e.g. ``line 12``) locates it in messages."""
        source = f"{self.source}: {where}" if where else self.source
        key = tuple(row[c] for c in KEYS.get(table, ()))
        if table in KEYS:
            if key in self.seen[table]:
                raise file_error(source, f"a second {table} row for {', '.join(map(str, key))[:200]} "
                                         "(duplicate rows are refused, never resolved silently)")
            self.seen[table].add(key)
        if table == "runs":
            self.methods[row["run_key"]] = row["method"]
        elif "run_key" in row:
            self.pending.append((table, row, source))

    def finish(self, *, methods: Mapping[str, str] | None = None) -> None:
        """Check every reference to a run (``methods``: run key → the method a result row
        claims, from an export's result records)."""
        for table, row, source in self.pending:
            if row["run_key"] not in self.methods:
                raise file_error(source, f"{table} row refers to run {str(row['run_key'])[:12]}, which the file does not hold")
            if table == "not_applicable" and row["method"] != self.methods[row["run_key"]]:
                raise file_error(source, f"not-applicable row names method {row['method']!r} but its run is "
                                         f"{self.methods[row['run_key']]!r}")
        for key, method in (methods or {}).items():
            if key in self.methods and method != self.methods[key]:
                raise file_error(self.source, f"a result row names method {method!r} but its run "
                                              f"{key[:12]} is {self.methods[key]!r}")
