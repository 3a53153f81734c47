"""Conformance checks of :class:`~srbench.interfaces.Metric` registrations.

Metrics receive ``(W, H, D)`` float32 volumes already scaled to [0, 1] by the intensity
convention; the checks use 32³ volumes (slice-wise 2D networks such as LPIPS' AlexNet
need slices of at least about 32 × 32 pixels).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from srbench import capabilities
from srbench.interfaces import Metric
from srbench.testing.context import CheckContext
from srbench.testing.failures import CheckFailed, CheckSkipped, require
from srbench.testing.registration import check_name, check_protocol
from srbench.testing.synthetic import unit_volume

SHAPE = (32, 32, 32)
AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])


def _pair(seed: int = 0, *, noise: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    reference = unit_volume(SHAPE, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    degraded = (reference + noise * torch.randn(SHAPE, generator=generator)).clamp(0, 1)
    return degraded, reference


def _compute(metric: Any, sr: torch.Tensor, hr: torch.Tensor, what: str) -> dict[str, float]:
    values = metric.compute(sr.clone(), hr.clone(), affine=AFFINE.copy())
    require(isinstance(values, Mapping), f"metric '{metric.name}': compute returned {type(values).__name__}, expected a dict")
    require(set(values) == set(metric.outputs),
            f"metric '{metric.name}': compute returned columns {sorted(values)} for {what}, but outputs declares "
            f"{sorted(metric.outputs)}")
    result = {}
    for column, value in values.items():
        try:
            result[column] = float(value)
        except (TypeError, ValueError):
            raise CheckFailed(f"metric '{metric.name}': column {column} is {value!r}, not a number ({what})") from None
        require(not math.isnan(result[column]), f"metric '{metric.name}': column {column} is NaN for {what}")
    return result


def registration(metric: Any, ctx: CheckContext) -> None:
    """A lowercase name, ``outputs`` mapping each column to higher-is-better (True, False, or None
    for a diagnostic), ``symmetric`` a bool."""
    check_name(metric, "metric")
    check_protocol(metric, "metric", Metric)
    outputs = metric.outputs
    require(isinstance(outputs, Mapping) and len(outputs) > 0,
            f"metric '{metric.name}': outputs must map each result column to True (higher is better), False "
            "(lower is better) or None (a diagnostic)")
    for column, higher in outputs.items():
        require(isinstance(column, str) and bool(column.strip()), f"metric '{metric.name}': column name {column!r} is not a string")
        require(higher is None or isinstance(higher, bool),
                f"metric '{metric.name}': outputs[{column!r}] must be a bool (True: higher is better, False: lower is "
                f"better) or None (a diagnostic with no better direction), got {higher!r}")
    require(isinstance(metric.symmetric, bool), f"metric '{metric.name}': symmetric must be a bool, got {metric.symmetric!r}")


def columns(metric: Any, ctx: CheckContext) -> None:
    """compute() returns exactly the declared columns, as finite numbers, for a typical pair."""
    sr, hr = _pair()
    values = _compute(metric, sr, hr, "a noisy copy of a volume")
    bad = [c for c, v in values.items() if not math.isfinite(v)]
    require(not bad, f"metric '{metric.name}': columns {bad} are infinite for two different volumes")


def symmetry(metric: Any, ctx: CheckContext) -> None:
    """A metric declared symmetric gives the same values with its arguments swapped."""
    if not metric.symmetric:
        raise CheckSkipped(f"metric '{metric.name}' declares symmetric = False")
    sr, hr = _pair()
    forward = _compute(metric, sr, hr, "(sr, hr)")
    backward = _compute(metric, hr, sr, "(hr, sr)")
    for column in forward:
        a, b = forward[column], backward[column]
        require(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6),
                f"metric '{metric.name}' declares symmetric = True but {column} is {a!r} for (sr, hr) and {b!r} "
                "for (hr, sr); set symmetric = False or fix the computation")


def identical_optimal(metric: Any, ctx: CheckContext) -> None:
    """Identical volumes score at least as well as any worse pair in every ranked column, and
    give a finite value in every diagnostic column (direction None: no best to reach)."""
    sr, hr = _pair()
    same = _compute(metric, hr, hr, "identical volumes")
    diagnostics = [column for column, higher in metric.outputs.items() if higher is None]
    infinite = [column for column in diagnostics if not math.isfinite(same[column])]
    require(not infinite,
            f"metric '{metric.name}': diagnostic column(s) {infinite} are infinite for identical volumes; "
            "infinity can stand for a perfect score only in a ranked column (e.g. PSNR)")
    for noise in (0.01, 0.1):
        worse_sr, _ = _pair(noise=noise)
        worse = _compute(metric, worse_sr, hr, f"noise {noise}")
        for column, higher in metric.outputs.items():
            if higher is None:
                continue
            a, b = same[column], worse[column]
            better_or_equal = a >= b - 1e-6 * max(1.0, abs(b)) if higher else a <= b + 1e-6 * max(1.0, abs(b))
            require(better_or_equal,
                    f"metric '{metric.name}': {column} is {a!r} for identical volumes but {b!r} for a noisy copy "
                    f"(noise {noise}); with outputs[{column!r}] = {higher} identical volumes must score best")


def constant_volumes(metric: Any, ctx: CheckContext) -> None:
    """Constant volumes (zero variance) give no NaN, compared with themselves or with a normal volume."""
    varied = unit_volume(SHAPE, seed=3)
    for level in (0.0, 0.5):
        flat = torch.full(SHAPE, level, dtype=torch.float32)
        _compute(metric, flat, flat, f"two constant volumes of {level}")
        _compute(metric, flat, varied, f"a constant sr ({level}) and a varied hr")
        _compute(metric, varied, flat, f"a varied sr and a constant hr ({level})")


def background_ignored(metric: Any, ctx: CheckContext) -> None:
    """A metric declaring ``masked = True`` accepts ``mask=`` and reports the same value for
    every column whose name does not end in ``_volume`` whatever the prediction holds
    outside the mask (a ``_volume`` column may measure the whole volume)."""
    if not capabilities.masked(metric):
        raise CheckSkipped(f"metric '{metric.name}' is not masked: evaluation hands it the prediction with "
                           "the reference's background")
    sr, hr = _pair()
    mask = torch.zeros(SHAPE, dtype=torch.bool)
    mask[6:26, 6:26, 6:26] = True
    garbage = torch.rand(SHAPE, generator=torch.Generator().manual_seed(7))
    values = []
    for candidate in (sr, torch.where(mask, sr, garbage)):
        try:
            result = metric.compute(candidate.clone(), hr.clone(), affine=AFFINE.copy(), mask=mask.clone())
        except TypeError as exc:
            raise CheckFailed(f"metric '{metric.name}' declares masked = True but compute() does not accept "
                              f"mask= ({exc})") from None
        values.append({str(k): float(v) for k, v in dict(result).items()})
    for column in (c for c in values[0] if not c.endswith("_volume")):
        a, b = values[0][column], values[1].get(column, math.nan)
        require(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9),
                f"metric '{metric.name}' declares masked = True but {column} changes from {a!r} to {b!r} when only "
                "voxels outside the mask change; compute it inside the mask (or name it *_volume)")
