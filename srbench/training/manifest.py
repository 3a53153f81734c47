"""The run manifest: what produced a trained model (versions, code, data, seed).

``manifest.json`` in a run directory records the srbench and plugin versions, Python and
torch versions, the git commit of the srbench source tree (when it is a git checkout),
the sha256 of every training data file, the seed and the process layout; at the end of
training it also records the final iteration, wall time and the model file's sha256.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from srbench.io.atomic import write_json_atomic
from srbench.io.hashing import sha256_file
from srbench.provenance import git_state, utc_now


def build_manifest(
    *,
    config: Mapping[str, Any],
    data_files: Sequence[str | Path],
    seed: int,
    device: str,
    world_size: int,
    plugins: Mapping[str, str],
) -> dict[str, Any]:
    """The manifest of a run that is starting (see the module docstring); ``plugins`` maps
    each installed plugin distribution to its version."""
    import srbench
    from srbench.io.paths import portable_path

    files = []
    for name in data_files:
        path = Path(name)
        if path.is_file():
            files.append({"path": portable_path(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return {
        "srbench_version": srbench.__version__,
        "plugins": dict(plugins),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "git": git_state(),
        "method": config.get("method"),
        "preset": config.get("preset"),
        "track": config.get("track"),
        "seed": int(seed),
        "device": device,
        "world_size": int(world_size),
        "data_files": files,
        "started_utc": utc_now(),
        "status": "running",
    }


def write_manifest(path: str | Path, manifest: Mapping[str, Any]) -> None:
    """Write ``manifest`` as indented JSON, atomically."""
    write_json_atomic(path, dict(manifest))
