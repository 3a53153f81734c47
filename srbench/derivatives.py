"""Every subject's SR volume as a BIDS derivatives dataset (``evaluate``/``score --derivatives DIR``).

Layout, one dataset per method (BIDS 1.9 derivatives)::

    DIR/srbench-<method>/dataset_description.json
    DIR/srbench-<method>/sub-<label>/anat/sub-<label>_desc-<track>_<contrast>.nii.gz
    DIR/srbench-<method>/sub-<label>/anat/sub-<label>_desc-<track>_<contrast>.json

BIDS labels are alphanumeric, so ``<label>`` is the subject id without a leading
``sub-`` and with every character that is not an ASCII letter or digit removed; when that
changes the id (``stroke_T1w`` → ``strokeT1w``), the first 6 hex digits of the id's
sha256 are appended so that two ids can never share a label. ``<track>`` and
``<contrast>`` are made alphanumeric the same way (without the hash: they come from the
configuration, and the sidecar names them exactly). The JSON sidecar gives the exact
subject id, track, method, degradation and scale, and the sha256 of the HR source file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench.interfaces import Volume
from srbench.io.atomic import write_text_atomic
from srbench.io.nifti import save_volume
from srbench.io.paths import ensure_dir, path_component

if TYPE_CHECKING:
    from srbench.config import TrackSpec

BIDS_VERSION = "1.9.0"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def bids_label(text: str, *, unique: bool = True) -> str:
    """``text`` as a BIDS label (ASCII letters and digits); with ``unique``, a 6-hex-digit
    hash of ``text`` is appended whenever characters had to be removed."""
    bare = text[4:] if text.startswith("sub-") else text
    label = _NOT_ALNUM.sub("", bare)
    if unique and (label != bare or not label):
        label += hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]
    return label or "x"


def dataset_root(root: str | Path, method: str) -> Path:
    """``ROOT/srbench-<method>``: the derivatives dataset of one method."""
    return Path(root) / f"srbench-{path_component(method)}"


def derivative_path(root: str | Path, *, method: str, track: str, subject: str, contrast: str) -> Path:
    """Where the SR volume of ``subject`` on ``track`` by ``method`` is written."""
    label = bids_label(subject)
    name = f"sub-{label}_desc-{bids_label(track, unique=False)}_{bids_label(contrast, unique=False)}.nii.gz"
    return dataset_root(root, method) / f"sub-{label}" / "anat" / name


def _description(method: str) -> dict[str, Any]:
    from srbench import __version__

    return {
        "Name": f"srbench super-resolution outputs of {method}",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "srbench", "Version": __version__,
                         "Description": "SR volumes on the HR grid of each test subject, one per track (desc entity)"}],
    }


def write_derivative(root: str | Path, *, method: str, track: str, subject: str, contrast: str, volume: Volume,
                     provenance: Mapping[str, Any]) -> Path:
    """Write one SR volume and its sidecar (atomically), and the dataset description when missing.

    Args:
        root: the derivatives folder (created when missing).
        volume: the ``(W, H, D)`` SR volume on the HR grid.
        provenance: JSON-ready fields for the sidecar (degradation, scale, sha256 of the source...).
    """
    target = derivative_path(root, method=method, track=track, subject=subject, contrast=contrast)
    ensure_dir(target.parent, what="derivatives folder")
    description = dataset_root(root, method) / "dataset_description.json"
    if not description.is_file():
        write_text_atomic(description, json.dumps(_description(method), indent=2) + "\n")
    save_volume(volume, target)
    sidecar = {"srbench": {"subject": subject, "track": track, "method": method, **dict(provenance)}}
    write_text_atomic(target.with_name(target.name.replace(".nii.gz", ".json")),
                      json.dumps(sidecar, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    return target


def track_provenance(track: TrackSpec, *, origin: str, source_sha256: str, **extra: Any) -> dict[str, Any]:
    """Sidecar fields: how the LR input was made (degradation, options, seed, scale), from which
    HR file (its sha256), and the origin of the volume (``plugin`` or ``external``)."""
    return {"origin": origin, "degradation": {"name": track.degradation, "options": dict(track.degradation_options),
                                              "seed": track.seed},
            "scale": [float(s) for s in track.scale], "source_sha256": source_sha256, **extra}
