"""Exports and stores are input like any other: one typed schema (srbench/results/schema.py)
reads every row; unknown columns (which would become SQL identifiers), wrong types, NaN,
malformed hashes, duplicates and dangling references are refused with one line naming the
file, exit status 2, and nothing is written."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from srbench.cli.runner import run_cli
from tests.conftest import REPO

EXPORT = REPO / "leaderboards" / "results.jsonl"
ENV = {"NO_COLOR": "1"}


def _records() -> list[dict]:
    return [json.loads(line) for line in EXPORT.read_text().splitlines() if line.strip()]


def _first(records, kind):
    return next(r for r in records if r["record"] == kind)


def extra_column(records):
    _first(records, "result")["value); DROP TABLE results; --"] = 1
    return "column srbench does not know"


def nan_value(records):
    _first(records, "result")["value"] = "NaN"
    return "value"


def bare_nan(records):
    return "NaN"  # written below as a bare NaN literal


def missing_column(records):
    del _first(records, "input")["sha256"]
    return "sha256"


def bad_hash(records):
    _first(records, "input")["sha256"] = "abc"
    return "sha256"


def duplicate_result(records):
    records.append(dict(_first(records, "result")))
    return "second results row"


def conflicting_result(records):
    copy = dict(_first(records, "result"))
    copy["value"] = 99.0
    records.append(copy)
    return "second results row"


def dangling_run(records):
    _first(records, "result")["run_key"] = "0" * 64
    return "which the file does not hold"


def wrong_method(records):
    _first(records, "result")["method"] = "someone-else"
    return "method"


def not_an_object(records):
    records.append(["result"])
    return "not a record"


CASES = [extra_column, nan_value, bare_nan, missing_column, bad_hash, duplicate_result, conflicting_result, dangling_run,
         wrong_method, not_an_object]


@pytest.mark.parametrize("tamper", CASES, ids=[c.__name__ for c in CASES])
def test_a_tampered_export_is_refused_by_every_reader(tamper, tmp_path):
    records = _records()
    expected = tamper(records)
    text = "".join(json.dumps(r) + "\n" for r in records)
    if tamper is bare_nan:
        text = text.replace('"value": ', '"value": NaN, "x": ', 1)
    export = tmp_path / "rows.jsonl"
    export.write_text(text)
    for argv in (("results", "import", str(export), "--into", str(tmp_path / "into.sqlite")),
                 ("leaderboard", "--from", str(export), "--out", str(tmp_path / "boards"))):
        result = run_cli(*argv, cwd=tmp_path, env=ENV)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (argv, result.stderr)
        assert str(export) in lines[0] and expected in lines[0], lines[0]
    assert not (tmp_path / "into.sqlite").exists() and not (tmp_path / "boards").exists()


def test_a_store_with_a_column_the_schema_does_not_know_is_refused_by_merge(tmp_path):
    store = tmp_path / "a.sqlite"
    assert run_cli("results", "import", str(EXPORT), "--into", str(store), cwd=tmp_path, env=ENV).returncode == 0
    with sqlite3.connect(store) as conn:
        conn.execute('ALTER TABLE results ADD COLUMN "x); DELETE FROM runs; --" TEXT')
        conn.execute("PRAGMA journal_mode = DELETE")
    result = run_cli("results", "merge", str(store), "--into", str(tmp_path / "b.sqlite"), cwd=tmp_path, env=ENV)
    assert result.returncode == 2 and "column srbench does not know" in result.stderr
    assert not (tmp_path / "b.sqlite").exists()


def test_the_committed_export_passes_the_schema(tmp_path):
    shutil.copy(EXPORT, tmp_path / "rows.jsonl")
    result = run_cli("leaderboard", "--from", str(tmp_path / "rows.jsonl"), "--out", str(tmp_path / "boards"),
                     cwd=tmp_path, env=ENV)
    assert result.returncode == 0, result.stderr
    assert Path(tmp_path / "boards" / "index.md").is_file()


def test_one_json_form_for_non_finite_numbers():
    import math

    from srbench.io.json_numbers import json_number, number_from_json

    assert [json_number(v) for v in (1.5, math.inf, -math.inf, math.nan, 3, "x", None)] == [
        1.5, "inf", "-inf", "nan", 3, "x", None]
    assert number_from_json("inf") == math.inf and math.isnan(number_from_json("nan")) and number_from_json(2) == 2.0
    with pytest.raises(ValueError):
        number_from_json(True)
