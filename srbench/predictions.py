"""Where evaluation keeps SR volumes for the leaderboard figures, and where figures read them.

One folder per store (``predictions/`` beside it by default) holds
``<track>/<subject>/<method>.nii.gz`` and the HR reference as compared; every name is one
path component (:func:`srbench.io.paths.path_component`), so no name leads outside it.
Evaluation writes there, :mod:`srbench.figures` reads, and neither owns the layout.
"""

from __future__ import annotations

from pathlib import Path

from srbench.io.paths import path_component

#: the file name (without suffix) of the HR reference; never a path_component() of a method name
REFERENCE_NAME = "_hr"


def default_predictions_dir(store_path: str | Path) -> Path:
    """Where evaluate saves predictions by default: ``predictions/`` beside the results store."""
    return Path(store_path).parent / "predictions"


def prediction_path(root: str | Path, *, track: str, method: str, subject: str) -> Path:
    """``ROOT/<track>/<subject>/<method>.nii.gz``: where evaluate saves a method's SR volume.

    Each name is one path component (:func:`srbench.io.paths.path_component`), so no
    name can lead outside ``ROOT``.
    """
    return Path(root) / path_component(track) / path_component(subject) / f"{path_component(method)}.nii.gz"


def reference_path(root: str | Path, *, track: str, subject: str) -> Path:
    """``ROOT/<track>/<subject>/hr.nii.gz``: the HR reference (as compared, odd sizes cropped)."""
    return Path(root) / path_component(track) / path_component(subject) / f"{REFERENCE_NAME}.nii.gz"
