"""Finding a method's model and its trained weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from srbench.errors import InputError
from srbench.interfaces import Predictor


def default_runs_root() -> Path:
    """Where training runs live: ``./runs``."""
    return Path("runs")


def resolve_checkpoint(model: Any, *, checkpoint: Path | None, track: str | None = None, runs_root: Path | None = None) -> Path | None:
    """The checkpoint to load for ``model``: the given one, else the newest run's (for ``track``)."""
    if checkpoint is not None or not getattr(model, "needs_checkpoint", False):
        return checkpoint
    from srbench.training.runs import find_latest_model

    found = find_latest_model(model.name, track=track, runs_root=runs_root or default_runs_root())
    if found is None and track is not None:
        found = find_latest_model(model.name, track=None, runs_root=runs_root or default_runs_root())
    if found is None:
        where = f" on track '{track}'" if track else ""
        raise InputError(
            f"method '{model.name}' needs trained weights and no run{where} was found under "
            f"{runs_root or default_runs_root()}/: run `srbench train {model.name}` or pass --checkpoint"
        )
    return found


def load_predictor(model: Any, *, checkpoint: Path | None, device: str) -> Predictor:
    """``model.load`` with a check that it returned a predictor."""
    predictor = model.load(checkpoint=checkpoint, device=device)
    if not hasattr(predictor, "predict"):
        raise InputError(f"model '{model.name}' returned {predictor!r} from load(), which has no predict()")
    return predictor
