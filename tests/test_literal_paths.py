"""Paths taken as they are: a configuration folder with glob characters, a ./datasets.toml
that is not a regular file, and an output name near the file-name limit."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from srbench.config import load_config
from srbench.errors import InputError
from srbench.io.atomic import write_text_atomic
from srbench.io.paths import path_component
from srbench.plugins import get_plugin_manager


def test_a_configuration_folder_with_glob_characters_finds_its_data(tmp_path):
    lab = tmp_path / "lab [2024] *?"
    (lab / "data").mkdir(parents=True)
    for name in ("a", "b"):
        nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.float32), np.eye(4)), str(lab / "data" / f"{name}.nii.gz"))
    (lab / "datasets.toml").write_text('[datasets.d]\npaths = ["data/*.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n'
                                       '[tracks.t]\nkind = "ood"\ntest = "d"\n')
    pm = get_plugin_manager()
    config = load_config(lab / "datasets.toml", pm=pm)
    assert [s.subject for s in config.subjects("d", pm)] == ["a", "b"]


def test_a_local_configuration_that_is_not_a_file_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    (tmp_path / "folder").mkdir()
    (tmp_path / "datasets.toml").symlink_to(tmp_path / "folder")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SRBENCH_CONFIG", raising=False)
    with pytest.raises(InputError, match=r"datasets\.toml: is a directory"):
        load_config(None, pm=get_plugin_manager())


def test_a_legal_name_near_the_limit_gets_a_temporary_name(tmp_path):
    target = tmp_path / ("é" * 120 + "x" * 7 + ".md")  # 247 + 3 = 250 bytes
    assert len(target.name.encode()) == 250
    write_text_atomic(target, "board\n")
    assert target.read_text() == "board\n" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_dataset_and_track_names_in_any_script_work_end_to_end(tmp_path):
    """A lab's own words as names: encoded where they become file names, never refused."""
    from srbench.cli.runner import run_cli
    from srbench.runs import default_run_dir

    (tmp_path / "data").mkdir()
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((24, 24, 24), dtype=np.float32) * 100, np.eye(4)),
             str(tmp_path / "data" / "s1.nii.gz"))
    (tmp_path / "datasets.toml").write_text('[datasets."données-тест"]\npaths = ["data/*.nii.gz"]\ncontrast = "T1w"\n'
                                            'anatomy = "brain"\n[tracks."трек-ü"]\nkind = "ood"\ntest = "données-тест"\n')
    env = {"NO_COLOR": "1", "SRBENCH_CONFIG": None}
    result = run_cli("evaluate", "--track", "трек-ü", "--method", "trilinear", "--skip-metric", "lpips", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    boards = run_cli("leaderboard", "--out", "results/boards", cwd=tmp_path, env=env)
    assert boards.returncode == 0, boards.stderr
    encoded = path_component("трек-ü")
    assert encoded.isascii() and "/" not in encoded
    written = sorted(p.name for p in (tmp_path / "results" / "boards").glob("*.md"))
    assert written == sorted(["index.md", f"{encoded}.md"])
    assert "# Leaderboard: track `трек-ü`" in (tmp_path / "results" / "boards" / f"{encoded}.md").read_text()
    assert default_run_dir("trilinear", "cpu", "трек-ü").name == f"trilinear-cpu-{encoded}"
    with pytest.raises(InputError, match="not valid"):
        load_config(_write(tmp_path / "bad.toml", '[datasets."a/b"]\npaths = ["x"]\ncontrast = "T1w"\nanatomy = "b"\n'),
                    pm=get_plugin_manager())


def _write(path, text):
    path.write_text(text)
    return path


def test_a_tree_with_loops_of_links_ends_and_finds_each_subject_once(tmp_path):
    """``**`` never enters a symlinked folder: two loops of links cannot make it endless."""
    import time

    from srbench.builtins.datasets import expand_pattern

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "up").symlink_to("..")
    (tmp_path / "a" / "b" / "up2").symlink_to("../..")
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.float32), np.eye(4)), str(tmp_path / "a" / "b" / "s1.nii.gz"))
    (tmp_path / "a" / "._s1.nii.gz").write_bytes(b"resource fork")
    start = time.monotonic()
    assert expand_pattern(tmp_path, "**/*.nii.gz") == [str(tmp_path / "a" / "b" / "s1.nii.gz")]
    assert time.monotonic() - start < 5
    (tmp_path / "datasets.toml").write_text('[datasets.d]\npaths = ["**/*.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n'
                                            '[tracks.t]\nkind = "ood"\ntest = "d"\n')
    pm = get_plugin_manager()
    assert [s.subject for s in load_config(tmp_path / "datasets.toml", pm=pm).subjects("d", pm)] == ["s1"]
