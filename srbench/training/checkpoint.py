"""Writing checkpoints and restoring optimiser state: the training side of the checkpoint file.

The layout and every read are in :mod:`srbench.io.checkpoint`. Files are written through
:func:`srbench.io.atomic.atomic_path`, so a crash leaves either the previous checkpoint or
the new one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save

from srbench.errors import exception_line, file_error
from srbench.io.atomic import atomic_path
from srbench.io.checkpoint import FORMAT, KINDS, Checkpoint


def _encode_group(name: str, index: int, group: Mapping[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    encoded: dict[str, Any] = {}
    for key, value in group.items():
        if isinstance(value, torch.Tensor):
            tensor_key = f"optim/{name}/group{index}/{key}"
            tensors[tensor_key] = value.detach().to("cpu").contiguous().clone()
            encoded[key] = {"__tensor__": tensor_key}
        elif isinstance(value, tuple):
            encoded[key] = {"__tuple__": list(value)}
        else:
            encoded[key] = value
    return encoded


def _optimizer_payload(name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state_dict = optimizer.state_dict()
    state_meta: dict[str, dict[str, Any]] = {}
    for index, per_param in state_dict["state"].items():
        meta: dict[str, Any] = {}
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{name}/{index}/{key}"] = value.detach().to("cpu").contiguous().clone()
            else:
                meta[key] = value
        state_meta[str(index)] = meta
    groups = [_encode_group(name, i, group, tensors) for i, group in enumerate(state_dict["param_groups"])]
    return {"param_groups": groups, "state": state_meta, "indices": [str(i) for i in state_dict["state"]]}


def save_checkpoint(
    path: str | Path,
    *,
    method: str,
    kind: str,
    config: Mapping[str, Any],
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    iteration: int,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (see the module docstring for the layout).

    Args:
        path: target ``.safetensors`` file; its directory must exist.
        method: the method name (checked again on load).
        kind: ``checkpoint`` (modules + optimisers, for resuming) or ``model`` (weights only).
        config: the run's configuration as a JSON-ready dict.
        modules: networks by name; their ``state_dict`` (parameters and buffers) is saved.
        optimizers: optimisers by name (``kind="checkpoint"`` only).
        iteration: number of completed iterations.
        extra: more JSON state to store.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    from srbench import __version__

    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"module/{name}/{key}"] = value.detach().to("cpu").contiguous().clone()
    optim_meta = {
        name: _optimizer_payload(name, optimizer, tensors) for name, optimizer in (optimizers or {}).items()
    }
    metadata = {
        "srbench.format": FORMAT,
        "method": method,
        "kind": kind,
        "config": json.dumps(dict(config), sort_keys=True),
        "iteration": str(int(iteration)),
        "optimizers": json.dumps(optim_meta),
        "extra": json.dumps(dict(extra or {}), sort_keys=True),
        "srbench.version": __version__,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(_canonical_safetensors(save(tensors, metadata=metadata)))
    return path


def _canonical_safetensors(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted.

    safetensors writes the header from a hash map whose order changes from process to
    process, so two saves of identical tensors and metadata differ in bytes (and sha256).
    Sorting the keys (same length, padded with spaces as the format allows) makes a
    checkpoint's sha256 a function of its content: a retrained run reproduces it.
    """
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if len(text) > length:  # cannot happen for a header safetensors wrote; keep its bytes
        return data
    return data[:8] + text + b" " * (length - len(text)) + data[8 + length :]


def _decode_group(ckpt: Checkpoint, group: Mapping[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for key, value in group.items():
        if isinstance(value, dict) and "__tensor__" in value:
            decoded[key] = ckpt.tensors[value["__tensor__"]]
        elif isinstance(value, dict) and "__tuple__" in value:
            decoded[key] = tuple(value["__tuple__"])
        else:
            decoded[key] = value
    return decoded


def restore_optimizers(ckpt: Checkpoint, optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
    """Load each optimiser's state (param groups and per-parameter tensors) from ``ckpt``."""
    for name, optimizer in optimizers.items():
        payload = ckpt.optimizers.get(name)
        if payload is None:
            held = ", ".join(sorted(ckpt.optimizers)) or "none"
            raise file_error(ckpt.path, f"checkpoint has no state for optimizer '{name}' (it holds: {held})")
        state: dict[int, dict[str, Any]] = {}
        for index in payload.get("indices", []):
            per_param: dict[str, Any] = dict(payload["state"].get(index, {}))
            prefix = f"optim/{name}/{index}/"
            for key, value in ckpt.tensors.items():
                if key.startswith(prefix):
                    per_param[key[len(prefix) :]] = value
            state[int(index)] = per_param
        groups = [_decode_group(ckpt, group) for group in payload["param_groups"]]
        try:
            optimizer.load_state_dict({"state": state, "param_groups": groups})
        except (ValueError, KeyError, RuntimeError) as exc:
            raise file_error(ckpt.path, f"optimizer '{name}' state does not fit ({exception_line(exc, limit=120)})") from None



def __getattr__(name: str) -> Any:
    """``CheckpointModel``, where hook API 1.0 documented it before 2026-11-30: the adapter
    :func:`srbench.compat.api1_checkpoint_model` (new code imports srbench.models.CheckpointModel)."""
    if name == "CheckpointModel":
        from srbench.compat import api1_checkpoint_model

        return api1_checkpoint_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
