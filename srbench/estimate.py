"""How long an evaluation will take on this machine, from header sizes and a short probe.

Each track's largest subject gives the probe's shape (from its NIfTI header; nothing is
decompressed): every method predicts, after a warm-up call, two synthetic LR volumes of
that shape scaled down per axis, and every metric scores two synthetic pairs of those
sizes. The two times give a power law ``t ∝ voxels^α`` (:class:`Scaling`), applied to
every subject's size; a planned method's time is multiplied by the redundancy of the
tiles it would use on that subject. ``evaluate --estimate`` probes at 1/4 and 1/2 of the
size (about 14 % of the largest subject's work per method) and prints the estimate per
track, method and metric, then stops; every evaluation probes at 1/8 and 1/4 (about 2 %)
before it starts, says what it expects, and prints the estimate beside the measured time
of each stage at the end. The estimate assumes one process (``--jobs 1``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from srbench import grid

if TYPE_CHECKING:
    from srbench.evaluation import EvaluationPlan
    from srbench.interfaces import InferenceSettings
    from srbench.plugins import PluginManager

#: the probe volumes of ``evaluate --estimate``: the largest subject's shape scaled by 1/4 and 1/2 per axis
DETAILED_PROBE = (4, 2)
#: the cheaper probe every evaluation runs before it starts (about 2 % of the largest subject's work)
QUICK_PROBE = (8, 4)
#: probe times below this are timer noise: such a stage is scaled linearly
NOISE_FLOOR_S = 0.005
#: the smallest probe side, in LR voxels (small volumes are probed whole)
MIN_PROBE_SIDE = 6


@dataclasses.dataclass(frozen=True)
class Scaling:
    """``seconds(n) = seconds_at · (n / voxels_at) ** exponent``, fitted on two probe sizes.

    The exponent is clamped to [0.5, 1.5]: work grows with the voxels, and small volumes
    run less efficiently than large ones (LPIPS's AlexNet on small slices, for example),
    which the fitted exponent below 1 carries over to the subject's size.
    """

    seconds_at: float
    voxels_at: int
    exponent: float

    def seconds(self, voxels: int) -> float:
        return self.seconds_at * (voxels / self.voxels_at) ** self.exponent

    @classmethod
    def fit(cls, sizes: Sequence[int], seconds: Sequence[float]) -> Scaling:
        (n0, n1), (t0, t1) = sizes, seconds
        timed = n1 > n0 and min(t0, t1) >= NOISE_FLOOR_S
        exponent = math.log(t1 / t0) / math.log(n1 / n0) if timed else 1.0
        return cls(seconds_at=t1, voxels_at=n1, exponent=min(1.5, max(0.5, exponent)))


def probe_shapes(shape: Sequence[int], factors: Sequence[int], divisors: Sequence[int]) -> list[tuple[int, int, int]]:
    """HR probe shapes: ``shape`` divided by each divisor per axis, multiples of ``factors``,
    at least :data:`MIN_PROBE_SIDE` LR voxels per axis (never larger than ``shape``)."""
    shapes = []
    for divisor in divisors:
        sides = []
        for n, f in zip(shape, factors, strict=True):
            lr = max(min(MIN_PROBE_SIDE, n // f), (n // f) // divisor)
            sides.append(lr * f)
        shapes.append((sides[0], sides[1], sides[2]))
    return shapes


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def probe_predictor(predictor: Any, shapes: Sequence[tuple[int, int, int]], *, factors: Sequence[int],
                    scale: Sequence[float], settings: InferenceSettings) -> Scaling | None:
    """How ``predictor``'s time grows with the SR voxels, from synthetic LR volumes for the
    HR ``shapes``; None when it cannot run them (an estimate never stops an evaluation)."""
    from srbench.synthetic import lr_volume

    try:
        volumes = [lr_volume(tuple(n // f for n, f in zip(shape, factors, strict=True)), seed=k)
                   for k, shape in enumerate(shapes)]
        predictor.predict(volumes[0], scale=scale, settings=settings)  # warm-up: first-call probes and caches
        seconds = [_timed(lambda v=v: predictor.predict(v, scale=scale, settings=settings)) for v in volumes]
    except Exception:  # noqa: BLE001 - the evaluation itself reports a failing method
        return None
    return Scaling.fit([math.prod(shape) for shape in shapes], seconds)


def probe_metric(metric: Any, shapes: Sequence[tuple[int, int, int]]) -> Scaling | None:
    """How ``metric``'s time grows with the HR voxels, from synthetic pairs of ``shapes``
    (None when it fails on them)."""
    import numpy as np

    from srbench.synthetic import unit_volume

    try:
        pairs = [(unit_volume(shape, seed=1), unit_volume(shape, seed=2)) for shape in shapes]
        metric.compute(*pairs[0], affine=np.eye(4))
        seconds = [_timed(lambda p=p: metric.compute(*p, affine=np.eye(4))) for p in pairs]
    except Exception:  # noqa: BLE001 - the evaluation itself reports a failing metric
        return None
    return Scaling.fit([math.prod(shape) for shape in shapes], seconds)


@dataclasses.dataclass
class Estimate:
    """Expected seconds per track, method and stage (``predict``, ``metric NAME``).

    Attributes:
        rows: ``(track label, method, subjects, {stage: seconds or None})``, one per
            track plan and method; None where a probe could not run.
    """

    rows: list[tuple[str, str, int, dict[str, float | None]]]

    def stages(self) -> dict[str, float]:
        """Expected seconds per stage over every row (unknown stages count 0)."""
        total: dict[str, float] = {}
        for _, _, _, stages in self.rows:
            for name, seconds in stages.items():
                total[name] = total.get(name, 0.0) + (seconds or 0.0)
        return total

    @property
    def total(self) -> float:
        return sum(self.stages().values())

    @property
    def unknown(self) -> list[str]:
        """``method (stage)`` for every probe that could not run."""
        return sorted({f"{method} ({name})" for _, method, _, stages in self.rows for name, s in stages.items() if s is None})


def estimate_evaluation(plan: EvaluationPlan, *, pm: PluginManager, settings: InferenceSettings,
                        metrics: Sequence[str] | None = None, divisors: Sequence[int] = QUICK_PROBE) -> Estimate:
    """Probe every method and metric of ``plan`` on volumes shaped like each track's largest
    subject, scaled down by ``divisors``, and extrapolate to every subject's size."""
    from srbench.measurement import selected_metrics
    from srbench.io.nifti import read_header
    from srbench.scale_path import choose_path
    from srbench.tiling import predictor_plan

    chosen = selected_metrics(pm, metrics)
    probes: dict[Any, Scaling | None] = {}
    rows: list[tuple[str, str, int, dict[str, float | None]]] = []
    for track_plan in plan.tracks:
        track = track_plan.track
        factors = grid.integer_scale(track.scale)
        shapes = [grid.cropped_hr_shape(read_header(subject.path).shape, factors) for subject in track_plan.subjects]
        probe = probe_shapes(max(shapes, key=math.prod), factors, divisors)
        label = track.name + (f" fold {track_plan.fold.number}" if track_plan.fold is not None else "")
        metric_fits = {}
        for metric in chosen:
            key = ("metric", metric.name, tuple(probe))
            if key not in probes:
                probes[key] = probe_metric(metric, probe)
            metric_fits[metric.name] = probes[key]
        for model, weights in track_plan.methods:
            predictor = plan.predictors[(model.name, weights)]
            scale = choose_path(predictor, track.scale).predict_scale  # what evaluation runs (srbench.scale_path)
            key = ("predict", id(predictor), tuple(scale), tuple(probe))
            if key not in probes:
                probes[key] = probe_predictor(predictor, probe, factors=factors, scale=scale, settings=settings)
            fits = {"predict": probes[key], **{f"metric {name}": fit for name, fit in metric_fits.items()}}
            stages: dict[str, float | None] = {name: None if fit is None else 0.0 for name, fit in fits.items()}
            for shape in shapes:
                lr_shape = tuple(n // f for n, f in zip(shape, factors, strict=True))
                tiles = _redundancy(predictor_plan, predictor, lr_shape, scale=scale, settings=settings)
                for name, fit in fits.items():
                    if fit is not None:
                        seconds = fit.seconds(math.prod(shape)) * (tiles if name == "predict" else 1.0)
                        stages[name] = (stages[name] or 0.0) + seconds
            rows.append((label, model.name, len(shapes), stages))
    return Estimate(rows=rows)


def _redundancy(planner: Callable[..., Any], predictor: Any, shape: tuple[int, ...], **options: Any) -> float:
    try:
        plan = planner(predictor, shape, **options)
    except Exception:  # noqa: BLE001 - no plan: count the volume once
        return 1.0
    return float(plan.redundancy) if plan is not None else 1.0


def estimate_table(estimate: Estimate) -> str:
    """A markdown table: one row per track and method, expected seconds per stage and in total."""
    stages = list(estimate.stages())
    lines = ["| track | method | subjects | " + " | ".join(f"{s} (s)" for s in stages) + " | total (s) |",
             "|---|---|---|" + "---|" * (len(stages) + 1)]
    for track, method, subjects, values in estimate.rows:
        cells = ["?" if values.get(s) is None else f"{values[s]:.1f}" for s in stages]
        total = sum(v or 0.0 for v in values.values())
        lines.append(f"| {track} | {method} | {subjects} | " + " | ".join(cells) + f" | {total:.1f} |")
    return "\n".join(lines)


def compared_summary(measured: dict[str, float], estimate: Estimate | None) -> str:
    """Measured seconds per stage, slowest first, each with its estimate when there is one."""
    total = sum(measured.values()) or 1.0
    expected = estimate.stages() if estimate is not None else {}
    parts = []
    for name, seconds in sorted(measured.items(), key=lambda item: -item[1]):
        guess = f", est. {expected[name]:.1f} s" if name in expected else ""
        parts.append(f"{name} {seconds:.1f} s ({100 * seconds / total:.0f}%{guess})")
    return ", ".join(parts)
