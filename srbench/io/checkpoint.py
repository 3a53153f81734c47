"""The srbench checkpoint file: its layout, and reading it safely.

One safetensors file holds weights, optimiser state and the configuration. Nothing is
ever unpickled: tensors come from safetensors, everything else is JSON in the file's
string metadata. Layout of one file:

- tensors ``module/<name>/<key>`` — each module's ``state_dict`` (parameters and buffers);
- tensors ``optim/<name>/<param_index>/<key>`` — each optimiser's per-parameter tensors
  (Adam's ``exp_avg``, ``exp_avg_sq``, ``step``...);
- metadata (all strings): ``srbench.format`` (:data:`FORMAT`), ``method``, ``kind``
  (``checkpoint`` = full state for resuming, ``model`` = inference weights only),
  ``config`` (JSON), ``iteration`` (completed iterations), ``optimizers`` (JSON: param
  groups and non-tensor per-parameter state), ``extra`` (JSON), ``srbench.version``.

Every file is checked to be a complete safetensors container before any tensor is parsed.
Writing and optimiser state live on the training side (:mod:`srbench.training.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from srbench.errors import InputError, exception_line, file_error

FORMAT = "srbench-checkpoint-1"
KINDS = ("checkpoint", "model")
MODEL_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
#: the run manifest written beside a run's weights (:mod:`srbench.training.manifest`)
MANIFEST_FILE = "manifest.json"
_MAX_MANIFEST = 1024 * 1024
_MAX_HEADER = 100 * 1024 * 1024
_PICKLE_MESSAGE = "refusing to load a pickle checkpoint: it could execute code; srbench checkpoints are safetensors"


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint (tensors on the CPU).

    Attributes:
        path: the file it came from.
        method: the method that wrote it.
        kind: ``checkpoint`` (resumable) or ``model`` (inference weights only).
        config: the run's configuration, as saved (JSON types).
        iteration: number of completed iterations.
        version: srbench version that wrote it.
        tensors: every tensor of the file by key.
        optimizers: optimiser name → ``{"param_groups": [...], "state": {...}}`` (JSON part).
        extra: free-form JSON state saved with it.
    """

    path: Path
    method: str
    kind: str
    config: dict[str, Any]
    iteration: int
    version: str
    tensors: dict[str, torch.Tensor]
    optimizers: dict[str, Any]
    extra: dict[str, Any]

    def module_names(self) -> list[str]:
        """Names of the modules whose weights the file holds."""
        return sorted({key.split("/", 2)[1] for key in self.tensors if key.startswith("module/")})

    def module_state(self, name: str) -> dict[str, torch.Tensor]:
        """The ``state_dict`` of module ``name``; an InputError when it is absent."""
        prefix = f"module/{name}/"
        state = {key[len(prefix) :]: value for key, value in self.tensors.items() if key.startswith(prefix)}
        if not state:
            names = ", ".join(self.module_names()) or "none"
            raise file_error(self.path, f"checkpoint has no weights for module '{name}' (it holds: {names})")
        return state


def _check_container(path: Path) -> None:
    """Refuse anything that is not a complete safetensors file, before parsing tensors."""
    from srbench.io.paths import regular_file

    regular_file(path, what="checkpoint")
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            first = handle.read(1)
            header_len = int.from_bytes(head, "little")
            if first != b"{" or len(head) < 8 or header_len > _MAX_HEADER:
                # torch.save writes a zip archive (PK..) or, in the legacy format, a raw pickle
                if head[:4] == b"PK\x03\x04" or (head[:1] == b"\x80" and head[1:2] in {b"\x02", b"\x03", b"\x04", b"\x05"}):
                    raise file_error(path, _PICKLE_MESSAGE)
                if len(head) < 8:
                    raise file_error(path, f"not a safetensors checkpoint (only {size} bytes)")
                raise file_error(path, "not a safetensors checkpoint (no safetensors header)")
            if header_len > size - 8:
                raise file_error(path, "checkpoint file is truncated (header incomplete)")
            header_bytes = first + handle.read(header_len - 1)
    except PermissionError:
        raise file_error(path, "permission denied (file is not readable)") from None
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise file_error(path, "not a safetensors checkpoint (header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise file_error(path, "not a safetensors checkpoint (malformed header)")
    data_end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            data_end = max(data_end, int(entry["data_offsets"][1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise file_error(path, f"not a safetensors checkpoint (malformed entry '{key}')") from None
    if 8 + header_len + data_end > size:
        raise file_error(path, f"checkpoint file is truncated ({size} of {8 + header_len + data_end} bytes)")


def _json_field(path: Path, metadata: Mapping[str, str], key: str, default: Any) -> Any:
    if key not in metadata:
        return default
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError:
        raise file_error(path, f"checkpoint metadata '{key}' is not valid JSON") from None
    except RecursionError:
        raise file_error(path, f"checkpoint metadata '{key}' is nested too deeply") from None


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors checkpoint, reading only its header."""
    path = Path(path)
    _check_container(path)
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise file_error(path, f"not a readable safetensors checkpoint ({exception_line(exc, limit=120)})") from None


def load_checkpoint(path: str | Path, *, method: str | None) -> Checkpoint:
    """Load and check a checkpoint written by :func:`save_checkpoint`.

    Raises:
        InputError: one line naming ``path`` when the file is missing, a pickle, not
            safetensors, truncated, not an srbench checkpoint, or written by another
            method than ``method`` (``None`` accepts any method).
    """
    path = Path(path)
    metadata = read_metadata(path)
    found = metadata.get("srbench.format")
    if found != FORMAT:
        what = f"format '{found}'" if found else "no srbench metadata"
        raise file_error(path, f"not an srbench checkpoint ({what}; expected format '{FORMAT}')")
    stored_method = metadata.get("method", "")
    if method is not None and stored_method != method:
        raise InputError(f"checkpoint {path} was trained by method '{stored_method}', not '{method}'")
    kind = metadata.get("kind", "")
    if kind not in KINDS:
        raise file_error(path, f"checkpoint has unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    raw_iteration = metadata.get("iteration", "0")
    if not raw_iteration.isdigit() or len(raw_iteration) > 12:
        raise file_error(path, f"checkpoint metadata 'iteration' is not a non-negative integer: {raw_iteration!r}")
    config = _json_field(path, metadata, "config", {})
    optimizers = _json_field(path, metadata, "optimizers", {})
    extra = _json_field(path, metadata, "extra", {})
    for key, value in (("config", config), ("optimizers", optimizers), ("extra", extra)):
        if not isinstance(value, dict):
            raise file_error(path, f"checkpoint metadata '{key}' must be a JSON object, got {type(value).__name__}")
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, RuntimeError, ValueError, TypeError) as exc:
        raise file_error(path, f"checkpoint tensors are unreadable ({exception_line(exc, limit=120)})") from None
    for key, tensor in tensors.items():
        if key.startswith("module/") and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise file_error(path, f"checkpoint weight '{key}' holds NaN or infinite values")
    return Checkpoint(
        path=path,
        method=stored_method,
        kind=kind,
        config=config,
        iteration=int(raw_iteration),
        version=metadata.get("srbench.version", "unknown"),
        tensors=tensors,
        optimizers=optimizers,
        extra=extra,
    )


def check_fits(ckpt: Checkpoint, name: str, module: torch.nn.Module, *, what: str = "the network") -> None:
    """Compare the names and shapes of ``module``'s state (on any device, ``meta`` included)
    with the weights of module ``name`` in ``ckpt``, without loading; an InputError naming
    the file lists what differs."""
    state = ckpt.module_state(name)
    expected = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state.items()}
    if expected == found:
        return
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mismatched = sorted(f"{k} {found[k]} vs {expected[k]}" for k in set(found) & set(expected) if found[k] != expected[k])
    parts = [
        f"{label} {', '.join(items[:3])}{'...' if len(items) > 3 else ''}"
        for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
        if items
    ]
    raise file_error(ckpt.path, f"weights of module '{name}' do not fit {what} ({'; '.join(parts)})")


def restore_modules(ckpt: Checkpoint, modules: Mapping[str, torch.nn.Module]) -> None:
    """Load each module's weights from ``ckpt`` (strictly: same keys and shapes)."""
    for name, module in modules.items():
        check_fits(ckpt, name, module)
        module.load_state_dict(ckpt.module_state(name), strict=True)


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, or for a run directory its model (else its latest checkpoint)."""
    path = Path(path)
    if path.is_dir():
        for name in (MODEL_FILE, CHECKPOINT_FILE):
            if (path / name).is_file():
                return path / name
        raise file_error(path, f"run directory has no {MODEL_FILE} or {CHECKPOINT_FILE}")
    from srbench.io.paths import regular_file

    return regular_file(path, what="checkpoint")


def metadata_config(metadata: Mapping[str, str]) -> dict[str, Any]:
    """The training configuration in a checkpoint's string metadata (``{}`` when absent or not a JSON object)."""
    try:
        config = json.loads(metadata.get("config", "{}"))
    except (json.JSONDecodeError, RecursionError):
        return {}
    return config if isinstance(config, dict) else {}


def checkpoint_config(path: str | Path | None) -> dict[str, Any]:
    """The training configuration stored in the checkpoint at ``path`` (a file or run directory).

    ``{}`` without a path or for an unreadable file: the model's own ``load`` reports a bad
    checkpoint clearly; this only reads what a results record shows.
    """
    if path is None:
        return {}
    try:
        return metadata_config(read_metadata(resolve_checkpoint_path(path)))
    except InputError:
        return {}


def module_parameter_count(path: Path) -> int:
    """The number of values in the ``module/`` tensors of the checkpoint at ``path`` (the
    inference modules' parameters and buffers), read from the header alone."""
    from safetensors import safe_open

    _check_container(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return sum(math.prod(handle.get_slice(key).get_shape()) for key in handle.keys() if key.startswith("module/"))
    except (SafetensorError, OSError) as exc:
        raise file_error(path, f"not a readable safetensors checkpoint ({exception_line(exc, limit=120)})") from None


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The ``manifest.json`` of the run whose weights lie in ``folder``; None when there is
    none, or it is not a JSON object of at most 1 MiB."""
    path = folder / MANIFEST_FILE
    try:
        if not path.is_file() or path.stat().st_size > _MAX_MANIFEST:
            return None
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return manifest if isinstance(manifest, dict) else None


def training_data_sha256(folder: Path) -> set[str] | None:
    """The sha256 of every file the run whose weights lie in ``folder`` trained on, from its
    manifest's ``data_files``; None when the manifest is missing or records no such list."""
    manifest = read_manifest(folder)
    files = manifest.get("data_files") if manifest is not None else None
    if not isinstance(files, list):
        return None
    hashes = {entry.get("sha256") for entry in files if isinstance(entry, dict)}
    return {h for h in hashes if isinstance(h, str) and h}


def training_seconds(folder: Path) -> float | None:
    """The wall time (s) of the run whose weights lie in ``folder``, from its ``manifest.json``
    (``wall_s``); None when there is no manifest, or it is not a JSON object of at most
    1 MiB holding a finite non-negative ``wall_s``."""
    manifest = read_manifest(folder)
    wall = manifest.get("wall_s") if manifest is not None else None
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or not math.isfinite(wall) or wall < 0:
        return None
    return round(float(wall), 1)


def checkpoint_budget(path: str | Path | None) -> dict[str, Any]:
    """What a results record states about the weights at ``path`` (a file or run directory):
    ``parameters`` (:func:`module_parameter_count`) and ``training_seconds``
    (:func:`training_seconds`, None when unknown). ``{}`` without a path or for an
    unreadable file: the model's own ``load`` reports a bad checkpoint clearly."""
    if path is None:
        return {}
    try:
        file = resolve_checkpoint_path(path)
        return {"parameters": module_parameter_count(file), "training_seconds": training_seconds(file.parent)}
    except InputError:
        return {}
