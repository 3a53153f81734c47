"""Finding a method's model and its trained weights, and running it under the harness's checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from srbench import grid
from srbench.errors import InputError, PluginError, show
from srbench.interfaces import InferenceSettings, Predictor, Scale, Volume

#: largest distance (in mm, relative to the voxel size) between a model's output affine and the SR grid
AFFINE_TOLERANCE = 1e-4


def default_runs_root() -> Path:
    """Where training runs live: ``./runs``."""
    return Path("runs")


def resolve_checkpoint(model: Any, *, checkpoint: Path | None, track: str | None = None, runs_root: Path | None = None) -> Path | None:
    """The checkpoint to load for ``model``: the given one, else the newest run's (for ``track``).

    A ``checkpoint`` given to a method that takes no weights (``trilinear``) is refused
    rather than ignored.
    """
    needs = bool(getattr(model, "needs_checkpoint", False))
    if checkpoint is not None and not needs:
        raise InputError(f"--checkpoint: method '{model.name}' takes no trained weights; drop --checkpoint")
    if checkpoint is not None or not needs:
        return checkpoint
    from srbench.training.runs import find_latest_model

    found = find_latest_model(model.name, track=track, runs_root=runs_root or default_runs_root())
    if found is None and track is not None:
        found = find_latest_model(model.name, track=None, runs_root=runs_root or default_runs_root())
    if found is None:
        found = _shipped_checkpoint(model.name, track=track)
    if found is None:
        where = f" on track '{track}'" if track else ""
        raise InputError(
            f"method '{model.name}' needs trained weights and no run{where} was found under "
            f"{show(runs_root or default_runs_root())}/: run `srbench train {model.name}` or pass --checkpoint"
        )
    return found


def resolve_fold_checkpoint(model: Any, *, track: str, fold: int, runs_root: Path | None = None) -> Path | None:
    """The weights of ``model`` for fold ``fold`` of cross-validation track ``track``: the
    newest ``runs/*/fold-<fold>/model.safetensors`` trained on that track and fold (never a
    model of another fold, track or shipped weights: those may have seen the held-out
    subject). None for a method without weights."""
    if not getattr(model, "needs_checkpoint", False):
        return None
    from srbench.training.runs import find_latest_model

    root = runs_root or default_runs_root()
    found = find_latest_model(model.name, track=track, fold=fold, runs_root=root)
    if found is None:
        raise InputError(
            f"method '{model.name}' has no model for fold {fold} of cross-validation track '{track}' under "
            f"{show(root)}/: run `srbench train {model.name} --track {track}` (every fold) or add --fold {fold}"
        )
    return found


def _shipped_checkpoint(method: str, *, track: str | None) -> Path | None:
    """The reference weights a plugin ships for ``method`` (trained on ``track`` when there are
    such, else on any track), announced on stderr; None when it ships none."""
    import sys

    from srbench.plugins import get_plugin_manager
    from srbench.weights import find_shipped

    pm = get_plugin_manager()
    shipped = find_shipped(pm, method, track=track) or find_shipped(pm, method)
    if shipped is None:
        return None
    print(
        f"no local run of '{method}' found: using the reference weights shipped with {shipped.distribution} "
        f"(preset {shipped.preset}, trained on track {shipped.track}, sha256 {shipped.recorded_sha256[:12]})",
        file=sys.stderr,
    )
    return shipped.path


def load_predictor(model: Any, *, checkpoint: Path | None, device: str) -> Predictor:
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

    The output must have the shape :func:`srbench.grid.sr_shape` and the affine
    :func:`srbench.grid.sr_affine` of the LR volume (to :data:`AFFINE_TOLERANCE` of a voxel),
    and only finite voxels. A model that disagrees is refused with one line naming the
    method, its checkpoint and the subject, and nothing is written or scored.

    Args:
        lr: the ``(W, H, D)`` LR volume with its affine (mm).
        scale: per-axis factor.
        subject: the subject id or input file, for messages.
    """
    sr = predictor.predict(lr, scale=scale, settings=settings)
    weights = f" (checkpoint {show(checkpoint)})" if checkpoint is not None else ""
    who = f"method '{method}'{weights} on {show(subject)}"
    if not isinstance(sr, Volume):
        raise PluginError(f"{who}: predict() returned {type(sr).__name__}, expected a Volume")
    expected_shape = grid.sr_shape(lr.shape, scale)
    if tuple(sr.shape) != tuple(expected_shape):
        raise PluginError(f"{who}: output shape {tuple(sr.shape)} is not the SR grid's {tuple(expected_shape)}")
    expected_affine = grid.sr_affine(lr.affine, grid.effective_scale(lr.shape, scale))
    affine = np.asarray(sr.affine, dtype=np.float64)
    spacing = float(np.min(np.linalg.norm(expected_affine[:3, :3], axis=0)))
    if affine.shape != (4, 4) or not np.isfinite(affine).all() or np.abs(affine - expected_affine).max() > AFFINE_TOLERANCE * spacing:
        shift = np.abs(affine - expected_affine).max() if affine.shape == (4, 4) else float("nan")
        raise PluginError(f"{who}: output affine is off the SR grid by up to {shift:.4g} mm (the harness sets the grid; see srbench.grid.sr_affine)")
    finite = sr.data.isfinite()
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise InputError(f"{who}: output has {bad:,} NaN or infinite voxel(s) of {sr.data.numel():,}; are the weights broken?")
    return sr
