"""The results export: deterministic bytes, a faithful round trip through a store, rendering
independent of the order rows were stored in, merge rules on import, refusal of edited
records; and the statistics section of a track with fewer than 3 subjects."""

from __future__ import annotations

import json

import pytest

from srbench.errors import InputError
from srbench.leaderboard.markdown import write_leaderboards
from srbench.metric_columns import declared_columns
from srbench.plugins import get_plugin_manager
from srbench.results.export import import_export, read_export, store_from_records, write_export
from srbench.results.store import ResultsStore, RunRecord, TrackRecord

PM = get_plugin_manager()

VALUES = {
    "trilinear": {"psnr": [30.0, 31.5, 29.25], "ssim": [0.8, 0.81, 0.79]},
    "good": {"psnr": [33.0, 35.0, 34.0], "ssim": [0.9, 0.91, float("inf")]},
}


def run(method: str, scale=(2, 2, 2)) -> RunRecord:
    return RunRecord(method=method, degradation="paper-linear", intensity_convention="hr-minmax-01", scale=scale,
                     config={"inference": {"patch_size": 32}, "degradation": {"name": "paper-linear", "options": {}, "seed": 0}},
                     checkpoint_sha256=None if method == "trilinear" else "ab" * 32, srbench_version="0.1.0",
                     plugin_versions={"srbench-mri": "0.1.0"}, git_commit="c0ffee", created_at="2026-11-29T10:00:00+00:00")


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "store.sqlite"
    with ResultsStore(path) as store:
        store.register_track(TrackRecord("insample", "insample", "test", "train"))
        store.register_track(TrackRecord("knee", "ood", "knee"))
        for method, metrics in VALUES.items():
            key = store.register_run(run(method))
            for i in range(3):
                store.add_subject(key, "insample", f"s{i + 1}", {m: v[i] for m, v in metrics.items()},
                                  {f"data/s{i + 1}.nii.gz": f"{i:064x}"})
        knee = store.register_run(run("trilinear", scale=(2, 2, 1)))
        store.add_subject(knee, "knee", "k1", {"psnr": 27.0, "ssim": 0.7}, {"data/k1.nii.gz": "f" * 64})
        store.mark_not_applicable(store.register_run(run("good", scale=(2, 2, 1))), "good", "knee", "isotropic only")
    return path


def test_export_is_deterministic_and_round_trips(store_path, tmp_path):
    with ResultsStore(store_path, read_only=True) as store:
        assert write_export(store, tmp_path / "a.jsonl") == 2 * 3 * 2 + 2
        write_export(store, tmp_path / "b.jsonl")
    first = (tmp_path / "a.jsonl").read_bytes()
    assert first == (tmp_path / "b.jsonl").read_bytes()
    records = [json.loads(line) for line in first.decode().splitlines()]
    assert records[0]["record"] == "export" and {r["record"] for r in records} == {
        "export", "run", "track", "input", "result", "not_applicable"}
    assert any(r["record"] == "result" and r["value"] == "inf" for r in records)
    # a store written from the export, even with its rows in reverse order, exports the same bytes
    rows = read_export(tmp_path / "a.jsonl")
    rebuilt = store_from_records([rows[0], *reversed(rows[1:])], tmp_path / "reversed.sqlite")
    with ResultsStore(rebuilt, read_only=True) as store:
        write_export(store, tmp_path / "c.jsonl")
    assert (tmp_path / "c.jsonl").read_bytes() == first


def test_metric_column_declarations_travel_with_the_rows(store_path, tmp_path):
    declared = declared_columns(PM)
    with ResultsStore(store_path) as store:
        store.register_columns(declared[name] for name in ("psnr", "ssim"))
    with ResultsStore(store_path, read_only=True) as store:
        write_export(store, tmp_path / "a.jsonl")
        reference = write_leaderboards(store, tmp_path / "reference", pm=PM).tracks["insample"].read_text()
    records = read_export(tmp_path / "a.jsonl")
    assert records[0]["version"] == 3
    assert [r["name"] for r in records if r["record"] == "column"] == ["psnr", "ssim"]
    assert next(r for r in records if r["record"] == "column")["display"]["label"] == "PSNR"
    # an export renders its columns as declared, with no plugin installed (only the degradation's
    # description comes from the plugins); an import carries the declarations into another store
    with ResultsStore(store_from_records(records, tmp_path / "rebuilt.sqlite"), read_only=True) as store:
        assert store.metric_columns() == {name: declared[name] for name in ("psnr", "ssim")}
        alone = write_leaderboards(store, tmp_path / "alone").tracks["insample"].read_text()
    assert alone.replace("- **Degradation:** paper-linear\n", "") == "\n".join(
        line for line in reference.split("\n") if not line.startswith("- **Degradation:** paper-linear")
    )
    assert import_export(tmp_path / "a.jsonl", tmp_path / "mine.sqlite").metric_columns_added == 2
    with ResultsStore(tmp_path / "mine.sqlite", read_only=True) as store:
        assert store.metric_columns() == {name: declared[name] for name in ("psnr", "ssim")}


def test_rendering_does_not_depend_on_row_order(store_path, tmp_path):
    with ResultsStore(store_path, read_only=True) as store:
        write_export(store, tmp_path / "a.jsonl")
        original = write_leaderboards(store, tmp_path / "original", pm=PM)
    rows = read_export(tmp_path / "a.jsonl")
    rebuilt = store_from_records([rows[0], *reversed(rows[1:])], tmp_path / "reversed.sqlite")
    with ResultsStore(rebuilt, read_only=True) as store:
        again = write_leaderboards(store, tmp_path / "again", pm=PM)
    for track, path in original.tracks.items():
        assert path.read_bytes() == again.tracks[track].read_bytes()
    assert original.index.read_bytes() == again.index.read_bytes()
    insample = original.tracks["insample"].read_text()
    assert "**Date:** 2026-11-29 (UTC)" in insample  # the newest run's date, not the clock's
    assert "### PSNR" in insample and "95% CI" in insample
    knee = original.tracks["knee"].read_text()
    assert "No confidence interval or paired test is possible on this track: it has 1 subject," in knee
    assert "p = 1" not in knee and "### PSNR" not in knee


def test_import_merges_and_refuses_conflicts(store_path, tmp_path):
    with ResultsStore(store_path, read_only=True) as store:
        write_export(store, tmp_path / "a.jsonl")
    report = import_export(tmp_path / "a.jsonl", tmp_path / "mine.sqlite")
    assert report.results_added == 14 and report.runs_added == 4
    assert import_export(tmp_path / "a.jsonl", tmp_path / "mine.sqlite").results_added == 0
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    changed = []
    for line in lines:
        record = json.loads(line)
        if record["record"] == "result" and record["subject"] == "s1" and record["metric"] == "psnr":
            record["value"] += 1.0
        changed.append(json.dumps(record, sort_keys=True))
    (tmp_path / "changed.jsonl").write_text("\n".join(changed) + "\n")
    with pytest.raises(InputError, match="results merge conflict"):
        import_export(tmp_path / "changed.jsonl", tmp_path / "mine.sqlite")


def test_edited_provenance_and_foreign_files_are_refused(store_path, tmp_path):
    with ResultsStore(store_path, read_only=True) as store:
        write_export(store, tmp_path / "a.jsonl")
    records = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    next(r for r in records if r["record"] == "run")["git_commit"] = "other"  # not part of the key: accepted
    next(r for r in records if r["record"] == "run")["scale"] = [4, 4, 4]  # part of the key: refused
    (tmp_path / "edited.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(InputError, match="the record was edited"):
        read_export(tmp_path / "edited.jsonl")
    (tmp_path / "other.jsonl").write_text('{"method": "x"}\n')
    with pytest.raises(InputError, match="not a record of a results export"):
        read_export(tmp_path / "other.jsonl")


def test_a_signed_diagnostic_column_round_trips(tmp_path):
    """The bias column (negative, zero, positive) is exported, imported and rendered unchanged."""
    with ResultsStore(tmp_path / "s.sqlite") as store:
        key = store.register_run(run("good"))
        for i, bias in enumerate((-0.0421, 0.0, 0.0133)):
            store.add_subject(key, "insample", f"s{i + 1}", {"psnr": 30.0 + i, "bias": bias}, {})
        write_export(store, tmp_path / "e.jsonl")
        before = write_leaderboards(store, tmp_path / "a", pm=PM).tracks["insample"].read_bytes()
    records = read_export(tmp_path / "e.jsonl")
    assert sorted(r["value"] for r in records if r["record"] == "result" and r["metric"] == "bias") == [-0.0421, 0.0, 0.0133]
    with ResultsStore(store_from_records(records, tmp_path / "b.sqlite"), read_only=True) as store:
        after = write_leaderboards(store, tmp_path / "b", pm=PM).tracks["insample"].read_bytes()
    assert after == before and "| Bias % |" in after.decode() and "| -0.96 ± 2.89 |" in after.decode()
