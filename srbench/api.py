"""The library API under the command line: train and evaluate from Python (a notebook, a script).

``srbench train`` and ``srbench evaluate`` parse their options and call the same library
functions as these two (:mod:`srbench.training.plan`, :mod:`srbench.evaluation`), so a
call here checks its inputs, writes the same files and stores the same rows::

    import srbench.api as sr

    models = sr.train("dcsrn", track="insample", iterations=20)
    rows = sr.evaluate("insample", methods=["trilinear", "dcsrn"], checkpoint=None)
    rows.groupby("method")["psnr"].mean()
    table = sr.results("insample")            # every stored row, as the boards see them
    sr.score("insample", "my_outputs/", name="mymethod")   # SR volumes made outside srbench

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
    )
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
    metrics: Sequence[str] = (),
    skip_metrics: Sequence[str] = (),
    pm: PluginManager | None = None,
) -> pd.DataFrame:
    """Evaluate ``methods`` (default: trilinear and every method with weights) on ``track``
    (a name, ``ood``, ``cv``, ``insample`` or ``all``); store the rows in ``results``
    (default ``results/results.sqlite``) and return them, one row per method × subject
    with the status and every metric column (rows already stored come back as
    ``skipped`` with their stored values, unless ``force``). ``progress`` shows a bar per track on stderr.

    Inference runs in tiles planned from each model's receptive field within
    ``memory_budget`` (e.g. ``"2GiB"``; default: the device's, see
    :func:`srbench.tiling.default_memory_budget`), with ``halo`` LR voxels of context when
    given; ``patch_size``/``overlap`` select fixed overlapping patches instead. ``metrics``
    (default: all) and ``skip_metrics`` choose the metric plugins computed, as ``--metric``
    and ``--skip-metric`` do."""
    import pandas as pd

    from srbench.config import load_config
    from srbench.evaluation import open_results_store, plan_evaluation, run_evaluation
    from srbench.measurement import result_columns, select_metrics
    from srbench.interfaces import InferenceSettings
    from srbench.progress import progress_bar
    from srbench.tiling import parse_memory_size

    pm = _plugin_manager(pm)
    settings = InferenceSettings(
        patch_size=patch_size, overlap=overlap, batch_size=batch_size, device=device, halo=halo,
        memory_budget=parse_memory_size(memory_budget) if memory_budget is not None else None,
    )
    selection = select_metrics(pm, include=tuple(metrics), exclude=tuple(skip_metrics))
    benchmark = load_config(config, pm=pm)
    plan = plan_evaluation(
        config=benchmark, pm=pm, track_name=track, methods=tuple(methods),
        checkpoint=Path(checkpoint) if checkpoint is not None else None,
        runs_root=Path(runs_root) if runs_root is not None else None, shard=(0, 1), device=device,
    )
    store, predictions_dir = open_results_store(
        Path(results) if results is not None else None, reads=[benchmark.path, *plan.inputs()],
        save_predictions=save_predictions,
    )
    with store:
        rows = [outcome.as_row() for outcome in run_evaluation(
            plan, pm=pm, store=store, settings=settings, force=force, predictions_dir=predictions_dir, metrics=selection,
            **({"progress": progress_bar} if progress else {}),
        )]
    columns = ["method", "track", "subject", "status", *result_columns(pm, selection)]
    return pd.DataFrame(rows, columns=columns)


def results(
    track: str | None = None,
    *,
    results: str | Path | None = None,
    pm: PluginManager | None = None,
) -> pd.DataFrame:
    """The stored rows as a tidy DataFrame: one row per track × board row × subject.

    Columns: ``track, label`` (the row's label on the board, e.g. ``trilinear`` or
    ``trigan (ckpt 1a2b3c4d)``, ``†`` marking rows scored from submitted files),
    ``method, origin`` (``plugin`` or ``external``), ``run_key`` (the fold group on a
    cross-validation track), ``fold`` (or None), ``subject`` and every metric column. The
    rows are those the boards are built from (:func:`srbench.leaderboard.board.build_boards`),
    so a mean over a label's subjects is the board's mean. The store (default
    ``results/results.sqlite``) is opened read-only; ``track`` (default: every track) must
    be one of its tracks.
    """
    import pandas as pd

    from srbench.errors import unknown_name
    from srbench.leaderboard.board import build_boards
    from srbench.results.store import ResultsStore

    pm = _plugin_manager(pm)
    with ResultsStore(Path(results) if results is not None else None, read_only=True) as store:
        boards = build_boards(store, pm=pm)
    if track is not None and track not in {board.track for board in boards}:
        raise unknown_name(f"track in {results or 'results/results.sqlite'}", track, [board.track for board in boards])
    rows: list[dict[str, Any]] = []
    columns: list[str] = []
    for board in boards:
        if track is not None and board.track != track:
            continue
        columns += [c for c in board.metrics if c not in columns]
        for entry in board.entries:
            subjects = sorted({s for series in entry.values.values() for s in series.index})
            for subject in subjects:
                row = {"track": board.track, "label": entry.label, "method": entry.method,
                       "origin": "external" if entry.external is not None else "plugin", "run_key": entry.run_key,
                       "fold": entry.folds.get(subject), "subject": subject}
                row.update({metric: float(series[subject]) for metric, series in entry.values.items() if subject in series.index})
                rows.append(row)
    return pd.DataFrame(rows, columns=["track", "label", "method", "origin", "run_key", "fold", "subject", *columns])


def score(
    track: str,
    predictions: str | Path,
    *,
    name: str,
    description: str = "",
    url: str | None = None,
    allow_missing: bool = False,
    results: str | Path | None = None,
    config: str | Path | None = None,
    force: bool = False,
    save_predictions: bool = False,
    derivatives: str | Path | None = None,
    pm: PluginManager | None = None,
) -> pd.DataFrame:
    """Score a folder of SR volumes made outside srbench on ``track`` and store them as
    external rows labelled ``name`` (``srbench score``; docs/external.md).

    Returns the same DataFrame as :func:`evaluate`: one row per subject with the status
    (``ok``, or ``skipped`` for files scored before, with their stored values) and every
    metric column. Every file is checked before anything is scored; a bad one raises an
    :class:`~srbench.errors.InputError` and nothing is stored.
    """
    import pandas as pd

    from srbench.config import load_config
    from srbench.evaluation import open_results_store
    from srbench.measurement import result_columns
    from srbench.external.scoring import check_submission, plan_scoring, run_scoring

    pm = _plugin_manager(pm)
    submission = check_submission(name, description=description, url=url, pm=pm)
    benchmark = load_config(config, pm=pm)
    plan = plan_scoring(config=benchmark, pm=pm, track_name=track, predictions_dir=Path(predictions),
                        submission=submission, allow_missing=allow_missing)
    store, figures_dir = open_results_store(Path(results) if results is not None else None,
                                            reads=[benchmark.path, *plan.inputs()], save_predictions=save_predictions)
    with store:
        outcomes = run_scoring(plan, pm=pm, store=store, force=force, predictions_dir=figures_dir,
                               derivatives=Path(derivatives) if derivatives is not None else None)
    columns = ["method", "track", "subject", "status", *result_columns(pm)]
    return pd.DataFrame([outcome.as_row() for outcome in outcomes], columns=columns)
