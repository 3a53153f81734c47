"""Checkpoints: one safetensors file holding weights, optimiser state and the configuration.

Nothing is ever unpickled: tensors come from safetensors, everything else is JSON in the
file's string metadata. Layout of one file:

- tensors ``module/<name>/<key>`` — each module's ``state_dict`` (parameters and buffers);
- tensors ``optim/<name>/<param_index>/<key>`` — each optimiser's per-parameter tensors
  (Adam's ``exp_avg``, ``exp_avg_sq``, ``step``...);
- metadata (all strings): ``srbench.format`` (:data:`FORMAT`), ``method``, ``kind``
  (``checkpoint`` = full state for resuming, ``model`` = inference weights only),
  ``config`` (JSON), ``iteration`` (completed iterations), ``optimizers`` (JSON: param
  groups and non-tensor per-parameter state), ``extra`` (JSON), ``srbench.version``.

Files are written through :func:`srbench.io.atomic.atomic_path`, so a crash leaves either
the previous checkpoint or the new one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from srbench.errors import InputError, file_error
from srbench.io.atomic import atomic_path

FORMAT = "srbench-checkpoint-1"
KINDS = ("checkpoint", "model")
MODEL_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
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


# -- writing ---------------------------------------------------------------------------
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


# -- reading ---------------------------------------------------------------------------
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
        raise file_error(path, f"not a readable safetensors checkpoint ({str(exc).splitlines()[0][:120]})") from None


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
        raise file_error(path, f"checkpoint tensors are unreadable ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") from None
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


def _load_module(ckpt: Checkpoint, name: str, module: torch.nn.Module) -> None:
    state = ckpt.module_state(name)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
        for key in set(state) & set(expected)
        if tuple(state[key].shape) != tuple(expected[key].shape)
    )
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}{'...' if len(unexpected) > 3 else ''}")
        if mismatched:
            parts.append(f"shape mismatch {', '.join(mismatched[:3])}{'...' if len(mismatched) > 3 else ''}")
        raise file_error(ckpt.path, f"weights of module '{name}' do not fit the network ({'; '.join(parts)})")
    module.load_state_dict(state, strict=True)


def restore_modules(ckpt: Checkpoint, modules: Mapping[str, torch.nn.Module]) -> None:
    """Load each module's weights from ``ckpt`` (strictly: same keys and shapes)."""
    for name, module in modules.items():
        _load_module(ckpt, name, module)


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
            raise file_error(ckpt.path, f"optimizer '{name}' state does not fit ({str(exc).splitlines()[0][:120]})") from None


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


# -- inference side of learned methods -------------------------------------------------
def stored_scale(ckpt: Checkpoint) -> tuple[int, int, int]:
    """The integer per-axis ``scale`` of a checkpoint's stored configuration ((2, 2, 2) when absent)."""
    value = ckpt.config.get("scale", (2, 2, 2))
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 3
        or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 16 for s in value)
    ):
        raise file_error(ckpt.path, f"stored configuration 'scale' must be three integers from 1 to 16, got {value!r}")
    return (value[0], value[1], value[2])


def build_from_checkpoint(
    ckpt: Checkpoint,
    build_network: Callable[[dict[str, Any]], torch.nn.Module],
    *,
    module_key: str,
    config_class: type | None = None,
) -> torch.nn.Module:
    """The network a checkpoint's stored configuration describes, with the checkpoint's weights.

    The stored configuration is untrusted: the network is first built on the ``meta``
    device (no memory), and its parameter names and shapes must match the tensors in
    the file before it is built for real, so a mistyped, negative or huge field is one
    InputError naming the file instead of a crash or a huge allocation.
    """
    config = dict(ckpt.config)
    if config_class is not None:
        from srbench.training.config import config_from_dict

        try:
            config_from_dict(config_class, config)
        except InputError as exc:
            raise file_error(ckpt.path, f"stored configuration is invalid ({_short_text(exc)})") from None
        except Exception as exc:  # noqa: BLE001 - a plugin's validate() fed untrusted values
            raise file_error(ckpt.path, f"stored configuration is invalid ({type(exc).__name__}: {_short_text(exc)})") from None
    try:
        with _time_limit(BUILD_SECONDS, ckpt.path), torch.device("meta"):
            probe = build_network(dict(config))
    except InputError as exc:
        raise file_error(ckpt.path, f"stored configuration is invalid ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - plugin code fed untrusted values
        raise file_error(ckpt.path, f"stored configuration cannot build the network ({type(exc).__name__}: {_short_text(exc)})") from None
    if not isinstance(probe, torch.nn.Module):
        raise file_error(ckpt.path, f"stored configuration built {type(probe).__name__}, not a network")
    _check_fits(ckpt, module_key, probe)
    network = build_network(dict(config))
    _load_module(ckpt, module_key, network)
    return network


#: the longest a stored configuration may take to build its network on the meta device
BUILD_SECONDS = 60.0


@contextlib.contextmanager
def _time_limit(seconds: float, path: Path) -> Iterator[None]:
    """Raise an InputError naming ``path`` when the block runs longer than ``seconds``
    (a stored configuration asking for millions of blocks). Main thread only; elsewhere no limit."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise file_error(path, f"stored configuration did not build its network within {seconds:.0f} s (implausibly large)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _short_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else type(exc).__name__


def _check_fits(ckpt: Checkpoint, name: str, module: torch.nn.Module) -> None:
    """Compare names and shapes of ``module``'s state with the checkpoint's, without loading."""
    state = ckpt.module_state(name)
    expected = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        mismatched = sorted(f"{k} {found[k]} vs {expected[k]}" for k in set(found) & set(expected) if found[k] != expected[k])
        parts = [
            f"{label} {', '.join(items[:3])}{'...' if len(items) > 3 else ''}"
            for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
            if items
        ]
        raise file_error(ckpt.path, f"weights of module '{name}' do not fit the stored configuration ({'; '.join(parts)})")

@dataclasses.dataclass(frozen=True)
class CheckpointModel:
    """An :class:`~srbench.interfaces.SRModel` for a learned method with a fixed-scale network.

    Args:
        name: the method name (checkpoints of other methods are refused).
        description: one line for ``srbench plugins``.
        build_network: builds the inference network from the checkpoint's stored
            configuration dict (the same function the trainer uses).
        module_key: which saved module is the inference network.
        config_class: the trainer's configuration dataclass (checks the stored configuration).
        native_scale: the network's integer per-axis factor; ``None`` reads it from the
            stored configuration's ``scale`` (``(2, 2, 2)`` when absent).
    """

    name: str
    description: str
    build_network: Callable[[dict[str, Any]], torch.nn.Module]
    module_key: str = "generator"
    native_scale: tuple[int, int, int] | None = None
    needs_checkpoint: bool = True
    #: the trainer's configuration class: a stored configuration is checked against it
    #: (types, ranges, ``validate()``) before any network is built
    config_class: type | None = None

    def load(self, *, checkpoint: Path | None = None, device: str = "cpu") -> Any:
        """Rebuild the network from ``checkpoint`` (a model or checkpoint file, or a run
        directory), load its weights strictly and return a NetworkPredictor on ``device``."""
        if checkpoint is None:
            raise InputError(
                f"method {self.name} needs trained weights: run `srbench train {self.name}` or pass --checkpoint"
            )
        ckpt = load_checkpoint(resolve_checkpoint_path(checkpoint), method=self.name)
        network = build_from_checkpoint(ckpt, self.build_network, module_key=self.module_key, config_class=self.config_class)
        network.eval()
        scale = self.native_scale or stored_scale(ckpt)
        from srbench.inference import NetworkPredictor

        return NetworkPredictor(network, native_scale=tuple(scale), device=device)
