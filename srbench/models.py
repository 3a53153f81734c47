"""The inference side of a method: loading its predictor (from a checkpoint for learned
methods) and running it under the harness's checks."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srbench import grid
from srbench.errors import InputError, PluginError, file_error, show
from srbench.interfaces import InferenceSettings, Predictor, Scale, SRModel, Volume
from srbench.io.checkpoint import Checkpoint, check_fits, load_checkpoint, resolve_checkpoint_path, restore_modules
from srbench.scale_path import choose_path

#: largest distance (relative to the voxel size) between a model's output affine and the SR grid
AFFINE_TOLERANCE = grid.AFFINE_TOLERANCE


def load_predictor(model: SRModel, *, checkpoint: Path | None, device: str) -> Predictor:
    """``model.load`` with a check that it returned a predictor."""
    predictor = model.load(checkpoint=checkpoint, device=device)
    if not hasattr(predictor, "predict"):
        raise PluginError(f"model '{model.name}' returned {predictor!r} from load(), which has no predict()")
    return predictor


def predict_checked(
    predictor: Predictor,
    lr: Volume,
    *,
    scale: Scale,
    settings: InferenceSettings,
    method: str,
    checkpoint: Path | None,
    subject: str,
) -> Volume:
    """Run ``predictor`` on ``lr`` and check what it returns; the harness owns the output grid.

    The harness also owns the path on a per-axis scale (:func:`srbench.scale_path.choose_path`):
    ``predict()`` is called at the scale that path gives (the track's own, or the isotropic
    one of the adapter), its output is checked there, and the adapter's phase averaging
    (:func:`srbench.inference.apply_adapter`) follows.

    The output must have the shape :func:`srbench.grid.sr_shape` and the affine
    :func:`srbench.grid.sr_affine` of the LR volume (to :data:`AFFINE_TOLERANCE` of a voxel),
    and only finite voxels. A model that disagrees is refused with one line naming the
    method, its checkpoint and the subject, and nothing is written or scored.

    Args:
        lr: the ``(W, H, D)`` LR volume with its affine (mm).
        scale: per-axis factor.
        subject: the subject id or input file, for messages.
    """
    from srbench.inference import apply_adapter

    path = choose_path(predictor, scale)
    scale = path.predict_scale
    sr = predictor.predict(lr, scale=scale, settings=settings)
    weights = f" (checkpoint {show(checkpoint)})" if checkpoint is not None else ""
    adapter = f" (predicted at ×{'×'.join(f'{s:g}' for s in scale)} for the harness adapter)" if path.phase_average else ""
    who = f"method '{method}'{weights} on {show(subject)}{adapter}"
    if not isinstance(sr, Volume):
        raise PluginError(f"{who}: predict() returned {type(sr).__name__}, expected a Volume")
    expected_shape = grid.sr_shape(lr.shape, scale)
    if tuple(sr.shape) != tuple(expected_shape):
        raise PluginError(f"{who}: output shape {tuple(sr.shape)} is not the SR grid's {tuple(expected_shape)}")
    expected_affine = grid.sr_affine(lr.affine, grid.effective_scale(lr.shape, scale))
    affine = np.asarray(sr.affine, dtype=np.float64)
    if grid.grid_offset(affine, expected_affine) > AFFINE_TOLERANCE:
        shift = np.abs(affine - expected_affine).max() if affine.shape == (4, 4) else float("nan")
        raise PluginError(f"{who}: output affine is off the SR grid by up to {shift:.4g} mm (the harness sets the grid; see srbench.grid.sr_affine)")
    finite = sr.data.isfinite()
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise InputError(f"{who}: output has {bad:,} NaN or infinite voxel(s) of {sr.data.numel():,}; are the weights broken?")
    return apply_adapter(sr, lr=lr, path=path)


#: the longest a stored configuration may take to build its network on the meta device
BUILD_SECONDS = 60.0

#: builds a network from a validated configuration (an instance of the trainer's config class)
NetworkBuilder = Callable[[Any], torch.nn.Module]


@dataclasses.dataclass(frozen=True)
class CheckpointModel:
    """An :class:`~srbench.interfaces.SRModel` whose weights come from an srbench checkpoint.

    ``load`` reads the checkpoint, rebuilds its configuration as ``config_class`` (checked:
    types, ranges, ``validate()``), builds the network with ``build_network`` (the same
    function the trainer uses), loads the weights strictly and wraps the network in a
    predictor. A learned method registers one of these; nothing else is needed::

        CheckpointModel(name="mymethod", description="...", config_class=MyConfig,
                        build_network=build_network)

    Args:
        name: the method name (checkpoints of other methods are refused).
        description: one line for ``srbench plugins``.
        config_class: the trainer's configuration dataclass.
        build_network: ``config_class`` instance → the inference network.
        module_key: which saved module is the inference network.
        native_scale: the network's integer per-axis factor; ``None`` reads it from the
            stored configuration's ``scale`` (``(2, 2, 2)`` when absent).
        predictor: ``predictor(network, device=...)`` → the method's own
            :class:`~srbench.interfaces.Predictor`; ``None`` runs the network in tiles
            planned from its receptive field (:class:`~srbench.inference.NetworkPredictor`)
            at its native scale.
    """

    name: str
    description: str
    config_class: type
    build_network: NetworkBuilder
    module_key: str = "generator"
    native_scale: tuple[int, int, int] | None = None
    predictor: Callable[..., Predictor] | None = None
    needs_checkpoint: bool = True

    def load(self, *, checkpoint: Path | None = None, device: str = "cpu") -> Predictor:
        """Rebuild the network from ``checkpoint`` (a model or checkpoint file, or a run
        directory), load its weights strictly and return its predictor on ``device``."""
        if checkpoint is None:
            raise InputError(
                f"method {self.name} needs trained weights: run `srbench train {self.name}` or pass --checkpoint"
            )
        ckpt = load_checkpoint(resolve_checkpoint_path(checkpoint), method=self.name)
        network = build_from_checkpoint(ckpt, self.build_network, module_key=self.module_key, config_class=self.config_class)
        network.eval()
        if self.predictor is not None:
            return self.predictor(network, device=device)
        from srbench.inference import NetworkPredictor

        return NetworkPredictor(network, native_scale=tuple(self.native_scale or stored_scale(ckpt)), device=device)


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


class StoredConfiguration(dict):
    """The ``config_class`` of a model adapted from hook API 1.0 without one
    (:mod:`srbench.compat`): the stored configuration as a dict, as that API passed it."""


def build_from_checkpoint(ckpt: Checkpoint, build_network: NetworkBuilder, *, module_key: str, config_class: type) -> torch.nn.Module:
    """The network a checkpoint's stored configuration describes, with the checkpoint's weights.

    The stored configuration is untrusted: it is rebuilt as ``config_class`` (types, ranges,
    ``validate()``), the network is first built on the ``meta`` device (no memory), and its
    parameter names and shapes must match the tensors in the file before it is built for
    real, so a mistyped, negative or huge field is one InputError naming the file instead of
    a crash or a huge allocation.
    """
    from srbench.io.typed_config import config_from_dict

    try:
        config = StoredConfiguration(ckpt.config) if config_class is StoredConfiguration else config_from_dict(config_class, dict(ckpt.config))
    except InputError as exc:
        raise file_error(ckpt.path, f"stored configuration is invalid ({_short_text(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - a plugin's validate() fed untrusted values
        raise file_error(ckpt.path, f"stored configuration is invalid ({type(exc).__name__}: {_short_text(exc)})") from None
    try:
        with _time_limit(BUILD_SECONDS, ckpt.path), torch.device("meta"):
            probe = build_network(config)
    except InputError as exc:
        raise file_error(ckpt.path, f"stored configuration is invalid ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - plugin code fed untrusted values
        raise file_error(ckpt.path, f"stored configuration cannot build the network ({type(exc).__name__}: {_short_text(exc)})") from None
    if not isinstance(probe, torch.nn.Module):
        raise file_error(ckpt.path, f"stored configuration built {type(probe).__name__}, not a network")
    check_fits(ckpt, module_key, probe, what="the stored configuration")
    network = build_network(config)
    restore_modules(ckpt, {module_key: network})
    return network


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
