"""The library API under the command line: train and evaluate from Python (a notebook, a script).

``srbench train`` and ``srbench evaluate`` parse their options and call the same library
functions as these two (:mod:`srbench.training.plan`, :mod:`srbench.evaluation`), so a
call here checks its inputs, writes the same files and stores the same rows::

    import srbench.api as sr

    models = sr.train("dcsrn", track="insample", iterations=20)
    rows = sr.evaluate("insample", methods=["trilinear", "dcsrn"], checkpoint=None)
    rows.groupby("method")["psnr"].mean()

Errors are :class:`srbench.errors.InputError` (bad input, with the one-line message the
command line prints) or :class:`srbench.errors.PluginError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from srbench.plugins import PluginManager


def _plugin_manager(pm: PluginManager | None) -> PluginManager:
    if pm is not None:
        return pm
    from srbench.plugins import get_plugin_manager

    return get_plugin_manager()


def train(
    method: str,
    *,
    track: str = "insample",
    preset: str | None = None,
    fold: int | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    iterations: int | None = None,
    options: Mapping[str, Any] | None = None,
    config: str | Path | None = None,
    device: str = "cpu",
    progress: bool = False,
    pm: PluginManager | None = None,
) -> list[Path]:
    """Train ``method`` on ``track``; return the ``model.safetensors`` of each run.

    One run for a track with a ``train`` dataset; one per fold of a cross-validation track
    (``fold`` picks one). ``options`` sets configuration fields as ``--set`` does,
    ``config`` is a datasets.toml (default: the usual lookup), ``run_dir`` defaults to
    ``runs/METHOD-PRESET-TRACK``.
    """
    from srbench.config import load_config
    from srbench.training.plan import default_preset, plan_training, run_jobs

    pm = _plugin_manager(pm)
    trainer = pm.get("trainer", method)
    overrides = dict(options or {})
    if iterations is not None:
        overrides["iterations"] = iterations
    jobs = plan_training(
        trainer=trainer, config=load_config(config, pm=pm), pm=pm, track_name=track,
        preset=preset or default_preset(trainer), overrides=overrides,
        run_dir=Path(run_dir) if run_dir is not None else None, fold=fold, resume=resume,
    )  # fmt: skip
    return list(run_jobs(jobs, trainer=trainer, pm=pm, resume=resume, device=device, progress=progress))


def evaluate(
    track: str = "insample",
    *,
    methods: Sequence[str] = (),
    checkpoint: str | Path | None = None,
    results: str | Path | None = None,
    config: str | Path | None = None,
    runs_root: str | Path | None = None,
    force: bool = False,
    save_predictions: bool = False,
    device: str = "cpu",
    memory_budget: str | int | None = None,
    halo: int | None = None,
    patch_size: int | None = None,
    overlap: int | None = None,
    batch_size: int = 4,
    progress: bool = False,
    pm: PluginManager | None = None,
) -> pd.DataFrame:
    """Evaluate ``methods`` (default: trilinear and every method with weights) on ``track``
    (a name, ``ood``, ``cv``, ``insample`` or ``all``); store the rows in ``results``
    (default ``results/results.sqlite``) and return them, one row per method × subject
    with the status and every metric column (rows already stored come back as
    ``skipped``, without values, unless ``force``). ``progress`` shows a bar per track on stderr.

    Inference runs in tiles planned from each model's receptive field within
    ``memory_budget`` (e.g. ``"2GiB"``; default: the device's, see
    :func:`srbench.tiling.default_memory_budget`), with ``halo`` LR voxels of context when
    given; ``patch_size``/``overlap`` select fixed overlapping patches instead."""
    import pandas as pd

    from srbench.config import load_config
    from srbench.evaluation import metric_columns, open_results_store, plan_evaluation, run_evaluation
    from srbench.interfaces import InferenceSettings
    from srbench.progress import progress_bar
    from srbench.tiling import parse_memory_size

    pm = _plugin_manager(pm)
    settings = InferenceSettings(
        patch_size=patch_size, overlap=overlap, batch_size=batch_size, device=device, halo=halo,
        memory_budget=parse_memory_size(memory_budget) if memory_budget is not None else None,
    )  # fmt: skip
    benchmark = load_config(config, pm=pm)
    plan = plan_evaluation(
        config=benchmark, pm=pm, track_name=track, methods=tuple(methods),
        checkpoint=Path(checkpoint) if checkpoint is not None else None,
        runs_root=Path(runs_root) if runs_root is not None else None, shard=(0, 1), device=device,
    )  # fmt: skip
    store, predictions_dir = open_results_store(
        Path(results) if results is not None else None, reads=[benchmark.path, *plan.inputs()],
        save_predictions=save_predictions,
    )  # fmt: skip
    with store:
        rows = [outcome.as_row() for outcome in run_evaluation(
            plan, pm=pm, store=store, settings=settings, force=force, predictions_dir=predictions_dir,
            **({"progress": progress_bar} if progress else {}),
        )]  # fmt: skip
    columns = ["method", "track", "subject", "status", *metric_columns(pm)]
    return pd.DataFrame(rows, columns=columns)
