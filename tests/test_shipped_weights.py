"""Shipped reference weights: discovery in plugin packages, sha256 records, choice of the
weights for a method and track, packaging globs of the reference plugins, and every
weights folder actually shipped being complete and intact."""

from __future__ import annotations

import fnmatch
import importlib
import json
import sys
import tomllib
import types
from pathlib import Path

import pytest

from srbench.errors import InputError
from srbench.plugins import get_plugin_manager
from srbench.weights import FILES, SHA_FILE, describe, find_shipped, folder_name, read_shipped, shipped_weights
from tests.fake_distributions import forget_fake_modules

REPO = Path(__file__).resolve().parents[1]


def write_shipped(folder: Path, *, method: str, preset: str, track: str, payload: bytes, fold: int = 0) -> None:
    import hashlib

    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(payload)
    (folder / "config.json").write_text(json.dumps({"method": method, "preset": preset, "track": track, "fold": fold}))
    (folder / "manifest.json").write_text(json.dumps({"git": {"commit": "abc123", "dirty": False}}))
    (folder / SHA_FILE).write_text(f"{hashlib.sha256(payload).hexdigest()}  model.safetensors\n")


@pytest.fixture
def fake_pm(tmp_path, monkeypatch):
    package = tmp_path / "srbench_pk_weightsunit"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write_shipped(package / "weights" / "cpu-insample", method="m", preset="cpu", track="insample", payload=b"one")
    write_shipped(package / "weights" / "paper-insample", method="m", preset="paper", track="insample", payload=b"two")
    write_shipped(package / "weights" / "cpu-knee", method="m", preset="cpu", track="knee", payload=b"three")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("srbench_pk_weightsunit")
    info = types.SimpleNamespace(module=module, distribution="srbench-mri-weightsunit", name="weightsunit")
    plain = types.SimpleNamespace(module=types.ModuleType("plain_module"), distribution="other", name="other")
    yield types.SimpleNamespace(plugins=[info, plain]), package
    forget_fake_modules()
    sys.modules.pop("srbench_pk_weightsunit", None)


def test_discovery_choice_and_listing(fake_pm):
    pm, package = fake_pm
    found = shipped_weights(pm)
    assert [(w.method, w.track, w.preset) for w in found] == [("m", "insample", "cpu"), ("m", "insample", "paper"),
                                                              ("m", "knee", "cpu")]
    assert find_shipped(pm, "m", track="insample").preset == "cpu"  # cpu preset first
    assert find_shipped(pm, "m", track="knee").track == "knee"
    assert find_shipped(pm, "m", track="contrast") is None and find_shipped(pm, "other") is None
    two = next(w for w in found if w.preset == "paper")
    assert find_shipped(pm, "m", sha256=two.recorded_sha256) == two
    rows = describe(found)
    assert rows[0]["training_commit"] == "abc123" and all(r["intact"] for r in rows)


def test_a_cross_validation_folds_model_is_found_only_by_its_sha256(fake_pm):
    pm, package = fake_pm
    write_shipped(package / "weights" / "cpu-cv-fold-1", method="m", preset="cpu", track="cv", payload=b"fold", fold=1)
    fold = next(w for w in shipped_weights(pm) if w.fold)
    assert (fold.track, fold.fold, describe([fold])[0]["fold"]) == ("cv", 1, 1)
    assert find_shipped(pm, "m", track="cv") is None, "a fold's model stood in for the track's model"
    assert find_shipped(pm, "m").fold == 0
    assert find_shipped(pm, "m", sha256=fold.recorded_sha256) == fold
    assert find_shipped(pm, "m", track="cv", fold=1) == fold
    assert find_shipped(pm, "m", track="cv", fold=2) is None, "one fold's model stood in for another's"


def test_a_shipped_folds_model_scores_only_subjects_its_manifest_never_trained_on(fake_pm, tmp_path):
    from srbench.interfaces import SubjectFile
    from srbench.io.hashing import sha256_file
    from srbench.runs import resolve_fold_checkpoint

    pm, package = fake_pm
    seen, unseen = tmp_path / "seen.nii.gz", tmp_path / "unseen.nii.gz"
    seen.write_bytes(b"a training volume")
    unseen.write_bytes(b"a held-out volume")
    folder = package / "weights" / "cpu-cv-fold-1"
    write_shipped(folder, method="m", preset="cpu", track="cv", payload=b"fold", fold=1)
    (folder / "manifest.json").write_text(json.dumps({"data_files": [{"path": "seen.nii.gz", "sha256": sha256_file(seen)}]}))
    model = types.SimpleNamespace(name="m", needs_checkpoint=True)
    notes: list[str] = []
    found = resolve_fold_checkpoint(model, track="cv", fold=1, held_out=[SubjectFile("b", unseen)], pm=pm,
                                    runs_root=tmp_path / "runs", notes=notes)
    assert found == folder / "model.safetensors" and "trained on track cv fold 1" in notes[0]
    with pytest.raises(InputError, match=r"cpu-cv-fold-1/model.safetensors: trained on held-out subject\(s\) a "):
        resolve_fold_checkpoint(model, track="cv", fold=1, held_out=[SubjectFile("a", seen)], pm=pm, runs_root=tmp_path)
    with pytest.raises(InputError, match="has no model for fold 2 .* and ships none"):
        resolve_fold_checkpoint(model, track="cv", fold=2, held_out=[SubjectFile("b", unseen)], pm=pm, runs_root=tmp_path)
    (folder / "manifest.json").write_text("{}")
    with pytest.raises(InputError, match="no readable manifest.json beside it lists the files it trained on"):
        resolve_fold_checkpoint(model, track="cv", fold=1, held_out=[SubjectFile("b", unseen)], pm=pm, runs_root=tmp_path)


def test_a_modified_file_is_noticed_and_a_missing_one_refused(fake_pm):
    pm, package = fake_pm
    (package / "weights" / "cpu-knee" / "model.safetensors").write_bytes(b"changed")
    knee = find_shipped(pm, "m", track="knee")
    assert not knee.intact and knee.sha256 != knee.recorded_sha256
    (package / "weights" / "cpu-knee" / "manifest.json").unlink()
    with pytest.raises(InputError, match="manifest.json: missing from the shipped weights"):
        shipped_weights(pm)


@pytest.mark.parametrize("method", ["arssr", "dcsrn", "esrgan3d", "trigan"])
def test_reference_plugins_package_their_weights(method):
    pyproject = tomllib.loads((REPO / "plugins" / method / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"][f"srbench_{method}"]
    for name in (*FILES, SHA_FILE):
        assert any(fnmatch.fnmatch(f"weights/cpu-insample/{name}", g) for g in globs), name


def test_every_shipped_weights_folder_is_complete_intact_and_loads():
    pm = get_plugin_manager()
    for shipped in shipped_weights(pm):
        assert shipped.intact, f"{shipped.path}: sha256 differs from {SHA_FILE}"
        owner = pm.owner("trainer", shipped.method)
        assert shipped.distribution == owner.distribution
        assert shipped.path.parent.name == folder_name(preset=shipped.preset, track=shipped.track, fold=shipped.fold)
        assert shipped.path.stat().st_size < 20_000_000, "ship small (cpu-preset) weights only"
        recorded = [f["path"] for f in shipped.manifest.get("data_files", [])]
        assert not any(Path(p).is_absolute() for p in recorded), f"{shipped.path.parent}: a machine's path in manifest.json"
        pm.get("model", shipped.method).load(checkpoint=shipped.path, device="cpu")


def test_modified_shipped_weights_are_refused_wherever_they_are_used(tmp_path, monkeypatch):
    """Not only verify: the shipped-weights fallback and an explicit --checkpoint naming a
    shipped file refuse a file whose sha256 is no longer the recorded one."""
    import srbench.weights as weights_module
    from srbench.errors import InputError
    from srbench.plugins import get_plugin_manager
    from srbench.runs import resolve_checkpoint
    from srbench.weights import ShippedWeights

    pm = get_plugin_manager()
    model = pm.get("model", "dcsrn")
    shipped = next(w for w in weights_module.shipped_weights(pm) if w.method == "dcsrn" and not w.fold)
    altered = tmp_path / "model.safetensors"
    altered.write_bytes(shipped.path.read_bytes()[:-1] + b"\0")
    fake = ShippedWeights(method="dcsrn", preset=shipped.preset, track=shipped.track, path=altered,
                          distribution=shipped.distribution, recorded_sha256=shipped.recorded_sha256,
                          config=shipped.config, manifest=shipped.manifest)
    monkeypatch.setattr(weights_module, "shipped_weights", lambda pm: [fake])
    with pytest.raises(InputError, match=r"shipped weights modified since they were added"):
        resolve_checkpoint(model, checkpoint=None, pm=pm, track=shipped.track, runs_root=tmp_path / "no-runs")
    with pytest.raises(InputError, match=r"shipped weights modified since they were added"):
        resolve_checkpoint(model, checkpoint=altered, pm=pm)


def test_a_local_run_chosen_over_the_shipped_weights_is_announced(tmp_path):
    """Evaluate picks the newest local run of a method before its shipped weights: it says
    which run, with its preset, iterations and track, never silently."""
    import shutil

    from srbench.runs import resolve_checkpoint

    pm = get_plugin_manager()
    shipped = find_shipped(pm, "dcsrn", track="insample")
    run = tmp_path / "runs" / "dcsrn-cpu-insample"
    shutil.copytree(shipped.path.parent, run)
    notes: list[str] = []
    found = resolve_checkpoint(pm.get("model", "dcsrn"), checkpoint=None, pm=pm, track="insample",
                               runs_root=tmp_path / "runs", notes=notes)
    assert found == run / "model.safetensors"
    assert len(notes) == 1 and notes[0].startswith("using the newest local run of 'dcsrn': ")
    assert "(preset cpu, iterations 700, trained on track insample)" in notes[0]
    assert "--checkpoint" in notes[0]
    # weights given explicitly are announced too, with what they were trained on
    given: list[str] = []
    resolve_checkpoint(pm.get("model", "dcsrn"), checkpoint=run, pm=pm, track="insample", notes=given)
    assert given == [f"using the given weights of 'dcsrn': {run} (preset cpu, iterations 700, trained on track insample)"]


def test_every_shipped_model_states_its_parameters_and_training_time():
    """Evaluation records a parameter count read from the safetensors header and the wall time
    from the manifest beside the weights."""
    import math

    from safetensors import safe_open

    from srbench.io.checkpoint import checkpoint_budget

    for model in sorted(REPO.glob("plugins/*/srbench_*/weights/*/model.safetensors")):
        budget = checkpoint_budget(model)
        with safe_open(str(model), framework="pt") as handle:
            expected = sum(math.prod(handle.get_tensor(k).shape) for k in handle.keys() if k.startswith("module/"))
        assert budget["parameters"] == expected > 0, model
        assert budget["training_seconds"] == round(json.loads((model.parent / "manifest.json").read_text())["wall_s"], 1)


def test_a_hostile_manifest_gives_no_training_time(tmp_path):
    import shutil

    from srbench.io.checkpoint import checkpoint_budget

    model = next(iter(sorted(REPO.glob("plugins/*/srbench_*/weights/*/model.safetensors"))))
    shutil.copy(model, tmp_path / "model.safetensors")
    assert checkpoint_budget(tmp_path)["training_seconds"] is None  # no manifest
    for text in ('{"wall_s": "1e9"}', '{"wall_s": true}', '{"wall_s": -3}', "[1, 2]", "{", '{"wall_s": NaN}'):
        (tmp_path / "manifest.json").write_text(text)
        assert checkpoint_budget(tmp_path)["training_seconds"] is None, text
    assert checkpoint_budget(tmp_path / "missing.safetensors") == {}


def test_a_model_of_another_track_is_used_only_when_named(tmp_path):
    """No local run or shipped weights trained on the track: evaluate refuses rather than
    taking another track's model in silence; given with --checkpoint, it is used and said."""
    import shutil

    from srbench.runs import resolve_checkpoint

    pm = get_plugin_manager()
    shipped = find_shipped(pm, "dcsrn", track="insample")
    run = tmp_path / "runs" / "dcsrn-cpu-insample"
    shutil.copytree(shipped.path.parent, run)
    model = pm.get("model", "dcsrn")
    with pytest.raises(InputError, match=r"no local run or shipped weights trained on track 'other' .*--checkpoint"):
        resolve_checkpoint(model, checkpoint=None, pm=pm, track="other", runs_root=tmp_path / "runs")
    notes: list[str] = []
    assert resolve_checkpoint(model, checkpoint=run, pm=pm, track="other", notes=notes) == run
    assert "trained on track insample" in notes[0]
