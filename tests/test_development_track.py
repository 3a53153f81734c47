"""The development split (kind "dev"): where presets are tuned, kept apart from every
benchmark track's test data, out of `--track all` and out of the leaderboard index."""

from __future__ import annotations

import pytest

from srbench.config import load_config
from srbench.errors import InputError
from srbench.leaderboard.markdown import write_leaderboards
from srbench.plugins import get_plugin_manager
from srbench.results.store import ResultsStore, TrackRecord
from tests.conftest import REPO
from tests.test_leaderboard import PM, TODAY, fill


def test_the_development_heads_are_no_benchmark_tracks_test_or_cv_subject():
    pm = get_plugin_manager()
    for path in (REPO / "datasets.toml", REPO / "srbench" / "demo" / "datasets.toml"):
        config = load_config(path, pm=pm)
        dev = config.tracks["development"]
        assert dev.kind == "dev" and dev.training_track(config) == "development"
        assert "development" not in {t.name for t in config.select_tracks("all")}
        assert [t.name for t in config.select_tracks("dev")] == ["development"]
        dev_files = {s.path.resolve() for name in (dev.train, dev.test) for s in config.subjects(name, pm)}
        for track in config.tracks.values():
            if track.kind == "dev" or track.name.startswith("paper-"):
                continue
            tested = {s.path.resolve() for s in config.subjects(track.test, pm)}
            assert not dev_files & tested, f"a development head is tested by track {track.name}"


def test_a_development_track_on_a_benchmark_tracks_test_data_is_refused(tmp_path):
    (tmp_path / "datasets.toml").write_text(
        '[datasets.a]\npaths = ["a.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n'
        '[datasets.b]\npaths = ["b.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n'
        '[tracks.insample]\ntrain = "a"\ntest = "b"\n'
        '[tracks.tune]\nkind = "dev"\ntrain = "a"\ntest = "b"\n'
    )
    with pytest.raises(InputError, match=r"\[tracks.tune\] test: a development track tunes on data no benchmark track "
                                         r"tests on, but 'b' is the test dataset of track 'insample'"):
        load_config(tmp_path / "datasets.toml", pm=get_plugin_manager())


def test_a_development_board_says_what_it_is_and_the_index_leaves_it_out(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo-t1-test", "demo-t1-train"))
    store.register_track(TrackRecord("development", "dev", "demo-t1-dev", "demo-t1-dev-train"))
    for track in ("insample", "development"):
        fill(store, track, {"trilinear": {"psnr": [30.0]}})
    files = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM)
    store.close()
    board = files.tracks["development"].read_text()
    assert "- **Kind:** dev — a development split for tuning presets: its rows are not benchmark results" in board
    index = (tmp_path / "boards" / "index.md").read_text()
    assert "[insample](insample.md)" in index and "development" not in index


@pytest.mark.parametrize("method", ["trigan", "dcsrn", "arssr", "esrgan3d"])
def test_every_reference_preset_records_what_tuned_it(method):
    from srbench.training.config import resolve_config

    trainer = get_plugin_manager().get("trainer", method)
    for preset in trainer.presets:
        tuned = resolve_config(trainer, preset=preset, overrides={}).tuned_on
        assert tuned.strip(), f"{method} preset {preset} does not say what tuned it"
        assert "cohort" not in tuned or "never a cohort-t1-cv head" in tuned


def test_the_board_states_what_a_preset_was_tuned_on(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo-t1-test", "demo-t1-train"))
    fill(store, "insample", {"trilinear": {"psnr": [30.0]}})
    fill(store, "insample", {"dcsrn": {"psnr": [31.0]}},
         config={"training": {"preset": "cpu", "track": "insample", "tuned_on": "the development split"}},
         checkpoint_path="w/d.safetensors", checkpoint_sha256="ab" * 32)
    markdown = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM).tracks["insample"].read_text()
    store.close()
    assert "trained on track insample; preset values chosen on: the development split; weights w/d.safetensors" in markdown
