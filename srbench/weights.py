"""Reference weights shipped as package data of the plugins.

A plugin package ``srbench_<m>`` may hold trained weights under
``srbench_<m>/weights/<preset>-<track>/`` (a cross-validation fold's model:
``<preset>-<track>-fold-<k>/``):

``model.safetensors``
    the inference weights of a training run (srbench checkpoint format);
``config.json``, ``manifest.json``
    that run's configuration and manifest (versions, git commit, data hashes);
``model.safetensors.sha256``
    the hex sha256 of ``model.safetensors`` when it was added, so a modified file is
    noticed (:attr:`ShippedWeights.intact`).

``srbench weights`` lists them, ``srbench weights add RUN_DIR`` copies a finished run in,
``srbench evaluate`` falls back to them when no local run exists, and ``srbench verify``
re-evaluates the committed leaderboard rows with them.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from srbench.errors import InputError, file_error
from srbench.io.atomic import write_json_atomic, write_text_atomic
from srbench.io.hashing import sha256_file

#: folder of a plugin package holding its shipped weights
WEIGHTS_FOLDER = "weights"
#: files of one shipped run
FILES = ("model.safetensors", "config.json", "manifest.json")
SHA_FILE = "model.safetensors.sha256"


@dataclasses.dataclass(frozen=True)
class ShippedWeights:
    """One shipped training run.

    Attributes:
        method: the method (trainer) that wrote it.
        preset: its preset (``cpu``...).
        track: the track it was trained on.
        path: its ``model.safetensors``.
        distribution: the plugin distribution that ships it.
        recorded_sha256: the sha256 written when it was added.
        config: its ``config.json``.
        manifest: its ``manifest.json``.
    """

    method: str
    preset: str
    track: str
    path: Path
    distribution: str
    recorded_sha256: str
    config: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def sha256(self) -> str:
        """The sha256 of ``model.safetensors`` as it is now."""
        return sha256_file(self.path)

    @property
    def intact(self) -> bool:
        """True when the file still has the sha256 recorded when it was added."""
        return self.sha256 == self.recorded_sha256

    @property
    def fold(self) -> int:
        """The cross-validation fold the run trained (0: a run without folds)."""
        value = self.config.get("fold", 0)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    @property
    def training_commit(self) -> str:
        """The git commit the run was trained at (``+dirty`` when the tree was modified), or ``unknown``."""
        git = self.manifest.get("git") or {}
        commit = git.get("commit")
        if not commit:
            return "unknown"
        return f"{commit}+dirty" if git.get("dirty") else str(commit)


def _package_dir(module: Any) -> Path | None:
    """The folder of the top-level package of a plugin module (None for a plain module)."""
    name = getattr(module, "__name__", "")
    top = name.split(".")[0]
    if not top:
        return None
    try:
        root = importlib.resources.files(top)
    except (ModuleNotFoundError, TypeError):
        return None
    path = Path(str(root))
    return path if path.is_dir() else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise file_error(path, f"unreadable shipped-weights file ({exc})") from None
    if not isinstance(data, dict):
        raise file_error(path, "expected a JSON object")
    return data


def read_shipped(folder: Path, *, distribution: str) -> ShippedWeights:
    """The shipped run in ``folder`` (an InputError naming the file when one is missing or bad)."""
    for name in (*FILES, SHA_FILE):
        if not (folder / name).is_file():
            raise file_error(folder / name, "missing from the shipped weights")
    config = _read_json(folder / "config.json")
    manifest = _read_json(folder / "manifest.json")
    recorded = (folder / SHA_FILE).read_text(encoding="utf-8").split()[0] if (folder / SHA_FILE).stat().st_size else ""
    return ShippedWeights(
        method=str(config.get("method", "")), preset=str(config.get("preset", "")), track=str(config.get("track", "")),
        path=folder / "model.safetensors", distribution=distribution, recorded_sha256=recorded,
        config=config, manifest=manifest,
    )


def shipped_weights(pm: Any) -> list[ShippedWeights]:
    """Every shipped run of the loaded plugins, sorted by method, track and preset."""
    found: list[ShippedWeights] = []
    seen: set[Path] = set()
    for info in pm.plugins:
        package = _package_dir(getattr(info, "module", None))
        if package is None or package in seen:
            continue
        seen.add(package)
        root = package / WEIGHTS_FOLDER
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            found.append(read_shipped(folder, distribution=info.distribution))
    return sorted(found, key=lambda w: (w.method, w.track, w.preset, w.fold))


def find_shipped(pm: Any, method: str, *, track: str | None = None, sha256: str | None = None,
                 fold: int = 0) -> ShippedWeights | None:
    """The shipped weights of ``method``: with that ``sha256`` when given, else trained on
    ``track`` and cross-validation fold ``fold`` (0: a run without folds; ``cpu`` preset
    first), else None. A fold's model is found only by its sha256 or by asking for that
    fold: it must never stand in for a track's model or another fold's (it may have trained
    on their held-out subjects)."""
    candidates = [w for w in shipped_weights(pm) if w.method == method]
    if sha256 is not None:
        return next((w for w in candidates if w.recorded_sha256 == sha256), None)
    candidates = [w for w in candidates if w.fold == fold]
    if track is not None:
        candidates = [w for w in candidates if w.track == track]
    candidates.sort(key=lambda w: (w.preset != "cpu", w.preset))
    return candidates[0] if candidates else None


def plugin_weights_dir(pm: Any, method: str) -> Path:
    """The ``weights/`` folder of the package of the plugin that registers ``method``'s trainer."""
    owner = pm.owner("trainer", method)
    package = _package_dir(getattr(owner, "module", None))
    if package is None:
        raise InputError(f"method '{method}': its plugin '{owner.name}' is a single module, not a package; "
                         "shipped weights need a package folder")
    return package / WEIGHTS_FOLDER


def portable_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with its training files' paths made portable (:func:`srbench.io.paths.portable_path`)."""
    from srbench.io.paths import portable_path

    files = manifest.get("data_files")
    if not isinstance(files, list):
        return manifest
    rewritten = [{**f, "path": portable_path(f["path"])} if isinstance(f, dict) and isinstance(f.get("path"), str) else f
                 for f in files]
    return {**manifest, "data_files": rewritten}


def folder_name(*, preset: str, track: str, fold: int = 0) -> str:
    """The folder of a shipped run: ``<preset>-<track>``, ``<preset>-<track>-fold-<k>`` for a fold
    (the track encoded as one path component)."""
    from srbench.io.paths import path_component

    track = path_component(track)
    return f"{preset}-{track}-fold-{fold}" if fold else f"{preset}-{track}"


def add_run(pm: Any, run_dir: Path, *, into: Path | None = None) -> ShippedWeights:
    """Copy a finished run's model, config and manifest into its plugin's ``weights/`` folder.

    Args:
        run_dir: a run directory with ``model.safetensors``, ``config.json``, ``manifest.json``.
        into: the ``weights/`` folder (default: the one of the plugin registering the run's method).

    Returns:
        The shipped entry, at ``weights/<preset>-<track>/`` (``…-fold-<k>/`` for a fold's run).
    """
    from srbench.io.paths import check_config_name, check_name, regular_file

    for name in FILES:
        regular_file(run_dir / name, what="training run file")
    config = _read_json(run_dir / "config.json")
    method = check_name(config.get("method"), kind="method", source=run_dir / "config.json")
    preset = check_name(config.get("preset"), kind="preset", source=run_dir / "config.json")
    track = check_config_name(config.get("track"), kind="track", source=run_dir / "config.json")
    from srbench.io.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(run_dir / "model.safetensors", method=method)
    if checkpoint.kind != "model":
        raise file_error(run_dir / "model.safetensors", f"holds kind '{checkpoint.kind}', expected 'model'")
    fold = config.get("fold", 0)
    if isinstance(fold, bool) or not isinstance(fold, int) or fold < 0:
        raise file_error(run_dir / "config.json", f"fold: expected a fold number >= 0, got {fold!r}")
    root = into if into is not None else plugin_weights_dir(pm, method)
    target = root / folder_name(preset=preset, track=track, fold=fold)
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if name == "manifest.json":
            write_json_atomic(target / name, portable_manifest(_read_json(run_dir / name)))
        else:
            shutil.copyfile(run_dir / name, target / name)
    write_text_atomic(target / SHA_FILE, f"{sha256_file(target / 'model.safetensors')}  model.safetensors\n")
    return read_shipped(target, distribution=pm.owner("trainer", method).distribution)


def describe(weights: Iterable[ShippedWeights]) -> list[dict[str, Any]]:
    """One JSON-ready row per shipped run (what ``srbench weights`` prints)."""
    return [
        {
            "method": w.method, "preset": w.preset, "track": w.track, "fold": w.fold, "sha256": w.recorded_sha256,
            "intact": w.intact, "training_commit": w.training_commit, "bytes": w.path.stat().st_size,
            "distribution": w.distribution, "path": str(w.path),
        }
        for w in weights
    ]
