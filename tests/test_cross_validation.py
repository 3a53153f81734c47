"""Cross-validation tracks (``kind = "cv"``): configuration, folds, training per fold,
evaluation of each subject by its fold's model, and the leaderboard over all subjects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srbench.cli import main
from srbench.config import load_config
from srbench.plugins import get_plugin_manager
from srbench.errors import InputError
from srbench.folds import folds_by_subject, subject_folds
from srbench.interfaces import SubjectFile
from srbench.results.store import ResultsStore
from tests.training_toy import write_benchmark

SUBJECTS = ["sub-00", "sub-01", "sub-02"]

CV_TOML = """
[datasets.heads]
paths = ["vols/*.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.heads-cv]
kind = "cv"
folds = "subject"
test = "heads"

[tracks.insample]
train = "heads"
test = "heads"
"""


@pytest.fixture
def cv_toml(tmp_path, monkeypatch) -> Path:
    path = write_benchmark(tmp_path, CV_TOML, count=len(SUBJECTS))
    monkeypatch.chdir(tmp_path)
    return path


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_folds_leave_one_subject_out_in_id_order():
    files = [SubjectFile(subject=s, path=Path(f"/x/{s}.nii.gz")) for s in ("c", "a", "b")]
    folds = subject_folds(files, track="t")
    assert [(f.number, f.count, f.held_out_ids, [s.subject for s in f.train]) for f in folds] == [
        (1, 3, ["a"], ["b", "c"]), (2, 3, ["b"], ["a", "c"]), (3, 3, ["c"], ["a", "b"]),
    ]
    assert folds[1].directory == "fold-2" and folds[1].record() == {"fold": 2, "folds": 3, "held_out": "b"}
    with pytest.raises(InputError, match="at least 2"):
        subject_folds(files[:1], track="t")
    with pytest.raises(InputError, match="appear twice"):
        subject_folds([files[0], files[0]], track="t")


def test_grouped_folds_are_subject_disjoint_near_equal_groups_in_id_order():
    files = [SubjectFile(subject=f"s{i:02d}", path=Path(f"/x/s{i:02d}.nii.gz")) for i in (7, 1, 3, 2, 5, 4, 6)]
    folds = subject_folds(files, track="t", folds=3)
    assert [f.held_out_ids for f in folds] == [["s01", "s02", "s03"], ["s04", "s05"], ["s06", "s07"]]
    for fold in folds:
        assert not set(fold.held_out_ids) & {s.subject for s in fold.train}
        assert len(fold.held_out) + len(fold.train) == 7
    assert sorted(i for f in folds for i in f.held_out_ids) == sorted(s.subject for s in files)
    assert folds[0].record() == {"fold": 1, "folds": 3, "held_out": ["s01", "s02", "s03"]}
    assert folds_by_subject(folds)["s05"].number == 2
    with pytest.raises(InputError, match="between 2 and 7"):
        subject_folds(files, track="t", folds=8)


def test_cv_track_is_parsed(cv_toml):
    config = load_config(cv_toml, pm=get_plugin_manager())
    track = config.tracks["heads-cv"]
    assert (track.kind, track.folds, track.test, track.train, track.cross_validated) == ("cv", "subject", "heads", None, True)
    assert track.training_dataset == "heads" and track.training_track(config) == "heads-cv"
    assert [t.name for t in config.select_tracks("cv")] == ["heads-cv"]
    assert config.tracks["insample"].folds is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "cv"\ntest = "heads"\ntrain = "heads"', r"\[tracks.bad\] train: a cv track trains each fold"),
        ('kind = "cv"\ntest = "heads"\nfolds = "site"', r"\[tracks.bad\] folds: expected one of subject"),
        ('kind = "cv"\ntest = "heads"\nfolds = 1', r"\[tracks.bad\] folds: expected an integer >= 2, got 1"),
        ('kind = "cv"\ntest = "heads"\nfolds = true', r"\[tracks.bad\] folds: expected \"subject\" or a number"),
        ('kind = "cv"\ntest = "heads"\nfolds = 2.5', r"\[tracks.bad\] folds: expected \"subject\" or a number"),
        ('kind = "ood"\ntest = "heads"\nfolds = "subject"', r"\[tracks.bad\] folds: only a track of kind \"cv\""),
        ('kind = "cv"\ntest = "heads"\nmodels_from = "insample"', r"\[tracks.bad\] models_from: a cv track trains"),
        ('kind = "ood"\ntest = "heads"\nmodels_from = "heads-cv"', r"models_from: track 'heads-cv' is a cross-validation"),
    ],
)
def test_cv_configuration_mistakes_are_one_line_errors(cv_toml, table, message):
    cv_toml.write_text(CV_TOML + f"\n[tracks.bad]\n{table}\n")
    with pytest.raises(InputError, match=message):
        load_config(cv_toml, pm=get_plugin_manager())


def test_grouped_folds_train_evaluate_and_board(toy_plugin, cv_toml, capsys, tmp_path):
    cv_toml.write_text(CV_TOML + '\n[tracks.heads-cv2]\nkind = "cv"\nfolds = 2\ntest = "heads"\n')
    code, out, err = run_cli(capsys, "train", "toy", "--track", "heads-cv2", "--iterations", "2", "--no-progress")
    assert code == 0, err
    assert out.split() == [f"runs/toy-cpu-heads-cv2/fold-{k}/model.safetensors" for k in (1, 2)]
    assert f"fold 1/2 (held out: {SUBJECTS[0]}, {SUBJECTS[1]})" in err
    read = sorted(Path(f["path"]).name for f in json.loads(Path("runs/toy-cpu-heads-cv2/fold-1/manifest.json").read_text())["data_files"])
    assert read == [f"{SUBJECTS[2]}.nii.gz"], "fold 1 read a subject it holds out"
    store_path = tmp_path / "cv2.sqlite"
    code, out, err = run_cli(capsys, "evaluate", "--track", "heads-cv2", "--method", "toy", "--method", "trilinear",
                             "--results", str(store_path), "--format", "json", "--no-save-predictions")
    assert code == 0, err
    with ResultsStore(store_path, read_only=True) as store:
        runs = store.runs()
        held = {(m, json.loads(c)["cross_validation"]["fold"]): json.loads(c)["cross_validation"]["held_out"]
                for m, c in zip(runs["method"], runs["config"], strict=True)}
        by_run = store.rows("heads-cv2").groupby("run_key")["subject"].unique()
    assert held[("toy", 1)] == SUBJECTS[:2] and held[("toy", 2)] == SUBJECTS[2]
    assert sorted(len(s) for s in by_run) == [1, 1, 2, 2], "each fold's model scores exactly the subjects it held out"
    code, out, err = run_cli(capsys, "leaderboard", "--results", str(store_path), "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert "grouped 2-fold cross-validation" in (tmp_path / "b" / "heads-cv2.md").read_text()
    cv_toml.write_text(CV_TOML + '\n[tracks.heads-cv2]\nkind = "cv"\nfolds = 4\ntest = "heads"\n')
    code, out, err = run_cli(capsys, "train", "toy", "--track", "heads-cv2", "--iterations", "2", "--no-progress")
    assert code == 2 and "folds = 4 needs between 2 and 3 folds for 3 subjects" in err and out == ""


def test_cv_is_a_reserved_track_name(cv_toml):
    cv_toml.write_text(CV_TOML + '\n[tracks.cv]\ntest = "heads"\n')
    with pytest.raises(InputError, match="reserved"):
        load_config(cv_toml, pm=get_plugin_manager())


def test_train_every_fold_then_one_fold_resumably(toy_plugin, cv_toml, capsys):
    code, out, err = run_cli(capsys, "train", "toy", "--track", "heads-cv", "--iterations", "2", "--no-progress")
    assert code == 0, err
    models = [Path(line) for line in out.split()]
    assert models == [Path(f"runs/toy-cpu-heads-cv/fold-{k}/model.safetensors") for k in (1, 2, 3)]
    for k, model in enumerate(models, start=1):
        config = json.loads((model.parent / "config.json").read_text())
        assert (config["track"], config["fold"]) == ("heads-cv", k)
        read = sorted(Path(f["path"]).name for f in json.loads((model.parent / "manifest.json").read_text())["data_files"])
        assert read == [f"{s}.nii.gz" for s in SUBJECTS if s != SUBJECTS[k - 1]], "a fold read its held-out subject"
        assert f"fold {k}/3 (held out: {SUBJECTS[k - 1]})" in err

    # a second run without --resume is refused before anything trains; with it, fold 2 continues
    code, out, err = run_cli(capsys, "train", "toy", "--track", "heads-cv", "--fold", "2", "--no-progress")
    assert code == 2 and "already has a checkpoint" in err and out == ""
    code, out, err = run_cli(
        capsys, "train", "toy", "--track", "heads-cv", "--fold", "2", "--iterations", "3", "--resume", "--no-progress"
    )
    assert code == 0, err
    assert out.split() == ["runs/toy-cpu-heads-cv/fold-2/model.safetensors"] and "from iteration 2 of 3" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--track", "heads-cv", "--fold", "4"), "--fold 4: track 'heads-cv' has folds 1 to 3"),
        (("--track", "insample", "--fold", "1"), "--fold 1: track 'insample' is of kind 'insample' and has no folds"),
        (("--track", "heads-cv", "--set", "fold=1"), "--set fold: the fold comes from the track"),
    ],
)
def test_train_fold_mistakes(toy_plugin, cv_toml, capsys, args, message):
    code, out, err = run_cli(capsys, "train", "toy", *args, "--iterations", "1", "--no-progress")
    assert code == 2 and message in err and out == ""
    assert not Path("runs").exists()


def test_evaluate_scores_each_subject_with_its_folds_model(toy_plugin, cv_toml, capsys, tmp_path):
    assert run_cli(capsys, "train", "toy", "--track", "heads-cv", "--iterations", "2", "--no-progress")[0] == 0
    assert run_cli(capsys, "train", "toy", "--track", "insample", "--iterations", "2", "--no-progress")[0] == 0
    store_path = tmp_path / "results" / "cv.sqlite"
    store_path.parent.mkdir()
    code, out, err = run_cli(
        capsys, "evaluate", "--track", "heads-cv", "--method", "toy", "--method", "trilinear",
        "--results", str(store_path), "--format", "json", "--no-save-predictions",
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted((r["method"], r["subject"]) for r in rows) == sorted((m, s) for m in ("toy", "trilinear") for s in SUBJECTS)

    with ResultsStore(store_path, read_only=True) as store:
        runs = store.runs()
        folds = {}
        for method, text, sha in zip(runs["method"], runs["config"], runs["checkpoint_sha256"], strict=True):
            config = json.loads(text)
            folds[(method, config["cross_validation"]["fold"])] = (config["cross_validation"]["held_out"], sha)
            if method == "toy":
                assert config["training"]["fold"] == config["cross_validation"]["fold"]
        assert sorted(folds) == sorted((m, k) for m in ("toy", "trilinear") for k in (1, 2, 3))
        assert [folds[("toy", k)][0] for k in (1, 2, 3)] == SUBJECTS
        assert len({folds[("toy", k)][1] for k in (1, 2, 3)}) == 3, "each fold has its own weights"
        rows = store.rows("heads-cv")
        by_run = rows.groupby("run_key")["subject"].unique()
        assert all(len(subjects) == 1 for subjects in by_run), "a fold's model scored more than its held-out subject"

    board_dir = tmp_path / "boards"
    code, out, err = run_cli(capsys, "leaderboard", "--results", str(store_path), "--out", str(board_dir),
                             "--html", str(tmp_path / "site"))
    assert code == 0, err
    page = (tmp_path / "site" / "heads-cv.html").read_text()
    assert ">Fold<" in page and all(f"fold {k}: run " in page for k in (1, 2, 3))
    assert '&quot;held_out&quot;: &quot;sub-02&quot;' in page
    text = (board_dir / "heads-cv.md").read_text()
    assert "leave-one-subject-out cross-validation" in text and "**Subjects:** 3" in text
    table = [line for line in text.splitlines() if line.startswith("| toy ") or line.startswith("| trilinear ")]
    assert len(table) >= 2 and all(line.split("|")[2].strip() == "3" for line in table[:2]), "one row per method, n = 3"
    per_subject = text.split("## Per subject")[1].split("## Statistics")[0]
    for k, subject in enumerate(SUBJECTS, start=1):
        assert f"| {subject} | {k} |" in per_subject
    assert "95% CI" in text and "p vs trilinear" in text


def test_evaluate_cv_needs_every_folds_model(toy_plugin, cv_toml, capsys, tmp_path):
    assert run_cli(capsys, "train", "toy", "--track", "heads-cv", "--fold", "1", "--iterations", "1", "--no-progress")[0] == 0
    (tmp_path / "results").mkdir()
    code, out, err = run_cli(capsys, "evaluate", "--track", "heads-cv", "--method", "toy", "--results", "results/r.sqlite")
    assert code == 2 and "has no model for fold 2 of cross-validation track 'heads-cv'" in err and out == ""
    assert not Path("results/r.sqlite").exists()
    model = "runs/toy-cpu-heads-cv/fold-1/model.safetensors"
    code, out, err = run_cli(
        capsys, "evaluate", "--track", "heads-cv", "--method", "toy", "--checkpoint", model, "--results", "results/r.sqlite"
    )
    assert code == 2 and "one model per fold" in err
    # without --method, a method lacking folds is skipped with a note and trilinear still runs
    code, out, err = run_cli(capsys, "evaluate", "--track", "heads-cv", "--results", "results/r.sqlite", "--format", "json",
                             "--no-save-predictions")
    assert code == 0, err
    assert "skipping method 'toy' on track 'heads-cv'" in err
    assert {json.loads(line)["method"] for line in out.splitlines()} == {"trilinear"}


def test_a_folds_model_that_trained_on_a_now_held_out_subject_is_refused(toy_plugin, cv_toml, capsys, tmp_path):
    assert run_cli(capsys, "train", "toy", "--track", "heads-cv", "--iterations", "1", "--no-progress")[0] == 0
    # regrouped into 2 folds after training: fold 1 now holds out sub-00 and sub-01, and the
    # leave-one-out fold-1 model trained on sub-01
    cv_toml.write_text(cv_toml.read_text().replace('folds = "subject"', "folds = 2"))
    (tmp_path / "results").mkdir()
    code, out, err = run_cli(capsys, "evaluate", "--track", "heads-cv", "--method", "toy", "--results", "results/r.sqlite")
    assert code == 2 and out == "", err
    assert "fold-1/model.safetensors: trained on held-out subject(s) sub-01" in err and len(err.strip().splitlines()) == 1
    assert not Path("results/r.sqlite").exists()


def test_a_folds_run_ships_into_its_own_weights_folder(toy_plugin, cv_toml, capsys, tmp_path):
    from srbench.weights import add_run

    assert run_cli(capsys, "train", "toy", "--track", "heads-cv", "--fold", "2", "--iterations", "1", "--no-progress")[0] == 0
    shipped = add_run(toy_plugin, Path("runs/toy-cpu-heads-cv/fold-2"), into=tmp_path / "weights")
    assert shipped.path.parent.name == "cpu-heads-cv-fold-2" and (shipped.track, shipped.fold) == ("heads-cv", 2)
    # the run was given absolute paths below the working directory: published relative
    assert sorted(f["path"] for f in shipped.manifest["data_files"]) == ["vols/sub-00.nii.gz", "vols/sub-02.nii.gz"]
