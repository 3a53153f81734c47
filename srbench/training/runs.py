"""Run directories: where training writes, and how evaluation finds the newest model.

A run directory (default ``runs/<method>-<preset>-<track>/``) holds ``config.json``,
``manifest.json``, ``losses.csv``, ``checkpoint.safetensors`` (resumable state) and, once
training finishes, ``model.safetensors`` (inference weights).
"""

from __future__ import annotations

import json
from pathlib import Path

from srbench.errors import InputError
from srbench.training.checkpoint import MODEL_FILE, read_metadata

RUNS_ROOT = Path("runs")


def default_run_dir(method: str, preset: str, track: str, *, runs_root: Path = RUNS_ROOT) -> Path:
    """``runs_root / "<method>-<preset>-<track>"`` (each name checked to be a safe path component)."""
    from srbench.io.paths import check_name

    for kind, name in (("method", method), ("preset", preset), ("track", track)):
        check_name(name, kind=kind)
    return Path(runs_root) / f"{method}-{preset}-{track}"


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
        if track is not None:
            try:
                config = json.loads(metadata.get("config", "{}"))
            except json.JSONDecodeError:
                continue
            if config.get("track") != track:
                continue
        if fold is not None and _stored_fold(metadata) != fold:
            continue
        candidates.append((path.stat().st_mtime, str(path), path))
    if not candidates:
        return None
    return max(candidates)[2]


def _stored_fold(metadata: dict) -> int | None:
    """The ``fold`` of a model's stored configuration (None when unreadable or absent)."""
    try:
        value = json.loads(metadata.get("config", "{}")).get("fold")
    except (json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
