"""Run directories: where training writes, and which weights a method is evaluated with.

A run directory (default ``runs/<method>-<preset>-<track>/``) holds ``config.json``,
``manifest.json``, ``losses.csv``, ``checkpoint.safetensors`` (resumable state) and, once
training finishes, ``model.safetensors`` (inference weights). :func:`resolve_checkpoint`
picks a method's weights: the given ones, else the newest run's, else those its plugin ships.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench import capabilities
from srbench.errors import InputError, show
from srbench.io.checkpoint import MODEL_FILE, metadata_config, read_metadata

if TYPE_CHECKING:
    from srbench.interfaces import SRModel, SubjectFile
    from srbench.plugins import PluginManager

#: where training runs live unless a command says otherwise
RUNS_ROOT = Path("runs")


def default_run_dir(method: str, preset: str, track: str, *, runs_root: Path = RUNS_ROOT) -> Path:
    """``runs_root / "<method>-<preset>-<track>"`` (method and preset checked to be safe path
    components; the track name, which may be in any script, encoded as one)."""
    from srbench.io.paths import check_config_name, check_name, path_component

    for kind, name in (("method", method), ("preset", preset)):
        check_name(name, kind=kind)
    check_config_name(track, kind="track")
    return Path(runs_root) / f"{method}-{preset}-{path_component(track)}"


def find_latest_model(
    method: str, *, track: str | None = None, fold: int | None = None, runs_root: Path = RUNS_ROOT
) -> Path | None:
    """The newest (by modification time) ``runs_root/*/model.safetensors`` of ``method``.

    Only models whose metadata names ``method`` (and, when ``track`` is given, whose stored
    configuration names that track) count; unreadable files are skipped. With ``fold``
    (a cross-validation fold number) the models are those of the fold sub-directories,
    ``runs_root/*/fold-*/model.safetensors``, whose configuration has that ``fold``.
    None when no model matches.
    """
    from srbench.folds import FOLD_DIR_PREFIX

    root = Path(runs_root)
    if not root.is_dir():
        return None
    pattern = f"*/{FOLD_DIR_PREFIX}*/{MODEL_FILE}" if fold is not None else f"*/{MODEL_FILE}"
    candidates = []
    for path in root.glob(pattern):
        try:
            metadata = read_metadata(path)
        except InputError:
            continue
        if metadata.get("method") != method or metadata.get("kind") != "model":
            continue
        config = metadata_config(metadata)
        if track is not None and config.get("track") != track:
            continue
        if fold is not None and _stored_fold(config) != fold:
            continue
        candidates.append((path.stat().st_mtime, str(path), path))
    if not candidates:
        return None
    return max(candidates)[2]


def _stored_fold(config: dict) -> int | None:
    """The ``fold`` of a model's stored configuration (None when absent or not an integer)."""
    value = config.get("fold")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def resolve_checkpoint(
    model: SRModel, *, checkpoint: Path | None, pm: PluginManager, track: str | None = None, runs_root: Path | None = None,
    notes: list[str] | None = None,
) -> Path | None:
    """The checkpoint to load for ``model``: the given one, else the newest run's trained on
    ``track``, else the reference weights a plugin of ``pm`` ships for ``track`` (said in a
    note: appended to ``notes`` when given, so a command can print it after every check
    passed; else on stderr). A model trained on another track is used only when given as
    ``checkpoint``; ``track`` None accepts any track's.

    A ``checkpoint`` given to a method that takes no weights (``trilinear``) is refused
    rather than ignored.
    """
    needs = capabilities.needs_checkpoint(model)
    if checkpoint is not None and not needs:
        raise InputError(f"--checkpoint: method '{model.name}' takes no trained weights; drop --checkpoint")
    if checkpoint is not None or not needs:
        if checkpoint is not None:
            refuse_modified_shipped(checkpoint, pm=pm)
            _announce(f"using the given weights of '{model.name}': {show(Path(checkpoint))}{_training_facts(Path(checkpoint))}",
                      notes)
        return checkpoint
    root = runs_root or RUNS_ROOT
    found = find_latest_model(model.name, track=track, runs_root=root)
    if found is not None:
        _announce(_local_run_note(model.name, found), notes)
    if found is None:
        found = _shipped_checkpoint(pm, model.name, track=track, notes=notes)
    if found is None:
        where = f" trained on track '{track}'" if track else ""
        train = f"srbench train {model.name}" + (f" --track {track}" if track else "")
        raise InputError(
            f"method '{model.name}' needs trained weights and no local run or shipped weights{where} were found under "
            f"{show(root)}/: run `{train}`, or name weights with --checkpoint (a model of another track is used only "
            "when named; `srbench weights` lists the shipped ones)"
        )
    return found


def resolve_fold_checkpoint(model: SRModel, *, track: str, fold: int, held_out: Sequence[SubjectFile], pm: PluginManager,
                            runs_root: Path | None = None, notes: list[str] | None = None) -> Path | None:
    """The weights of ``model`` for fold ``fold`` of cross-validation track ``track``: the
    newest ``runs/*/fold-<fold>/model.safetensors`` trained on that track and fold, else the
    weights a plugin of ``pm`` ships for that track and fold (said in ``notes``, or on
    stderr). Never a model of another fold or track, and never one whose manifest lists the
    file of a ``held_out`` subject among its training files (:func:`refuse_if_trained_on`:
    the fold's subjects may have changed since it trained). None for a method without weights."""
    if not capabilities.needs_checkpoint(model):
        return None
    root = runs_root or RUNS_ROOT
    found = find_latest_model(model.name, track=track, fold=fold, runs_root=root)
    if found is None:
        found = _shipped_checkpoint(pm, model.name, track=track, fold=fold, notes=notes)
    if found is None:
        raise InputError(
            f"method '{model.name}' has no model for fold {fold} of cross-validation track '{track}' under "
            f"{show(root)}/ and ships none: run `srbench train {model.name} --track {track}` (every fold) or add --fold {fold}"
        )
    refuse_if_trained_on(found, held_out=held_out, retrain=f"srbench train {model.name} --track {track} --fold {fold}")
    return found


def refuse_if_trained_on(checkpoint: Path, *, held_out: Sequence[SubjectFile], retrain: str) -> None:
    """An InputError naming ``checkpoint`` when its run's manifest cannot say which files it
    trained on, or lists (by sha256) the file of a subject in ``held_out``: a held-out
    subject's score must come from a model that never saw it. ``retrain`` is the command
    the error suggests."""
    from srbench.io.checkpoint import training_data_sha256
    from srbench.io.hashing import sha256_file

    trained = training_data_sha256(Path(checkpoint).parent)
    if trained is None:
        raise InputError(f"{show(Path(checkpoint))}: no readable manifest.json beside it lists the files it trained on, "
                         f"so it cannot be shown to have left out subject(s) {', '.join(s.subject for s in held_out)}; "
                         f"run `{retrain}`")
    seen = [s.subject for s in held_out if sha256_file(s.path) in trained]
    if seen:
        raise InputError(f"{show(Path(checkpoint))}: trained on held-out subject(s) {', '.join(seen)} (the fold's subjects "
                         f"changed since it was trained?); run `{retrain}`")


def _refuse_if_modified(shipped: Any) -> None:
    actual = shipped.sha256
    if actual != shipped.recorded_sha256:
        raise InputError(f"{shipped.path}: shipped weights modified since they were added (sha256 {actual[:12]}, "
                         f"recorded {shipped.recorded_sha256[:12]}); reinstall {shipped.distribution}")


def refuse_modified_shipped(path: str | Path, *, pm: PluginManager) -> None:
    """Refuse ``path`` when it is (through any link) a shipped ``model.safetensors`` whose
    sha256 is no longer the one recorded when it was shipped."""
    from srbench.io.paths import same_file
    from srbench.weights import shipped_weights

    candidate = Path(path)
    if candidate.is_dir():
        candidate = candidate / MODEL_FILE
    for shipped in shipped_weights(pm):
        if same_file(candidate, shipped.path):
            _refuse_if_modified(shipped)


def _announce(note: str, notes: list[str] | None) -> None:
    """Append ``note`` to ``notes`` (printed by the command after its checks), else print it on stderr."""
    if notes is not None:
        notes.append(note)
    else:
        print(note, file=sys.stderr)


def _training_facts(path: Path) -> str:
    """`` (preset cpu, iterations 700, trained on track insample)`` from the weights' stored
    configuration ('' when it records none or the file cannot be read)."""
    from srbench.io.checkpoint import resolve_checkpoint_path

    try:
        config = metadata_config(read_metadata(resolve_checkpoint_path(path)))
    except InputError:
        config = {}
    facts = ", ".join(f"{label} {config[key]}" for label, key in
                      (("preset", "preset"), ("iterations", "iterations"), ("trained on track", "track")) if key in config)
    return f" ({facts})" if facts else ""


def _local_run_note(method: str, path: Path) -> str:
    """What a command says when it picks a local training run for ``method`` on its own: which
    run, its preset, iterations and track, so a short experiment is never taken silently for
    the method's reference weights."""
    return (f"using the newest local run of '{method}': {show(path.parent)}{_training_facts(path)}"
            "; pass --checkpoint to choose other weights (the shipped ones: `srbench weights`)")


def _shipped_checkpoint(pm: PluginManager, method: str, *, track: str | None, fold: int = 0,
                        notes: list[str] | None = None) -> Path | None:
    """The reference weights a plugin ships for ``method`` trained on ``track`` (any track when
    ``track`` is None) and cross-validation fold ``fold`` (0: none), announced in ``notes`` (or
    on stderr); None when it ships none: weights of another track or fold are never taken in
    silence."""
    from srbench.weights import find_shipped

    shipped = find_shipped(pm, method, track=track, fold=fold)
    if shipped is None:
        return None
    _refuse_if_modified(shipped)
    trained_on = f"track {shipped.track}" + (f" fold {shipped.fold}" if shipped.fold else "")
    _announce(f"no local run of '{method}' found: using the reference weights shipped with {shipped.distribution} "
              f"(preset {shipped.preset}, trained on {trained_on}, sha256 {shipped.recorded_sha256[:12]})", notes)
    return shipped.path
