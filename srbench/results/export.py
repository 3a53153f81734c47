"""Results exports: every row of a store as JSON lines, committed next to the leaderboards
(``srbench results export``, ``srbench leaderboard --from``, ``srbench results import``).

The first line is the header ``{"record": "export", "format": EXPORT_FORMAT, "version":
EXPORT_VERSION, "schema_version": ...}``; every other line is one row, ``{"record": KIND,
...}`` with KIND one of ``run``, ``track``, ``input``, ``result``, ``not_applicable`` and
(from version 2) ``column``, a metric column's declaration, and ``plan``, how a subject's
volume was tiled, and (from version 3) ``track_setting``, a track's declared primary
metric. A version-1 export (no ``column`` records) reads as a store without declarations,
a version-2 export as one whose tracks declare no primary metric.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from srbench.errors import InputError, file_error
from srbench.io.atomic import write_text_atomic
from srbench.io.json_numbers import json_number, number_from_json
from srbench.io.paths import portable_path, regular_file
from srbench.metric_columns import MetricColumn
from srbench.results.merge import MergeReport, merge
from srbench.results.schema import RowSet, check_row
from srbench.results.store import SCHEMA_VERSION, ResultsStore, RunRecord, canonical_json

EXPORT_FORMAT = "srbench-results"
EXPORT_VERSION = 3
#: JSON text columns of the runs table, exported as JSON values
_JSON_COLUMNS = ("plugin_versions", "scale", "config")
#: record kind → (table, sort key columns)
_EXPORT_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "run": ("runs", ("method", "run_key")),
    "track": ("tracks", ("track",)),
    "input": ("inputs", ("run_key", "track", "subject", "path")),
    "result": ("results", ("run_key", "track", "subject", "metric")),
    "not_applicable": ("not_applicable", ("run_key", "track")),
    "column": ("metric_columns", ("name",)),
    "plan": ("inference_plans", ("run_key", "track", "subject")),
    "track_setting": ("track_settings", ("track",)),
}


def _exported(kind: str, row: dict[str, Any], methods: Mapping[str, str]) -> dict[str, Any]:
    """A store row as its export record (JSON columns as JSON values, portable paths)."""
    if kind == "run":
        row.update({column: json.loads(row[column]) for column in _JSON_COLUMNS})
        if row.get("checkpoint_path"):
            row["checkpoint_path"] = portable_path(row["checkpoint_path"])
    if kind == "input":
        row["path"] = portable_path(row["path"])
    if kind == "result":
        row["value"] = json_number(float(row["value"]))
        row["method"] = methods.get(row["run_key"], "")
    if kind == "column":
        row = MetricColumn.from_record(json.loads(row["declaration"])).to_record()
    if kind == "plan":
        row["plan"] = json.loads(row["plan"])
    return {"record": kind, **row}


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number an export may hold (infinity is written \"inf\")")


def _stored(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`_exported`: an export record as a store row."""
    if kind == "column":
        column = MetricColumn.from_record({k: v for k, v in record.items() if k != "record"})
        return {"name": column.name, "declaration": canonical_json(column.to_record())}
    row = {k: v for k, v in record.items() if k != "record" and not (kind == "result" and k == "method")}
    if kind == "run":
        row.update({column: canonical_json(row[column]) for column in _JSON_COLUMNS})
    if kind == "result":
        try:
            row["value"] = number_from_json(row["value"])
        except ValueError as exc:
            raise ValueError(f"'value': {exc}") from None
    if kind == "plan":
        row["plan"] = canonical_json(row["plan"])
    return row


def export_records(store: ResultsStore) -> list[dict[str, Any]]:
    """Every row of ``store`` as a JSON-ready dict, in a fixed order (independent of the
    order rows were written): the header, then runs (with their full provenance: versions,
    git commit, checkpoint sha256, degradation, scale, convention, configuration), tracks,
    input-file hashes, metric values, not-applicable marks and metric column
    declarations, each sorted by its key."""
    records: list[dict[str, Any]] = [{"record": "export", "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                                      "schema_version": SCHEMA_VERSION}]
    methods = {row["run_key"]: row["method"] for row in store.table_rows("runs")}
    for kind, (table, key) in _EXPORT_TABLES.items():
        rows = [_exported(kind, row, methods) for row in store.table_rows(table)]
        rows.sort(key=lambda r: tuple("" if r.get(c) is None else str(r[c]) for c in key))
        records.extend(rows)
    return records


def value_table(store: ResultsStore, track: str | None = None) -> pd.DataFrame:
    """The flat view of a store for spreadsheets: every stored value (``ResultsStore.rows``)
    with its run's checkpoint path (made portable: no folder of this machine), git commit,
    plugin versions and creation time. The export of record is :func:`write_export`."""
    rows = store.rows(track)
    runs = store.runs()[["run_key", "checkpoint_path", "git_commit", "plugin_versions", "created_at"]]
    runs = runs.assign(checkpoint_path=[portable_path(p) if isinstance(p, str) and p else p for p in runs["checkpoint_path"]])
    return rows.merge(runs, on="run_key", how="left")


#: first characters that make a spreadsheet read a cell as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_csv(frame: pd.DataFrame) -> str:
    """CSV safe to open in a spreadsheet: a text cell that would start a formula is prefixed with ``'``."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = [f"'{v}" if isinstance(v, str) and v.startswith(_FORMULA_START) else v for v in safe[column]]
    return safe.to_csv(index=False, lineterminator="\n")


def write_export(store: ResultsStore, path: str | Path) -> int:
    """Write :func:`export_records` to ``path`` as JSON lines (atomically); return the number
    of metric values. The same rows always give the same bytes."""
    records = export_records(store)
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    write_text_atomic(Path(path), text)
    return sum(r["record"] == "result" for r in records)


def read_export(path: str | Path) -> list[dict[str, Any]]:
    """The records of an export, checked: the header, known record kinds, and every run's
    ``run_key`` equal to the sha256 of its recorded provenance (an edited run is refused).

    Raises:
        InputError: one line naming the file, the line and the problem.
    """
    path = regular_file(path, what="results export")
    records: list[dict[str, Any]] = []
    rows = RowSet(path)
    claimed: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line, parse_constant=_no_constant)
                except (json.JSONDecodeError, ValueError, RecursionError) as exc:
                    raise file_error(path, f"line {number}: not JSON ({getattr(exc, 'msg', exc)})") from None
                if not isinstance(record, dict) or record.get("record") not in {"export", *_EXPORT_TABLES}:
                    raise file_error(path, f"line {number}: not a record of a results export")
                if record["record"] != "export":
                    kind = record["record"]
                    where = f"line {number}"
                    try:
                        stored = _stored(kind, record)
                    except (KeyError, TypeError, ValueError, InputError) as exc:
                        raise file_error(path, f"{where}: not a valid {kind} record ({type(exc).__name__}: {exc})"[:300]) from None
                    table = _EXPORT_TABLES[kind][0]
                    rows.add(table, check_row(table, stored, source=f"{path}: {where}"), where=where)
                    if kind == "result" and isinstance(record.get("method"), str):
                        if claimed.setdefault(record["run_key"], record["method"]) != record["method"]:
                            raise file_error(path, f"{where}: result rows of run {record['run_key'][:12]} name two methods")
                records.append(record)
    except UnicodeDecodeError:
        raise file_error(path, "results export is not UTF-8 text") from None
    rows.finish(methods=claimed)
    if not records or records[0].get("record") != "export" or records[0].get("format") != EXPORT_FORMAT:
        raise file_error(path, f"not an srbench results export (first line must be the '{EXPORT_FORMAT}' header)")
    if int(records[0].get("version", 0)) > EXPORT_VERSION:
        raise file_error(path, f"export version {records[0].get('version')} is newer than this srbench reads ({EXPORT_VERSION})")
    for record in records:
        if record["record"] != "run":
            continue
        try:
            key = RunRecord(
                method=record["method"], degradation=record["degradation"],
                intensity_convention=record["intensity_convention"], scale=tuple(record["scale"]),
                config=record["config"], checkpoint_sha256=record["checkpoint_sha256"],
            ).run_key
        except (KeyError, TypeError, ValueError) as exc:
            raise file_error(path, f"run {str(record.get('run_key'))[:12]}: incomplete provenance ({exc})") from None
        if key != record.get("run_key"):
            raise file_error(path, f"run {str(record.get('run_key'))[:12]} ({record['method']}): its run_key is not the "
                                   "sha256 of its recorded provenance (the record was edited)")
    return records


def store_from_records(records: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write ``records`` (from :func:`read_export`) into a new store at ``path``."""
    path = Path(path)
    rows = [(_EXPORT_TABLES[r["record"]][0], _stored(r["record"], r)) for r in records if r["record"] != "export"]
    with ResultsStore(path) as store:
        store.insert_rows(rows, keep_existing=True)
    return path


def import_export(export: str | Path, into: str | Path) -> MergeReport:
    """Merge the rows of an export into the store ``into`` (created when missing), with the
    same duplicate and conflict rules as :func:`~srbench.results.merge.merge`."""
    records = read_export(export)
    with tempfile.TemporaryDirectory(prefix="srbench-import-") as folder:
        staged = store_from_records(records, Path(folder) / "export.sqlite")
        return merge([staged], into)
