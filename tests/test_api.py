"""The library API (srbench.api): the same checks, files and rows as the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

import srbench.api as sr
from srbench.errors import InputError
from srbench.results.store import ResultsStore
from tests.training_toy import write_benchmark


@pytest.fixture
def toy_benchmark(toy_plugin, tmp_path, monkeypatch) -> Path:
    path = write_benchmark(
        tmp_path,
        '[datasets.heads]\npaths = ["vols/*.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n\n'
        '[tracks.insample]\ntrain = "heads"\ntest = "heads"\n\n[tracks.heads-cv]\nkind = "cv"\ntest = "heads"\n',
        count=3,
    )
    monkeypatch.chdir(tmp_path)
    return path


def test_train_then_evaluate_from_python(toy_benchmark, tmp_path):
    models = sr.train("toy", track="insample", iterations=2, options={"channels": 3})
    assert models == [Path("runs/toy-cpu-insample/model.safetensors")] and models[0].is_file()
    folds = sr.train("toy", track="heads-cv", iterations=1)
    assert [m.parent.name for m in folds] == ["fold-1", "fold-2", "fold-3"]

    rows = sr.evaluate("insample", methods=["trilinear", "toy"], results=tmp_path / "r.sqlite")
    assert sorted(set(rows["method"])) == ["toy", "trilinear"] and set(rows["status"]) == {"ok"}
    assert len(rows) == 6 and rows["psnr"].notna().all() and "lpips" in rows.columns
    again = sr.evaluate("insample", methods=["trilinear"], results=tmp_path / "r.sqlite")
    assert set(again["status"]) == {"skipped"}
    with ResultsStore(tmp_path / "r.sqlite", read_only=True) as store:
        assert len(store.rows("insample")["subject"].unique()) == 3

    cv = sr.evaluate("heads-cv", methods=["toy"], results=tmp_path / "r.sqlite")
    assert list(cv["subject"]) == ["sub-00", "sub-01", "sub-02"]


def test_bad_input_is_the_command_lines_one_line_error(toy_benchmark, tmp_path):
    with pytest.raises(InputError, match="unknown track 'nope'"):
        sr.evaluate("nope", results=tmp_path / "r.sqlite")
    with pytest.raises(InputError, match="--fold 9: track 'heads-cv' has folds 1 to 3"):
        sr.train("toy", track="heads-cv", fold=9)
    assert not (tmp_path / "r.sqlite").exists() and not Path("runs").exists()
