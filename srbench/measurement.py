"""The measurement: how one SR volume is scored against its HR reference, for every method.

Every number on a board goes through :func:`compute_metrics`: evaluation, ``verify``'s
re-derivation and ``score`` of submitted files all call it, so the rules that must hold
for every method (the intensity convention, the evaluation mask, which metric plugins run
and what they are handed) live here once, never in a plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from srbench import capabilities
from srbench.errors import InputError, unknown_name
from srbench.stage_times import StageTimes

if TYPE_CHECKING:
    from srbench.plugins import PluginManager


def select_metrics(pm: PluginManager, *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> tuple[str, ...] | None:
    """The metric plugins an evaluation computes: ``None`` for all of them (the default, which
    keeps run keys as they were), else the sorted names of ``include`` (default: all) less
    ``exclude``.

    Raises:
        InputError: an unknown metric name (with a did-you-mean), or nothing left to compute.
    """
    names = pm.names("metric")
    for name in (*include, *exclude):
        if name not in names:
            raise unknown_name("metric", name, names)
    chosen = sorted((set(include) or set(names)) - set(exclude))
    if not chosen:
        raise InputError("--metric/--skip-metric leave no metric to compute")
    return None if set(chosen) == set(names) else tuple(chosen)


def selected_metrics(pm: PluginManager, selection: Sequence[str] | None = None) -> list[Any]:
    """The registered metric plugins, or those named in ``selection``."""
    return [m for m in pm.all("metric") if selection is None or m.name in selection]


def result_columns(pm: PluginManager, selection: Sequence[str] | None = None) -> list[str]:
    """Every output column of every registered metric (of the ``selection`` only, when
    given), then the harness's own columns (:data:`srbench.metric_columns.HARNESS_COLUMNS`)."""
    from srbench.metric_columns import HARNESS_COLUMNS

    return [column for metric in selected_metrics(pm, selection) for column in metric.outputs] + list(HARNESS_COLUMNS)


def compute_metrics(pm: PluginManager, *, sr: torch.Tensor, hr: torch.Tensor, affine: Any, times: StageTimes | None = None,
                    selection: Sequence[str] | None = None) -> dict[str, float]:
    """Score one SR volume against its HR reference: the one measurement every row goes through.

    Applies the intensity convention (:mod:`srbench.metrics.convention`), derives the
    evaluation mask from the HR reference alone (:mod:`srbench.metrics.mask`), then runs
    every registered metric, or those of ``selection`` (each timed into ``times`` as
    ``metric NAME`` when given). A metric declaring ``masked = True`` gets the mask;
    any other gets the prediction with its background replaced by the reference's, so no
    value can depend on a method's background. The mask's voxel fraction is returned as
    ``mask_fraction``.

    Args:
        sr, hr: ``(W, H, D)`` volumes on one grid, scanner units.
        affine: the HR voxel→world affine (4 × 4).
    """
    from srbench.metrics.convention import scale_pair
    from srbench.metrics.mask import evaluation_mask, mask_fraction, outside_replaced

    times = times if times is not None else StageTimes()
    values: dict[str, float] = {}
    metrics = selected_metrics(pm, selection)
    with times.stage("intensity convention"):
        sr01, hr01 = scale_pair(sr, hr)
    with times.stage("evaluation mask"):
        mask = evaluation_mask(hr01)
        masked = {id(metric): capabilities.masked(metric) for metric in metrics}
        replaced = None if all(masked.values()) else outside_replaced(sr01, hr01, mask)
    for metric in metrics:
        with times.stage(f"metric {metric.name}"):
            if masked[id(metric)]:
                computed = metric.compute(sr01, hr01, affine=affine, mask=mask)
            else:
                computed = metric.compute(replaced, hr01, affine=affine)
            values.update({k: float(v) for k, v in computed.items()})
    values["mask_fraction"] = mask_fraction(mask)
    return values
