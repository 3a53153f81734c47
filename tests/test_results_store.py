"""The SQLite results store: idempotence, --force, merge, inf values, concurrent writers."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from srbench.errors import InputError
from srbench.metric_columns import MetricColumn
from srbench.results.merge import merge
from srbench.results.store import DEFAULT_RESULTS_PATH, SCHEMA_VERSION, ResultsStore, RunRecord, TrackRecord
from srbench.cli.runner import run_cli


def record(method: str = "trilinear", **changes) -> RunRecord:
    fields = dict(
        method=method,
        degradation="paper-linear",
        intensity_convention="hr-minmax-01",
        scale=(2, 2, 2),
        config={"patch_size": 32},
        srbench_version="0.1.0",
        plugin_versions={"srbench-mri": "0.1.0"},
        git_commit="abc",
    )
    fields.update(changes)
    return RunRecord(**fields)


def test_run_key_covers_what_is_measured_and_nothing_else():
    base = record()
    assert base.run_key == record(scale=(2.0, 2.0, 2.0)).run_key
    assert base.run_key == record(srbench_version="9.9", git_commit="other", created_at="2000-01-01").run_key
    keys = {
        base.run_key,
        record(method="dcsrn").run_key,
        record(checkpoint_sha256="f" * 64).run_key,
        record(degradation="kspace").run_key,
        record(scale=(2, 2, 1)).run_key,
        record(intensity_convention="other").run_key,
        record(config={"patch_size": 48}).run_key,
    }
    assert len(keys) == 7


def test_record_create_hashes_the_checkpoint(tmp_path):
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"weights")
    made = RunRecord.create(
        method="m", degradation="paper-linear", intensity_convention="c", scale=(2, 2, 2), config={},
        checkpoint=checkpoint, plugin_versions={"x": "1"},
    )
    import hashlib

    assert made.checkpoint_sha256 == hashlib.sha256(b"weights").hexdigest()
    assert made.checkpoint_path == str(checkpoint)
    assert made.srbench_version


def test_add_subject_is_idempotent_and_force_replaces(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    key = store.register_run(record())
    assert store.register_run(record()) == key
    inputs = {tmp_path / "s1.nii.gz": "aa" * 32}
    assert store.add_subject(key, "insample", "s1", {"psnr": 30.0, "ssim": 0.9}, inputs) == 2
    assert store.has_subject(key, "insample", "s1", ["psnr", "ssim"])
    assert not store.has_subject(key, "insample", "s1", ["psnr", "lpips"])
    assert not store.has_subject(key, "contrast", "s1", ["psnr"])
    # re-running adds nothing and replaces nothing
    assert store.add_subject(key, "insample", "s1", {"psnr": 99.0, "ssim": 0.1}, inputs) == 0
    rows = store.rows()
    assert len(rows) == 2
    assert dict(zip(rows["metric"], rows["value"])) == {"psnr": 30.0, "ssim": 0.9}
    assert len(store.inputs()) == 1
    # --force replaces, still without duplicates
    assert store.add_subject(key, "insample", "s1", {"psnr": 31.0}, inputs, force=True) == 1
    rows = store.rows()
    assert len(rows) == 2
    assert dict(zip(rows["metric"], rows["value"])) == {"psnr": 31.0, "ssim": 0.9}
    assert set(rows.columns) >= {"method", "track", "subject", "metric", "value", "degradation", "intensity_convention", "run_key"}
    assert list(store.runs()["run_key"]) == [key]


def test_inf_round_trips_and_nan_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        key = store.register_run(record())
        store.add_subject(key, "insample", "same", {"psnr": math.inf, "nrmse": 0.0}, {})
        with pytest.raises(Exception, match="NaN"):
            store.add_subject(key, "insample", "bad", {"psnr": math.nan}, {})
    with ResultsStore(path) as store:
        values = dict(zip(store.rows()["metric"], store.rows()["value"]))
    assert values["psnr"] == math.inf
    assert values["nrmse"] == 0.0
    assert len(values) == 2  # the NaN transaction left nothing behind


def test_subject_is_one_transaction(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(Exception, match="not registered"):
        store.add_subject("0" * 64, "insample", "s1", {"psnr": 1.0}, {"a": "b"})
    assert store.rows().empty and store.inputs().empty


def test_not_applicable_is_kept_once(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    key = store.register_run(record(method="dcsrn"))
    store.mark_not_applicable(key, "dcsrn", "knee", "scale (2, 2, 1) not supported")
    store.mark_not_applicable(key, "dcsrn", "knee", "again")
    marks = store.not_applicable()
    assert len(marks) == 1
    assert marks.iloc[0]["reason"] == "scale (2, 2, 1) not supported"
    assert marks.iloc[0]["degradation"] == "paper-linear"


def test_track_definition_cannot_change(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("contrast", "ood", "demo-t2", "demo-t1"))
    store.register_track(TrackRecord("contrast", "ood", "demo-t2", "demo-t1"))
    assert store.tracks()["contrast"] == TrackRecord("contrast", "ood", "demo-t2", "demo-t1")
    with pytest.raises(InputError, match="demo-t2.*hcp-t2"):
        store.register_track(TrackRecord("contrast", "ood", "hcp-t2"))


def test_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with ResultsStore() as store:
        assert store.path == DEFAULT_RESULTS_PATH
    assert (tmp_path / "results" / "results.sqlite").is_file()
    with pytest.raises(InputError, match="does not exist"):
        ResultsStore(tmp_path / "missing" / "r.sqlite")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(InputError, match="not found"):
        ResultsStore(tmp_path / "none.sqlite", must_exist=True)
    (tmp_path / "text.sqlite").write_text("this is not a database, " * 100)
    with pytest.raises(InputError, match="text.sqlite: not an SQLite results store"):
        ResultsStore(tmp_path / "text.sqlite")
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE something (x)")
    other.commit()
    other.close()
    with pytest.raises(InputError, match="not an srbench results store"):
        ResultsStore(tmp_path / "other.sqlite")


def test_schema_version_and_wal(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultsStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="schema version"):
        ResultsStore(path)


def _store_with(path: Path, method: str, subjects: list[str], value: float = 1.0, track: str = "insample") -> str:
    with ResultsStore(path) as store:
        store.register_track(TrackRecord(track, "insample", "demo"))
        key = store.register_run(record(method=method))
        for subject in subjects:
            store.add_subject(key, track, subject, {"psnr": value, "ssim": 0.5}, {f"{subject}.nii.gz": "ab" * 32})
        return key


def test_merge_without_duplicates(tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    _store_with(a, "trilinear", ["s1", "s2"])
    _store_with(b, "trilinear", ["s2", "s3"])  # s2 overlaps with identical values
    with ResultsStore(b) as store:
        key = store.register_run(record(method="dcsrn"))
        store.mark_not_applicable(key, "dcsrn", "knee", "no")
    report = merge([a, b], tmp_path / "c.sqlite")
    assert report.results_added == 6 and report.results_already_present == 2
    with ResultsStore(tmp_path / "c.sqlite") as merged:
        rows = merged.rows()
        assert len(rows) == 6
        assert not rows.duplicated(["run_key", "track", "subject", "metric"]).any()
        assert sorted(rows["subject"].unique()) == ["s1", "s2", "s3"]
        assert len(merged.runs()) == 2 and len(merged.not_applicable()) == 1 and len(merged.inputs()) == 3
    # merging again into the existing store adds nothing
    again = merge([a, b], tmp_path / "c.sqlite")
    assert again.results_added == 0 and again.runs_added == 0
    with ResultsStore(tmp_path / "c.sqlite") as merged:
        assert len(merged.rows()) == 6
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_merge_conflict_names_both_files_and_writes_nothing(tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    _store_with(a, "trilinear", ["s1", "s2"], value=30.0)
    _store_with(b, "trilinear", ["s2"], value=31.0)
    with pytest.raises(InputError) as info:
        merge([a, b], tmp_path / "c.sqlite")
    message = str(info.value)
    assert "a.sqlite" in message and "b.sqlite" in message and "psnr" in message and "s2" in message
    assert "\n" not in message
    assert not (tmp_path / "c.sqlite").exists()
    with pytest.raises(InputError, match="must not also be"):
        merge([a], a)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from srbench.results.store import ResultsStore, RunRecord
    path, worker, start, subjects = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    while time.time() < start:
        time.sleep(0.005)
    store = ResultsStore(path)
    def run(method):
        return RunRecord(method=method, degradation="paper-linear", intensity_convention="c",
                         scale=(2, 2, 2), config={})
    own = store.register_run(run(f"method{worker}"))
    shared = store.register_run(run("shared"))
    for i in range(subjects):
        subject = f"sub{i:03d}"
        store.add_subject(own, "insample", subject, {m: worker + i / 100 for m in ("psnr", "ssim", "nrmse", "lpips")},
                          {f"{subject}.nii.gz": "0" * 64})
        store.add_subject(shared, "insample", subject, {m: i for m in ("psnr", "ssim", "nrmse", "lpips")},
                          {f"{subject}.nii.gz": "0" * 64})
    store.close()
    """
)


def test_four_concurrent_processes_lose_and_duplicate_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"  # created by the writers themselves, concurrently
    workers, subjects, metrics = 4, 40, 4
    start = time.time() + 2.0
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(w), str(start), str(subjects)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(workers)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    expected = (workers + 1) * subjects * metrics
    with ResultsStore(path) as store:
        rows = store.rows()
        stored = len(rows)
        duplicated = int(rows.duplicated(["run_key", "track", "subject", "metric"]).sum())
        conn = sqlite3.connect(path)
        raw = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        conn.close()
        lost = expected - len(rows.drop_duplicates(["run_key", "track", "subject", "metric"]))
        print(f"concurrent writers: {workers} processes, expected {expected} rows, stored {stored}, "
              f"lost {lost}, duplicated {duplicated}")
        assert (lost, duplicated, raw) == (0, 0, expected)
        assert len(store.runs()) == workers + 1
        shared = rows[rows["method"] == "shared"]
        assert len(shared) == subjects * metrics
        own = rows[rows["method"] == "method2"].set_index(["subject", "metric"])["value"]
        assert own[("sub007", "psnr")] == pytest.approx(2.07)


def test_results_merge_and_show_commands(tmp_path):
    a, b, c = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "c.sqlite"
    _store_with(a, "trilinear", ["s1", "s2"])
    _store_with(b, "trilinear", ["s2", "s3"])
    result = run_cli("results", "merge", str(a), str(b), "--into", str(c), check=True)
    assert "6 result row(s)" in result.stderr and "2 result row(s) already present" in result.stderr
    shown = run_cli("results", "show", "--results", str(c), "--format", "csv", check=True)
    lines = shown.stdout.strip().split("\n")
    assert lines[0].startswith("method,track,subject,metric,value") and len(lines) == 7
    _store_with(tmp_path / "d.sqlite", "trilinear", ["s3"], value=2.0)
    conflict = run_cli("results", "merge", str(c), str(tmp_path / "d.sqlite"), "--into", str(tmp_path / "e.sqlite"))
    assert conflict.returncode == InputError.exit_code and conflict.stderr.startswith("error: ")
    assert not (tmp_path / "e.sqlite").exists()


def test_a_store_from_before_column_declarations_is_read_and_upgraded_when_written(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with ResultsStore(path) as store:
        store.add_subject(store.register_run(record()), "insample", "s1", {"psnr": 30.0}, {})
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE metric_columns")
    with ResultsStore(path, read_only=True) as store:
        assert store.metric_columns() == {} and store.table_rows("metric_columns") == []
    with ResultsStore(path) as store:
        store.register_columns([MetricColumn(name="psnr", metric="psnr", direction=True)])
        assert store.metric_columns()["psnr"].direction is True


def test_results_drop_deletes_matching_rows_in_one_transaction(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        store.register_track(TrackRecord("insample", "insample", "t"))
        for method in ("trilinear", "trigan"):
            key = store.register_run(record(method))
            for subject in ("s1", "s2", "s3"):
                store.add_subject(key, "insample", subject, {"psnr": 30.0, "ssim": 0.9}, {f"/d/{subject}": "ab"},
                                  plan={"grid": [1, 1, 1]})
    refused = run_cli("results", "drop", "--results", str(path))
    assert refused.returncode == 2 and "needs --track, --method or --subject" in refused.stderr
    unknown = run_cli("results", "drop", "--results", str(path), "--subject", "s4")
    assert unknown.returncode == 2 and "unknown subject" in unknown.stderr
    dropped = run_cli("results", "drop", "--results", str(path), "--track", "insample", "--subject", "s3", check=True)
    assert "dropped 4 metric value(s)" in dropped.stderr
    with ResultsStore(path, read_only=True) as store:
        rows = store.rows()
        assert sorted(set(rows["subject"])) == ["s1", "s2"] and len(rows) == 8
        assert not store.has_subject(rows["run_key"].iloc[0], "insample", "s3", ["psnr"])
    only = run_cli("results", "drop", "--results", str(path), "--method", "trigan", check=True)
    assert "dropped 4 metric value(s)" in only.stderr
    with ResultsStore(path, read_only=True) as store:
        assert set(store.rows()["method"]) == {"trilinear"}
