"""The results store: an SQLite file with one row per run × track × subject × metric.

Tables (schema version :data:`SCHEMA_VERSION`, recorded in ``schema_version``):

``runs``
    one row per *run*: a method with one checkpoint, degradation, scale, intensity
    convention and resolved config. ``run_key`` is the sha256 of exactly those fields
    (:attr:`RunRecord.run_key`), so evaluating the same checkpoint the same way again finds
    the same run. Provenance that does not change what is measured (srbench and plugin
    versions, git commit, creation time) is stored but is not part of the key.
``tracks``
    what each track name meant when it was evaluated (kind, test and train datasets).
``inputs``
    the sha256 of every input file of each run × track × subject.
``results``
    the metric values; unique on ``(run_key, subject, track, metric)``.
``not_applicable``
    runs that could not be evaluated on a track (for example a scale the model cannot do).
``metric_columns``
    what the metric plugins declared about each results column when it was evaluated
    (:class:`~srbench.metric_columns.MetricColumn`: direction, display, description), so
    leaderboards render without the plugins; stores written before it existed lack it
    and are still read (the table is created the first time such a store is written to).
``inference_plans``
    how each run × track × subject volume was tiled (:meth:`srbench.tiling.TilePlan.record`),
    for methods that plan tiles; created the same way in older stores.
``track_settings``
    each track's declared primary metric (the column that sorts its board and names its
    leader), the newest declaration winning; created the same way in older stores, whose
    boards then sort by their first ranked column.

A run scored from submitted files (``srbench score``) has an ``external`` entry in its
config (:mod:`srbench.external.scoring`); its subjects' ``inputs`` hold the HR file and
the submitted prediction.

Concurrency: the store runs in WAL mode with a busy timeout, every write is one
``BEGIN IMMEDIATE`` transaction (one per subject), and a "database is locked" error is
retried with back-off, so several ``srbench evaluate`` processes can share one file.
Re-adding a stored subject adds nothing and replaces nothing unless ``force=True``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from srbench.errors import InputError, SrbenchRuntimeError, file_error
from srbench.io.atomic import ensure_parent_exists
from srbench.io.hashing import sha256_file, sha256_text
from srbench.metric_columns import MetricColumn
from srbench.provenance import git_commit, utc_now, utc_today

#: version of the table layout written by this module
SCHEMA_VERSION = 1

#: the run-config entry of a run scored from submitted files (``srbench score``): its label,
#: description and URL (:mod:`srbench.external.scoring`)
EXTERNAL_CONFIG_KEY = "external"
#: the run-config entry of a run that computed only some metrics (``evaluate --metric``):
#: ``{"metrics": [names]}``
METRIC_SELECTION_KEY = "metric_selection"

#: where ``srbench evaluate`` and ``srbench leaderboard`` look without ``--results``
DEFAULT_RESULTS_PATH = Path("results") / "results.sqlite"

#: seconds SQLite itself waits for a lock before reporting "database is locked"
BUSY_TIMEOUT_S = 30.0

#: total seconds a write keeps retrying "database is locked" before giving up
RETRY_DEADLINE_S = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    checkpoint_path TEXT,
    checkpoint_sha256 TEXT,
    srbench_version TEXT NOT NULL,
    plugin_versions TEXT NOT NULL,
    git_commit TEXT,
    degradation TEXT NOT NULL,
    intensity_convention TEXT NOT NULL,
    scale TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tracks (
    track TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    test_dataset TEXT NOT NULL,
    train_dataset TEXT
);
CREATE TABLE IF NOT EXISTS inputs (
    run_key TEXT NOT NULL REFERENCES runs(run_key),
    track TEXT NOT NULL,
    subject TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    UNIQUE (run_key, track, subject, path)
);
CREATE TABLE IF NOT EXISTS results (
    run_key TEXT NOT NULL REFERENCES runs(run_key),
    track TEXT NOT NULL,
    subject TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    UNIQUE (run_key, subject, track, metric)
);
CREATE TABLE IF NOT EXISTS not_applicable (
    run_key TEXT NOT NULL REFERENCES runs(run_key),
    method TEXT NOT NULL,
    track TEXT NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (run_key, track)
);
CREATE TABLE IF NOT EXISTS metric_columns (
    name TEXT PRIMARY KEY,
    declaration TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS track_settings (
    track TEXT PRIMARY KEY,
    primary_metric TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inference_plans (
    run_key TEXT NOT NULL REFERENCES runs(run_key),
    track TEXT NOT NULL,
    subject TEXT NOT NULL,
    plan TEXT NOT NULL,
    UNIQUE (run_key, track, subject)
);
CREATE INDEX IF NOT EXISTS results_by_track ON results (track);
"""

#: the tables every store has
_TABLES = ("schema_version", "runs", "tracks", "inputs", "results", "not_applicable")
#: the tables of :data:`_TABLES` and those a store written by an older srbench may lack
TABLES = (*_TABLES, "metric_columns", "inference_plans", "track_settings")

T = TypeVar("T")


def canonical_json(value: Any) -> str:
    """``value`` as compact JSON with sorted keys (the stored form of JSON columns)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _normalise_scale(scale: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(s) for s in scale)
    if len(values) != 3:
        raise InputError(f"scale must have three values (x, y, z), got {list(scale)}")
    return values  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """The provenance of one evaluated run (one method, one checkpoint, one set-up).

    Attributes:
        method: the model's registered name.
        degradation: the degradation's registered name (e.g. ``paper-linear``).
        intensity_convention: name of the metrics' intensity convention
            (``srbench.metrics.convention``).
        scale: per-axis up-sampling factor ``(sx, sy, sz)``.
        config: the resolved evaluation configuration (inference settings, the
            checkpoint's training config...), JSON-serialisable.
        checkpoint_path: the checkpoint file as given by the user; None for methods
            without weights (trilinear).
        checkpoint_sha256: hex sha256 of the checkpoint file; None without one.
        srbench_version: version of srbench-mri that computed the results.
        plugin_versions: distribution → version of every loaded plugin.
        git_commit: commit of the srbench source tree, when it is a git checkout.
        created_at: ISO 8601 UTC time the run was first registered.
    """

    method: str
    degradation: str
    intensity_convention: str
    scale: tuple[float, float, float]
    config: Mapping[str, Any]
    checkpoint_path: str | None = None
    checkpoint_sha256: str | None = None
    srbench_version: str = ""
    plugin_versions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    git_commit: str | None = None
    created_at: str = dataclasses.field(default_factory=utc_now)

    @classmethod
    def create(
        cls,
        *,
        method: str,
        degradation: str,
        intensity_convention: str,
        scale: Sequence[float],
        config: Mapping[str, Any],
        plugin_versions: Mapping[str, str],
        checkpoint: str | Path | None = None,
    ) -> RunRecord:
        """A record for the running environment: hashes ``checkpoint`` and fills in the
        srbench version and git commit; ``plugin_versions`` is distribution → version of
        the loaded plugins (:meth:`srbench.plugins.PluginManager.versions`)."""
        from srbench import __version__

        return cls(
            method=method,
            degradation=degradation,
            intensity_convention=intensity_convention,
            scale=_normalise_scale(scale),
            config=dict(config),
            checkpoint_path=None if checkpoint is None else str(checkpoint),
            checkpoint_sha256=None if checkpoint is None else sha256_file(checkpoint),
            srbench_version=__version__,
            plugin_versions=dict(plugin_versions),
            git_commit=git_commit(),
        )

    @property
    def run_key(self) -> str:
        """sha256 of method, checkpoint sha256, degradation, scale, convention and config."""
        identity = {
            "method": self.method,
            "checkpoint_sha256": self.checkpoint_sha256,
            "degradation": self.degradation,
            "scale": list(_normalise_scale(self.scale)),
            "intensity_convention": self.intensity_convention,
            "config": self.config,
        }
        return sha256_text(canonical_json(identity))


@dataclasses.dataclass(frozen=True)
class SubjectRows:
    """What :meth:`ResultsStore.add_subjects` stores for one subject.

    Attributes:
        subject: the subject id.
        values: metric column → value.
        inputs: input file path → its hex sha256 (the HR file; for external rows also the
            submitted prediction).
        plan: how the volume was tiled, if planned.
    """

    subject: str
    values: Mapping[str, float]
    inputs: Mapping[str | Path, str]
    plan: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class TrackRecord:
    """What a track name stood for when it was evaluated.

    Attributes:
        name: the track's name (``insample``, ``contrast``...).
        kind: ``insample`` or ``ood``.
        test: name of the dataset whose subjects were evaluated.
        train: name of the training dataset, when the track declares one.
        primary_metric: the column that sorts the track's board and names its leader, as
            datasets.toml declares it (None: not recorded; boards then use their first
            ranked column).
    """

    name: str
    kind: str
    test: str
    train: str | None = None
    primary_metric: str | None = None


def _wal_at_rest(path: Path) -> bool:
    """True for a WAL-mode database with no ``-wal``/``-shm`` file beside it (no open writer)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    sidecars = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm"))
    return header[18:20] == b"\x02\x02" and not sidecars


def _sqlite_message(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text



def _equal_filters(**columns: str | None) -> tuple[list[str], list[str]]:
    """SQL ``column = ?`` clauses and their parameters for the columns given a value (None: no filter)."""
    given = {name: value for name, value in columns.items() if value is not None}
    return [f"{name} = ?" for name in given], list(given.values())

class ResultsStore:
    """An SQLite results store (see the module docstring for the tables).

    Args:
        path: the store file. None means :data:`DEFAULT_RESULTS_PATH`, whose ``results/``
            directory is created when missing; for any other path the directory must exist.
        must_exist: refuse to create a new store (for readers such as ``leaderboard``).

    Raises:
        InputError: the directory is missing, the file is not an SQLite database, or it
            was written by a newer srbench (schema version).
    """

    def __init__(self, path: str | Path | None = None, *, must_exist: bool = False, read_only: bool = False) -> None:
        from srbench.io.paths import regular_file

        self.read_only = read_only
        must_exist = must_exist or read_only
        if path is None:
            self.path = DEFAULT_RESULTS_PATH
            if not must_exist and not self.path.parent.is_dir():
                if self.path.parent.exists():
                    raise file_error(self.path.parent, "exists but is not a directory (needed for the default results store)")
                self.path.parent.mkdir(parents=True)
        else:
            self.path = Path(path)
        if must_exist and not self.path.exists():
            raise file_error(self.path, "results store not found (run 'srbench evaluate' first, or pass --results PATH)")
        if self.path.exists() or self.path.is_symlink():
            regular_file(self.path, what="results store")
        ensure_parent_exists(self.path)
        try:
            if read_only:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                if _wal_at_rest(self.path):
                    uri += "&immutable=1"  # no writer is active: read it without creating -wal/-shm files
                self._conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            else:
                self._conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise file_error(self.path, f"cannot open the results store ({exc})") from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._retry(self._check_read_only if read_only else self._initialise)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise file_error(self.path, f"not an SQLite results store ({exc})") from None
        except BaseException:
            self._conn.close()
            raise

    # -- plumbing --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (the store stays usable by other processes)."""
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retry(self, operation: Callable[[], T]) -> T:
        """Run ``operation``, retrying with jittered back-off while the database is locked.

        Any other SQLite error (a corrupt page, a full disk, a read-only file) becomes one
        InputError naming the store; integrity errors are left to the caller.
        """
        deadline = time.monotonic() + RETRY_DEADLINE_S
        delay = 0.05
        while True:
            try:
                return operation()
            except sqlite3.IntegrityError:
                raise
            except sqlite3.DatabaseError as exc:
                if not isinstance(exc, sqlite3.OperationalError) or not _is_locked(exc):
                    raise file_error(self.path, f"not an SQLite results store, or a corrupt one ({_sqlite_message(exc)})") from None
                if time.monotonic() > deadline:
                    raise SrbenchRuntimeError(
                        f"{self.path}: results store stayed locked for {RETRY_DEADLINE_S:.0f} s ({exc}); "
                        "is another process holding a write transaction?"
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _transaction(self, body: Callable[[sqlite3.Connection], T]) -> T:
        def attempt() -> T:
            with self._write() as conn:
                return body(conn)

        return self._retry(attempt)

    def _check_read_only(self) -> None:
        """Opened read-only: the store must already be an srbench store; nothing is changed."""
        conn = self._conn
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            raise file_error(self.path, "is not an srbench results store (no tables)")
        if not set(_TABLES) <= tables:
            raise file_error(self.path, f"SQLite file is not an srbench results store (tables: {', '.join(sorted(tables))})")
        version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        if version is not None and version > SCHEMA_VERSION:
            raise file_error(
                self.path,
                f"results store has schema version {version}, this srbench reads up to {SCHEMA_VERSION}; upgrade srbench-mri",
            )
        self._quick_check()

    def _quick_check(self) -> None:
        problems = [row[0] for row in self._conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise file_error(self.path, f"results store is corrupt ({' '.join(str(problems[0]).split())[:160]})")

    def _initialise(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "schema_version" not in tables:
            raise file_error(self.path, f"SQLite file is not an srbench results store (tables: {', '.join(sorted(tables))})")
        if "schema_version" in tables:
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            version = row[0]
            if version is not None and version > SCHEMA_VERSION:
                raise file_error(
                    self.path,
                    f"results store has schema version {version}, this srbench reads up to {SCHEMA_VERSION}; "
                    "upgrade srbench-mri",
                )
        if tables:
            self._quick_check()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise file_error(self.path, f"cannot switch the results store to WAL mode (got '{mode}')")
        conn.execute("PRAGMA synchronous = NORMAL")

        def create(c: sqlite3.Connection) -> None:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            if c.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
                c.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

        if tables != set(TABLES) or conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
            with self._write() as c:
                create(c)

    # -- writing ---------------------------------------------------------------------------
    def register_run(self, record: RunRecord) -> str:
        """Store ``record`` unless its run is already stored; return its ``run_key``."""
        key = record.run_key
        values = (
            key,
            record.method,
            record.checkpoint_path,
            record.checkpoint_sha256,
            record.srbench_version,
            canonical_json(dict(record.plugin_versions)),
            record.git_commit,
            record.degradation,
            record.intensity_convention,
            canonical_json(list(_normalise_scale(record.scale))),
            canonical_json(dict(record.config)),
            record.created_at,
        )
        self._transaction(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO runs (run_key, method, checkpoint_path, checkpoint_sha256, srbench_version, "
                "plugin_versions, git_commit, degradation, intensity_convention, scale, config, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        )
        return key

    def register_track(self, track: TrackRecord) -> None:
        """Record what ``track.name`` means in this store.

        Raises:
            InputError: the store already holds results for a track of that name that
                was evaluated on another test dataset or is of another kind.
        """

        def body(c: sqlite3.Connection) -> None:
            row = c.execute("SELECT kind, test_dataset FROM tracks WHERE track = ?", (track.name,)).fetchone()
            if row is None:
                c.execute(
                    "INSERT INTO tracks (track, kind, test_dataset, train_dataset) VALUES (?, ?, ?, ?)",
                    (track.name, track.kind, track.test, track.train),
                )
            elif (row["kind"], row["test_dataset"]) != (track.kind, track.test):
                raise file_error(
                    self.path,
                    f"track '{track.name}' is stored as {row['kind']} on dataset '{row['test_dataset']}' but is now "
                    f"{track.kind} on dataset '{track.test}'; write to another store with --results PATH",
                )
            else:
                c.execute("UPDATE tracks SET train_dataset = ? WHERE track = ?", (track.train, track.name))
            if track.primary_metric is not None:
                c.execute("INSERT OR REPLACE INTO track_settings (track, primary_metric) VALUES (?, ?)",
                          (track.name, track.primary_metric))

        self._transaction(body)

    def register_columns(self, columns: Iterable[MetricColumn]) -> None:
        """Store what the metrics declare about their columns (a column's newest declaration
        replaces an older one)."""
        rows = [(c.name, canonical_json(c.to_record())) for c in columns]
        self._transaction(
            lambda c: c.executemany("INSERT OR REPLACE INTO metric_columns (name, declaration) VALUES (?, ?)", rows)
        )

    def has_subject(self, run_key: str, track: str, subject: str, metrics: Sequence[str]) -> bool:
        """True when every metric in ``metrics`` is stored for this run, track and subject."""
        wanted = set(metrics)
        if not wanted:
            return False
        rows = self._retry(
            lambda: self._conn.execute(
                "SELECT metric FROM results WHERE run_key = ? AND track = ? AND subject = ?",
                (run_key, track, subject),
            ).fetchall()
        )
        return wanted <= {row[0] for row in rows}

    def add_subject(
        self,
        run_key: str,
        track: str,
        subject: str,
        values: Mapping[str, float],
        inputs: Mapping[str | Path, str],
        *,
        force: bool = False,
        plan: Mapping[str, Any] | None = None,
    ) -> int:
        """Store one subject's metric values, input-file hashes and inference plan in one transaction.

        Args:
            run_key: from :meth:`register_run`.
            values: metric column → value; ``inf`` is stored as is (a ratio of identical
                volumes), NaN is refused.
            inputs: input file path → its hex sha256.
            force: replace stored values (and the subject's recorded inputs) instead of keeping them.
            plan: how the volume was tiled (:meth:`srbench.tiling.TilePlan.record`), if planned.

        Returns:
            The number of result rows written (0 when everything was already stored).
        """
        return self.add_subjects(run_key, track, [SubjectRows(subject, values, inputs, plan)], force=force)

    def add_subjects(self, run_key: str, track: str, subjects: Sequence[SubjectRows], *, force: bool = False) -> int:
        """Store several subjects of one run and track in one transaction (all or nothing);
        see :meth:`add_subject`. Returns the number of result rows written."""
        for rows in subjects:
            for metric, value in rows.values.items():
                if math.isnan(float(value)):
                    raise SrbenchRuntimeError(f"metric '{metric}' of subject '{rows.subject}' on track '{track}' is NaN")
        verb = "INSERT OR REPLACE" if force else "INSERT OR IGNORE"

        def body(c: sqlite3.Connection) -> int:
            if c.execute("SELECT 1 FROM runs WHERE run_key = ?", (run_key,)).fetchone() is None:
                raise SrbenchRuntimeError(f"{self.path}: run {run_key[:12]} is not registered (call register_run first)")
            written = 0
            for rows in subjects:
                subject = rows.subject
                if force:
                    c.execute("DELETE FROM inputs WHERE run_key = ? AND track = ? AND subject = ?", (run_key, track, subject))
                for metric, value in rows.values.items():
                    cursor = c.execute(
                        f"{verb} INTO results (run_key, track, subject, metric, value) VALUES (?, ?, ?, ?, ?)",
                        (run_key, track, subject, metric, float(value)),
                    )
                    written += cursor.rowcount
                for path, digest in rows.inputs.items():
                    c.execute(
                        f"{verb} INTO inputs (run_key, track, subject, path, sha256) VALUES (?, ?, ?, ?, ?)",
                        (run_key, track, subject, str(path), digest),
                    )
                if rows.plan is not None:
                    c.execute(f"{verb} INTO inference_plans (run_key, track, subject, plan) VALUES (?, ?, ?, ?)",
                              (run_key, track, subject, canonical_json(dict(rows.plan))))
            return written

        return self._transaction(body)

    def subject_values(self, run_key: str, track: str, subject: str) -> dict[str, float]:
        """The stored metric values of one run × track × subject (column → value)."""
        rows = self._retry(
            lambda: self._conn.execute(
                "SELECT metric, value FROM results WHERE run_key = ? AND track = ? AND subject = ?",
                (run_key, track, subject),
            ).fetchall()
        )
        return {str(metric): float(value) for metric, value in rows}

    def mark_not_applicable(self, run_key: str, method: str, track: str, reason: str) -> None:
        """Record that the run could not be evaluated on ``track`` and why (kept once)."""
        self._transaction(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO not_applicable (run_key, method, track, reason) VALUES (?, ?, ?, ?)",
                (run_key, method, track, reason),
            )
        )

    def drop(self, *, track: str | None = None, method: str | None = None, subject: str | None = None) -> int:
        """Delete, in one transaction, the stored values (with their input hashes and
        inference plans, and not-applicable marks when no ``subject`` is given) of the rows
        that match every filter given. Runs and track descriptions stay (other rows may
        use them). At least one filter is required.

        Returns:
            The number of metric values deleted.

        Raises:
            InputError: no filter given.
        """
        if track is None and method is None and subject is None:
            raise InputError("results drop needs --track, --method or --subject (it never empties a whole store)")
        clauses, params = _equal_filters(track=track, subject=subject)
        if method is not None:
            clauses.append("run_key IN (SELECT run_key FROM runs WHERE method = ?)")
            params.append(method)
        where = " AND ".join(clauses)

        def delete(conn: sqlite3.Connection) -> int:
            deleted = conn.execute(f"DELETE FROM results WHERE {where}", params).rowcount  # noqa: S608 - fixed clauses
            for table in ("inputs", "inference_plans"):
                conn.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
            if subject is None:
                conn.execute(f"DELETE FROM not_applicable WHERE {where}", params)  # noqa: S608
            return int(deleted)

        return self._transaction(delete)

    # -- reading ---------------------------------------------------------------------------
    def _frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        def read() -> pd.DataFrame:
            cursor = self._conn.execute(sql, tuple(params))
            columns = [d[0] for d in cursor.description]
            return pd.DataFrame([tuple(r) for r in cursor.fetchall()], columns=columns)

        return self._retry(read)

    def rows(self, track: str | None = None) -> pd.DataFrame:
        """One row per stored value, joined with its run.

        Columns: ``method, track, subject, metric, value, degradation,
        intensity_convention, scale`` (JSON list), ``checkpoint_sha256, srbench_version,
        run_key``. Sorted by method, track, subject, metric.
        """
        where, params = ("WHERE r.track = ?", (track,)) if track is not None else ("", ())
        return self._frame(
            "SELECT u.method, r.track, r.subject, r.metric, r.value, u.degradation, u.intensity_convention, "
            "u.scale, u.checkpoint_sha256, u.srbench_version, r.run_key FROM results r "
            f"JOIN runs u ON u.run_key = r.run_key {where} ORDER BY u.method, r.track, r.subject, r.metric",
            params,
        )

    def not_applicable(self, track: str | None = None) -> pd.DataFrame:
        """Runs marked not applicable: columns ``method, track, reason, degradation,
        intensity_convention, scale, checkpoint_sha256, run_key``."""
        where, params = ("WHERE n.track = ?", (track,)) if track is not None else ("", ())
        return self._frame(
            "SELECT n.method, n.track, n.reason, u.degradation, u.intensity_convention, u.scale, "
            f"u.checkpoint_sha256, n.run_key FROM not_applicable n JOIN runs u ON u.run_key = n.run_key {where} "
            "ORDER BY n.method, n.track",
            params,
        )

    def runs(self) -> pd.DataFrame:
        """Every run record (JSON columns left as text), sorted by creation time."""
        return self._frame("SELECT * FROM runs ORDER BY created_at, run_key")

    def run_config_entries(self, name: str) -> dict[str, dict[str, Any]]:
        """Run key → the ``name`` entry of its run config (e.g. ``degradation``,
        ``inference``), for the runs that recorded one as a JSON object."""
        out: dict[str, dict[str, Any]] = {}
        runs = self.runs()
        for key, text in zip(runs["run_key"], runs["config"], strict=True):
            try:
                entry = json.loads(text).get(name) if text else None
            except (ValueError, AttributeError):
                entry = None
            if isinstance(entry, dict):
                out[str(key)] = entry
        return out

    def tracks(self) -> dict[str, TrackRecord]:
        """Track name → :class:`TrackRecord` for every registered track."""
        rows = self._retry(
            lambda: self._conn.execute("SELECT track, kind, test_dataset, train_dataset FROM tracks").fetchall()
        )
        primary = {row["track"]: row["primary_metric"] for row in self.table_rows("track_settings")}
        return {r[0]: TrackRecord(name=r[0], kind=r[1], test=r[2], train=r[3], primary_metric=primary.get(r[0]))
                for r in rows}

    def inputs(self, *, track: str | None = None, subject: str | None = None) -> pd.DataFrame:
        """Input files: columns ``run_key, track, subject, path, sha256``."""
        clauses, params = _equal_filters(track=track, subject=subject)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._frame(f"SELECT * FROM inputs {where} ORDER BY track, subject, path, run_key", params)

    def metric_columns(self) -> dict[str, MetricColumn]:
        """Column name → what its metric declared at evaluation (empty for a store written
        before declarations were stored).

        Raises:
            InputError: a stored declaration is not valid JSON or not a declaration.
        """
        rows = self.table_rows("metric_columns")
        try:
            return {row["name"]: MetricColumn.from_record(json.loads(row["declaration"])) for row in rows}
        except ValueError as exc:
            raise file_error(self.path, f"a metric column declaration is not JSON ({exc})") from None

    def inference_plans(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """``(run_key, track, subject)`` → the stored tile plan (empty for a store written
        before plans were stored, or for methods that do not plan tiles).

        Raises:
            InputError: a stored plan is not valid JSON.
        """
        try:
            return {(r["run_key"], r["track"], r["subject"]): json.loads(r["plan"]) for r in self.table_rows("inference_plans")}
        except ValueError as exc:
            raise file_error(self.path, f"a stored inference plan is not JSON ({exc})") from None

    # -- whole tables (merge, export) ---------------------------------------------------
    def table_rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of ``table`` (one of :data:`TABLES`) as column → value, JSON columns
        as stored text; ``[]`` for a table this store does not have yet."""
        if table not in TABLES:
            raise ValueError(f"unknown results table '{table}'")

        def read() -> list[dict[str, Any]]:
            present = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
            if present.fetchone() is None:
                return []
            return [dict(row) for row in self._conn.execute(f"SELECT * FROM {table}").fetchall()]

        return self._retry(read)

    def insert_rows(self, rows: Iterable[tuple[str, Mapping[str, Any]]], *, keep_existing: bool = False) -> dict[str, int]:
        """Insert ``(table, row)`` pairs (rows as :meth:`table_rows` gives them) in one
        transaction; return the rows written per table.

        Args:
            keep_existing: skip a row whose unique key is already stored; without it such
                a row rolls the whole transaction back.

        Raises:
            sqlite3.IntegrityError: a row clashes with a stored one (without ``keep_existing``).
        """
        from srbench.results.schema import check_row

        rows = [(table, check_row(table, row, source=self.path)) for table, row in rows]  # declared columns only
        verb = "INSERT OR IGNORE" if keep_existing else "INSERT"
        for table, _ in rows:
            if table not in TABLES:
                raise ValueError(f"unknown results table '{table}'")

        def body(c: sqlite3.Connection) -> dict[str, int]:
            written: dict[str, int] = {}
            for table, row in rows:
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                cursor = c.execute(f"{verb} INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))
                written[table] = written.get(table, 0) + max(cursor.rowcount, 0)
            return written

        return self._transaction(body)

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file (leaves no ``-wal`` content)."""
        self._retry(lambda: self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())


def results_date(store: ResultsStore) -> str:
    """The UTC date (``YYYY-MM-DD``) of the newest run in ``store`` (today for an empty one):
    the date a leaderboard of these rows states, so rendering the same rows twice, or from
    their export, gives the same bytes."""
    dates = [str(row["created_at"])[:10] for row in store.table_rows("runs") if row["created_at"]]
    return max(dates) if dates else utc_today()
