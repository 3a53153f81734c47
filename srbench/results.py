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

Concurrency: the store runs in WAL mode with a busy timeout, every write is one
``BEGIN IMMEDIATE`` transaction (one per subject), and a "database is locked" error is
retried with back-off, so several ``srbench evaluate`` processes can share one file.
Re-adding a stored subject adds nothing and replaces nothing unless ``force=True``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import os
import random
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from srbench.errors import InputError, SrbenchRuntimeError, file_error
from srbench.io.atomic import atomic_path, ensure_parent_exists
from srbench.io.hashing import sha256_file, sha256_text
from srbench.io.paths import portable_path

#: version of the table layout written by this module
SCHEMA_VERSION = 1

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
CREATE INDEX IF NOT EXISTS results_by_track ON results (track);
"""

_TABLES = ("schema_version", "runs", "tracks", "inputs", "results", "not_applicable")

T = TypeVar("T")


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _normalise_scale(scale: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(s) for s in scale)
    if len(values) != 3:
        raise InputError(f"scale must have three values (x, y, z), got {list(scale)}")
    return values  # type: ignore[return-value]


def git_commit() -> str | None:
    """The commit of the srbench source tree (``+dirty`` when modified), or None outside git."""
    source = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return f"{commit}+dirty" if status.returncode == 0 and status.stdout.strip() else commit


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
    created_at: str = dataclasses.field(default_factory=_utc_now)

    @classmethod
    def create(
        cls,
        *,
        method: str,
        degradation: str,
        intensity_convention: str,
        scale: Sequence[float],
        config: Mapping[str, Any],
        checkpoint: str | Path | None = None,
        plugin_versions: Mapping[str, str] | None = None,
    ) -> RunRecord:
        """A record for the running environment: hashes ``checkpoint`` and fills in the
        srbench version, the plugin versions (default: the plugin manager's) and git commit."""
        from srbench import __version__

        if plugin_versions is None:
            from srbench.plugins import get_plugin_manager

            plugin_versions = get_plugin_manager().versions()
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
        return sha256_text(_canonical_json(identity))


@dataclasses.dataclass(frozen=True)
class TrackRecord:
    """What a track name stood for when it was evaluated.

    Attributes:
        name: the track's name (``insample``, ``contrast``...).
        kind: ``insample`` or ``ood``.
        test: name of the dataset whose subjects were evaluated.
        train: name of the training dataset, when the track declares one.
    """

    name: str
    kind: str
    test: str
    train: str | None = None


@dataclasses.dataclass
class MergeReport:
    """What :func:`merge` did, counted per table."""

    runs_added: int = 0
    tracks_added: int = 0
    inputs_added: int = 0
    results_added: int = 0
    results_already_present: int = 0
    not_applicable_added: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)


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

        if tables != set(_TABLES) or conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
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
            _canonical_json(dict(record.plugin_versions)),
            record.git_commit,
            record.degradation,
            record.intensity_convention,
            _canonical_json(list(_normalise_scale(record.scale))),
            _canonical_json(dict(record.config)),
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

        self._transaction(body)

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
    ) -> int:
        """Store one subject's metric values and input-file hashes in one transaction.

        Args:
            run_key: from :meth:`register_run`.
            values: metric column → value; ``inf`` is stored as is (PSNR of identical
                volumes), NaN is refused.
            inputs: input file path → its hex sha256.
            force: replace stored values instead of keeping them.

        Returns:
            The number of result rows written (0 when everything was already stored).
        """
        for metric, value in values.items():
            if math.isnan(float(value)):
                raise SrbenchRuntimeError(f"metric '{metric}' of subject '{subject}' on track '{track}' is NaN")
        verb = "INSERT OR REPLACE" if force else "INSERT OR IGNORE"

        def body(c: sqlite3.Connection) -> int:
            if c.execute("SELECT 1 FROM runs WHERE run_key = ?", (run_key,)).fetchone() is None:
                raise SrbenchRuntimeError(f"{self.path}: run {run_key[:12]} is not registered (call register_run first)")
            written = 0
            for metric, value in values.items():
                cursor = c.execute(
                    f"{verb} INTO results (run_key, track, subject, metric, value) VALUES (?, ?, ?, ?, ?)",
                    (run_key, track, subject, metric, float(value)),
                )
                written += cursor.rowcount
            for path, digest in inputs.items():
                c.execute(
                    f"{verb} INTO inputs (run_key, track, subject, path, sha256) VALUES (?, ?, ?, ?, ?)",
                    (run_key, track, subject, str(path), digest),
                )
            return written

        return self._transaction(body)

    def mark_not_applicable(self, run_key: str, method: str, track: str, reason: str) -> None:
        """Record that the run could not be evaluated on ``track`` and why (kept once)."""
        self._transaction(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO not_applicable (run_key, method, track, reason) VALUES (?, ?, ?, ?)",
                (run_key, method, track, reason),
            )
        )

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

    def tracks(self) -> dict[str, TrackRecord]:
        """Track name → :class:`TrackRecord` for every registered track."""
        rows = self._retry(
            lambda: self._conn.execute("SELECT track, kind, test_dataset, train_dataset FROM tracks").fetchall()
        )
        return {r[0]: TrackRecord(name=r[0], kind=r[1], test=r[2], train=r[3]) for r in rows}

    def inputs(self, *, track: str | None = None, subject: str | None = None) -> pd.DataFrame:
        """Input files: columns ``run_key, track, subject, path, sha256``."""
        clauses, params = [], []
        if track is not None:
            clauses.append("track = ?")
            params.append(track)
        if subject is not None:
            clauses.append("subject = ?")
            params.append(subject)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._frame(f"SELECT * FROM inputs {where} ORDER BY track, subject, path, run_key", params)

    def _dump(self, table: str) -> list[sqlite3.Row]:
        return self._retry(lambda: self._conn.execute(f"SELECT * FROM {table}").fetchall())


def _values_equal(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def merge(sources: Sequence[str | Path], into: str | Path) -> MergeReport:
    """Merge results stores ``sources`` into ``into`` without duplicates.

    Rows with the same unique key and the same content are kept once. A result (or an
    input file hash, or a track definition) whose value differs between two files is a
    conflict: nothing is written and an InputError names both files. Run records with the
    same key describe the same measurement; the first one is kept. A new ``into`` file is
    built beside its final name and renamed into place when complete.

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

    origin: dict[tuple, tuple[Any, Path]] = {}
    plans: dict[str, list[tuple]] = {t: [] for t in ("runs", "tracks", "inputs", "results", "not_applicable")}
    report = MergeReport()
    ordered = ([into] if into.exists() else []) + paths

    def claim(kind: str, key: tuple, content: Any, path: Path, describe: Callable[[], str]) -> bool:
        seen = origin.get((kind, *key))
        if seen is None:
            origin[(kind, *key)] = (content, path)
            return True
        previous, where = seen
        same = _values_equal(previous, content) if kind == "results" else previous == content
        if not same:
            raise InputError(
                f"results merge conflict: {describe()} is {previous!r} in {where} but {content!r} in {path}; "
                "remove one of the two stores (or re-evaluate into one store with --force)"
            )
        return False

    for path in ordered:
        with ResultsStore(path, read_only=path != into) as store:
            for row in store._dump("runs"):
                key, provenance = row["run_key"], (row["srbench_version"], row["plugin_versions"], row["git_commit"])
                if ("runs", key) not in origin:
                    origin[("runs", key)] = (provenance, path)
                    plans["runs"].append((path, tuple(row)))
                elif origin[("runs", key)][0] != provenance:
                    report.notes.append(
                        f"run {key[:12]} ({row['method']}): srbench/plugin versions or git commit differ between "
                        f"{origin[('runs', key)][1]} and {path}; kept the first record"
                    )
            for row in store._dump("tracks"):
                name = row["track"]
                if claim(
                    "tracks", (name,), (row["kind"], row["test_dataset"]), path,
                    lambda name=name: f"track '{name}' (kind, test dataset)",
                ):
                    plans["tracks"].append((path, tuple(row)))
            for row in store._dump("inputs"):
                key = (row["run_key"], row["track"], row["subject"], row["path"])
                if claim(
                    "inputs", key, row["sha256"], path,
                    lambda key=key: f"the sha256 of input '{key[3]}' (track '{key[1]}', subject '{key[2]}')",
                ):
                    plans["inputs"].append((path, tuple(row)))
            for row in store._dump("results"):
                key = (row["run_key"], row["subject"], row["track"], row["metric"])
                if claim(
                    "results", key, float(row["value"]), path,
                    lambda key=key: f"metric '{key[3]}' of subject '{key[1]}' on track '{key[2]}' (run {key[0][:12]})",
                ):
                    plans["results"].append((path, tuple(row)))
                elif path != into:
                    report.results_already_present += 1
            for row in store._dump("not_applicable"):
                key = (row["run_key"], row["track"])
                if ("not_applicable", *key) not in origin:
                    origin[("not_applicable", *key)] = (row["reason"], path)
                    plans["not_applicable"].append((path, tuple(row)))

    def write(target: Path) -> None:
        with ResultsStore(target) as store:
            def body(c: sqlite3.Connection) -> None:
                for table, planned in plans.items():
                    for source, row in planned:
                        if source == into:
                            continue
                        marks = ", ".join("?" * len(row))
                        c.execute(f"INSERT INTO {table} VALUES ({marks})", row)
                        setattr(report, f"{table}_added", getattr(report, f"{table}_added") + 1)

            try:
                store._transaction(body)
            except sqlite3.IntegrityError as exc:
                raise SrbenchRuntimeError(
                    f"{into}: the store changed while merging ({exc}); stop other writers and merge again"
                ) from None
            store._retry(lambda: store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())

    if into.exists():
        write(into)
    else:
        with atomic_path(into, suffix=".sqlite") as tmp:
            write(tmp)
            for leftover in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
    return report


# -- export and import (a text file of every row, committed next to the leaderboards) -----
#: first line of an export: ``{"record": "export", "format": EXPORT_FORMAT, "version": EXPORT_VERSION, ...}``
EXPORT_FORMAT = "srbench-results"
EXPORT_VERSION = 1
#: JSON text columns of the runs table, exported as JSON values
_JSON_COLUMNS = ("plugin_versions", "scale", "config")
#: record kind → (table, sort key columns)
_EXPORT_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "run": ("runs", ("method", "run_key")),
    "track": ("tracks", ("track",)),
    "input": ("inputs", ("run_key", "track", "subject", "path")),
    "result": ("results", ("run_key", "track", "subject", "metric")),
    "not_applicable": ("not_applicable", ("run_key", "track")),
}


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _number(value: float | str) -> float:
    return float(value)


def export_records(store: ResultsStore) -> list[dict[str, Any]]:
    """Every row of ``store`` as a JSON-ready dict, in a fixed order (independent of the
    order rows were written): the header, then runs (with their full provenance: versions,
    git commit, checkpoint sha256, degradation, scale, convention, configuration), tracks,
    input-file hashes, metric values and not-applicable marks, each sorted by its key."""
    records: list[dict[str, Any]] = [{"record": "export", "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                                      "schema_version": SCHEMA_VERSION}]
    methods = {row["run_key"]: row["method"] for row in store._dump("runs")}
    for kind, (table, key) in _EXPORT_TABLES.items():
        rows = [dict(row) for row in store._dump(table)]
        for row in rows:
            if kind == "run":
                for column in _JSON_COLUMNS:
                    row[column] = json.loads(row[column])
            if kind == "input":
                row["path"] = portable_path(row["path"])
            if kind == "result":
                row["value"] = _json_number(float(row["value"]))
                row["method"] = methods.get(row["run_key"], "")
        rows.sort(key=lambda r: tuple("" if r.get(c) is None else str(r[c]) for c in key))
        records.extend({"record": kind, **row} for row in rows)
    return records


def write_export(store: ResultsStore, path: str | Path) -> int:
    """Write :func:`export_records` to ``path`` as JSON lines (atomically); return the number
    of metric values. The same rows always give the same bytes."""
    records = export_records(store)
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    from srbench.io.atomic import write_text_atomic

    write_text_atomic(Path(path), text)
    return sum(r["record"] == "result" for r in records)


def read_export(path: str | Path) -> list[dict[str, Any]]:
    """The records of an export, checked: the header, known record kinds, and every run's
    ``run_key`` equal to the sha256 of its recorded provenance (an edited run is refused).

    Raises:
        InputError: one line naming the file, the line and the problem.
    """
    from srbench.io.paths import regular_file

    path = regular_file(path, what="results export")
    records: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise file_error(path, f"line {number}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict) or record.get("record") not in {"export", *_EXPORT_TABLES}:
                raise file_error(path, f"line {number}: not a record of a results export")
            records.append(record)
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
    store = ResultsStore(path)
    try:
        def body(c: sqlite3.Connection) -> None:
            for record in records:
                kind = record["record"]
                if kind == "export":
                    continue
                table = _EXPORT_TABLES[kind][0]
                row = {k: v for k, v in record.items() if k != "record" and not (kind == "result" and k == "method")}
                if kind == "run":
                    for column in _JSON_COLUMNS:
                        row[column] = _canonical_json(row[column])
                if kind == "result":
                    row["value"] = _number(row["value"])
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                c.execute(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))

        store._transaction(body)
    finally:
        store.close()
    return path


def import_export(export: str | Path, into: str | Path) -> MergeReport:
    """Merge the rows of an export into the store ``into`` (created when missing), with the
    same duplicate and conflict rules as :func:`merge`."""
    import tempfile

    records = read_export(export)
    with tempfile.TemporaryDirectory(prefix="srbench-import-") as folder:
        staged = store_from_records(records, Path(folder) / "export.sqlite")
        return merge([staged], into)


def results_date(store: ResultsStore) -> str:
    """The UTC date (``YYYY-MM-DD``) of the newest run in ``store`` (today for an empty one):
    the date a leaderboard of these rows states, so rendering the same rows twice, or from
    their export, gives the same bytes."""
    dates = [str(row["created_at"])[:10] for row in store._dump("runs") if row["created_at"]]
    return max(dates) if dates else _dt.datetime.now(_dt.timezone.utc).date().isoformat()
