"""Which path a method takes on a track whose scale differs between axes: the harness's rule.

A per-axis scale such as the knee track's ``(2, 2, 1)`` (in-plane ×2, slices kept) is
run one of two ways. The choice is made here, from what the predictor declares, never by
a plugin:

- **adapter** (the default): ``predict()`` runs at the isotropic scale of the largest
  factor ``m``, and the harness averages the ``m / s`` sub-voxel phases along every axis
  whose factor ``s`` is smaller (:func:`srbench.inference.average_phases`). The mean of
  ``m / s`` neighbouring ×m sub-voxels is centred on a ×s voxel of that axis, so the
  result lies on the SR grid. For ``(2, 2, 1)``: ×2 isotropic, then the two phases along
  axis 2 averaged.
- **native**: ``predict()`` gets the track's scale as it is. Taken when the predictor
  lists that scale in its ``native_scales`` attribute (or declares
  ``native_scales = "any"``, :data:`ANY_SCALE`), and for scales the adapter cannot do
  (factors that are not integers dividing the largest).

A scale equal on every axis is always passed to ``predict()`` as it is. Every row stored
on a per-axis track records its path in the subject's inference plan, under
:data:`RECORD_KEY` (:func:`plan_record`), and the leaderboard states it from that record
(:func:`describe_record`). This module imports no torch, so a board rendered from an
exported store alone states the path too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from srbench import capabilities
from srbench.errors import PluginError

#: ``native_scales`` value of a method defined at every per-axis scale (an interpolation)
ANY_SCALE = "any"
#: the key of the path's record in a subject's stored inference plan
RECORD_KEY = "scale_path"
ADAPTER = "adapter"
NATIVE = "native"

Factors = tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class ScalePath:
    """How the harness runs one predictor at one scale.

    Attributes:
        scale: the track's per-axis scale ``(sx, sy, sz)`` (HR voxels per LR voxel).
        predict_scale: the scale ``predict()`` is called with (``scale`` on the native
            path, ``(m, m, m)`` on the adapter's).
        phase_average: ``(axis, phases)`` the harness averages after ``predict()``, in
            axis order; empty on the native path.
        declared: the predictor declares ``scale`` native (its ``native_scales``).
    """

    scale: Factors
    predict_scale: Factors
    phase_average: tuple[tuple[int, int], ...] = ()
    declared: bool = False

    @property
    def kind(self) -> str:
        """``"adapter"`` or ``"native"``."""
        return ADAPTER if self.phase_average else NATIVE

    @property
    def per_axis(self) -> bool:
        """True when the factors differ between axes (the only scales with a choice of path)."""
        return len(set(self.scale)) > 1

    def record(self) -> dict[str, Any]:
        """JSON-ready form, stored with each subject's inference plan under :data:`RECORD_KEY`."""
        return {"kind": self.kind, "scale": list(self.scale), "predict_scale": list(self.predict_scale),
                "phase_average": [list(pair) for pair in self.phase_average], "declared": self.declared}

    def describe(self) -> str:
        """One line, as the leaderboard shows it (:func:`describe_record`)."""
        return describe_record(self.record())


def declares_native(predictor: Any, scale: Sequence[float]) -> bool:
    """True when ``predictor``'s ``native_scales`` holds ``scale`` (or is :data:`ANY_SCALE`).

    Raises:
        PluginError: ``native_scales`` is neither ``"any"`` nor a collection of three factors each.
    """
    declared = capabilities.native_scales(predictor)
    if declared is None:
        return False
    wanted = tuple(float(s) for s in scale)
    if isinstance(declared, str):
        if declared == ANY_SCALE:
            return True
    else:
        try:
            scales = {tuple(float(s) for s in item) for item in declared}
        except (TypeError, ValueError):
            scales = {()}
        if all(len(item) == 3 for item in scales):
            return wanted in scales
    raise PluginError(f"{type(predictor).__name__}.native_scales is {declared!r}: expected {ANY_SCALE!r} or a collection "
                      "of per-axis scales such as [(2, 2, 1)] (see srbench.interfaces.Predictor)")


def adapter_for(scale: Sequence[float]) -> tuple[Factors, tuple[tuple[int, int], ...]] | None:
    """``(predict_scale, phase_average)`` of the harness adapter for ``scale``; None when the
    scale is isotropic or its factors are not integers dividing the largest."""
    factors = [float(s) for s in scale]
    if len(set(factors)) == 1 or not all(f.is_integer() and f >= 1 for f in factors):
        return None
    largest = int(max(factors))
    if any(largest % int(f) for f in factors):
        return None
    averaged = tuple((axis, largest // int(f)) for axis, f in enumerate(factors) if int(f) != largest)
    return (float(largest),) * 3, averaged  # type: ignore[return-value]


def choose_path(predictor: Any, scale: Sequence[float]) -> ScalePath:
    """The path ``predictor`` takes at ``scale``: native when it declares the scale (or the
    scale is isotropic, or the adapter cannot do it), else the harness adapter."""
    factors: Factors = tuple(float(s) for s in scale)  # type: ignore[assignment]
    declared = declares_native(predictor, factors)
    adapter = None if declared else adapter_for(factors)
    if adapter is None:
        return ScalePath(scale=factors, predict_scale=factors, declared=declared)
    return ScalePath(scale=factors, predict_scale=adapter[0], phase_average=adapter[1])


def plan_record(plan: Mapping[str, Any] | None, path: ScalePath) -> dict[str, Any] | None:
    """What a subject stores as its inference plan: the tile plan (when one was made) and,
    on a per-axis scale, the path under :data:`RECORD_KEY`; None when there is neither."""
    record = dict(plan or {})
    if path.per_axis:
        record[RECORD_KEY] = path.record()
    return record or None


def _factor(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"


def _scale_text(values: Any) -> str:
    return "×".join(_factor(v) for v in values) if isinstance(values, list) else "?"


def describe_record(record: Any) -> str:
    """One line from a stored :meth:`ScalePath.record` (for boards; tolerant of odd records)."""
    if not isinstance(record, Mapping):
        return "scale path: unreadable record"
    scale = _scale_text(record.get("scale"))
    if record.get("kind") == ADAPTER:
        predicted = record.get("predict_scale")
        size = _factor(predicted[0]) if isinstance(predicted, list) and predicted else "?"
        pairs = [p for p in record.get("phase_average") or [] if isinstance(p, list) and len(p) == 2]
        averaged = "; ".join(f"the {_factor(n)} sub-voxel phases averaged along axis {_factor(a)}" for a, n in pairs)
        return f"harness adapter for scale {scale}: predicted at ×{size} isotropic, then {averaged or 'no phase averaged'}"
    if record.get("kind") == NATIVE:
        why = ("declared by the method's native_scales" if record.get("declared")
               else "not declared; the harness adapter needs integer factors dividing the largest")
        return f"native per-axis scale {scale} ({why})"
    return "scale path: unreadable record"
