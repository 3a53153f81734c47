"""Evaluation of methods on tracks: HR → degrade → predict → metrics → results store.

One subject is processed at a time (HR, LR and one SR volume in memory); with
``jobs > 1`` subjects are spread over worker processes, each writing its own rows to
the (concurrency-safe) results store. Everything a row depends on is recorded in the
run record: method, checkpoint sha256, versions, git commit, degradation, scale,
intensity convention, config, and the sha256 of each input file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from srbench.config import BenchmarkConfig, TrackSpec
from srbench.data.pairs import make_pair
from srbench.errors import InputError, PluginError, ScaleNotSupported, unknown_name
from srbench.folds import LEAVE_ONE_OUT, Fold, subject_folds
from srbench.interfaces import InferenceSettings, Predictor, SubjectFile
from srbench.io.checkpoint import checkpoint_budget, checkpoint_config
from srbench.io.nifti import save_volume
from srbench.measurement import compute_metrics, result_columns
from srbench.models import load_predictor, predict_checked
from srbench.plugins import PluginManager
from srbench.scale_path import choose_path, plan_record
from srbench.stage_times import StageTimes
from srbench.tiling import predictor_plan
from srbench.runs import resolve_checkpoint, resolve_fold_checkpoint

if TYPE_CHECKING:
    from srbench.results.store import ResultsStore


@dataclasses.dataclass(frozen=True)
class MethodRun:
    """A method ready to evaluate on one track: its model name, weights and run key."""

    method: str
    checkpoint: Path | None
    run_key: str
    checkpoint_sha256: str | None = None


@dataclasses.dataclass(frozen=True)
class SubjectOutcome:
    """What happened to one method × subject × track."""

    method: str
    track: str
    subject: str
    status: str  # "ok", "skipped" (already stored), "not-applicable"
    values: dict[str, float]
    detail: str = ""
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    """wall seconds per stage (:mod:`srbench.stage_times`); a subject's ``load`` and
    ``degrade`` are counted once, on its first computed outcome"""

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"method": self.method, "track": self.track, "subject": self.subject, "status": self.status}
        row.update(self.values)
        return row


#: the SLURM job-array variables ``--shard auto`` reads
SLURM_ARRAY_VARIABLES = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_STEP")


def parse_shard(text: str | None, *, environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``"i/n"`` (1-based ``i``) → ``(i - 1, n)``; ``None`` → ``(0, 1)``; ``"auto"`` → the
    SLURM array task's shard (:func:`shard_from_slurm`, reading ``environ``, default
    ``os.environ``)."""
    if text is None:
        return 0, 1
    if text.strip().lower() == "auto":
        return shard_from_slurm(os.environ if environ is None else environ)
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--shard {text!r}: expected i/n, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise InputError(f"--shard {text!r}: need 1 <= i <= n")
    return i - 1, n


def shard_from_slurm(environ: Mapping[str, str]) -> tuple[int, int]:
    """The 0-based shard and shard count of a SLURM job-array task.

    Shard ``(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP`` of
    ``SLURM_ARRAY_TASK_COUNT``; MIN defaults to 0 and STEP to 1 when unset, so
    ``--array=0-7``, ``--array=1-8`` and ``--array=0-14:2`` all give shards 0..7 of 8.

    Raises:
        InputError: a variable is missing, not an integer, or inconsistent with the
            others (e.g. an array given as a list ``--array=1,5,9``, whose ids are not
            one evenly spaced range).
    """
    values: dict[str, int] = {}
    for name in SLURM_ARRAY_VARIABLES:
        raw = environ.get(name)
        if raw is None or not raw.strip():
            continue
        try:
            values[name] = int(raw)
        except ValueError:
            raise InputError(f"--shard auto: {name}={raw!r} is not an integer") from None
    for name in SLURM_ARRAY_VARIABLES[:2]:
        if name not in values:
            raise InputError(
                f"--shard auto: {name} is not set (not a SLURM job-array task; submit with sbatch --array, or give --shard i/n)"
            )
    task, count = values["SLURM_ARRAY_TASK_ID"], values["SLURM_ARRAY_TASK_COUNT"]
    first, step = values.get("SLURM_ARRAY_TASK_MIN", 0), values.get("SLURM_ARRAY_TASK_STEP", 1)
    described = f"SLURM_ARRAY_TASK_ID={task}, SLURM_ARRAY_TASK_COUNT={count}, SLURM_ARRAY_TASK_MIN={first}, SLURM_ARRAY_TASK_STEP={step}"
    if count < 1 or step < 1:
        raise InputError(f"--shard auto: inconsistent SLURM array ({described}): count and step must be at least 1")
    offset, remainder = divmod(task - first, step)
    if task < first or remainder or offset >= count:
        raise InputError(
            f"--shard auto: inconsistent SLURM array ({described}): the task id is not one of the {count} evenly spaced ids "
            "from the minimum; use --array=A-B[:STEP] (not a list), or give --shard i/n"
        )
    return offset, count


def shard_subjects(subjects: list[SubjectFile], *, shard: tuple[int, int]) -> list[SubjectFile]:
    """The subjects of shard ``i`` of ``n`` (round robin over sorted ids)."""
    index, count = shard
    return subjects[index::count]


@dataclasses.dataclass
class TrackJob:
    """Everything a worker needs to evaluate subjects of one track (picklable)."""

    track: TrackSpec
    runs: list[MethodRun]
    results_path: Path
    settings: InferenceSettings
    force: bool
    predictions_dir: Path | None
    figure_subject: str | None = None
    disabled_plugins: tuple[str, ...] = ()
    #: write every SR volume as BIDS derivatives here (:mod:`srbench.derivatives`); None: not at all
    derivatives_dir: Path | None = None
    #: the test dataset's contrast (the derivatives' BIDS suffix)
    contrast: str = ""
    #: the metric plugins computed (None: all; :func:`srbench.measurement.select_metrics`)
    metrics: tuple[str, ...] | None = None


def evaluate_subject(job: TrackJob, subject: SubjectFile, *, pm: PluginManager, predictors: dict[str, Predictor], store: ResultsStore) -> list[SubjectOutcome]:
    """Evaluate every method of ``job`` on one subject; store the rows; return outcomes."""
    return list(iter_subject(job, subject, pm=pm, predictors=predictors, store=store))


def iter_subject(job: TrackJob, subject: SubjectFile, *, pm: PluginManager, predictors: dict[str, Predictor],
                 store: ResultsStore) -> Iterator[SubjectOutcome]:
    """Evaluate every method of ``job`` on one subject, yielding each outcome as soon as
    its rows are stored (methods already stored first, as ``skipped`` with their values)."""
    columns = result_columns(pm, job.metrics)
    track = job.track
    pending = [
        run for run in job.runs if job.force or not store.has_subject(run.run_key, track.name, subject.subject, columns)
    ]
    for run in job.runs:
        if run not in pending:
            yield SubjectOutcome(run.method, track.name, subject.subject, "skipped",
                                 store.subject_values(run.run_key, track.name, subject.subject), "already stored")
    if not pending:
        return
    times = StageTimes()
    pair = make_pair(track, subject, pm=pm, times=times)
    hr, lr = pair.hr, pair.lr
    inputs = {str(subject.path): pair.sha256}
    for run in pending:
        predictor = predictors[run.method]
        try:
            with times.stage("predict"):
                sr = predict_checked(
                    predictor, lr, scale=track.scale, settings=job.settings, method=run.method,
                    checkpoint=run.checkpoint, subject=f"subject '{subject.subject}' ({subject.path})",
                )
        except ScaleNotSupported as exc:
            store.mark_not_applicable(run.run_key, method=run.method, track=track.name, reason=str(exc))
            yield SubjectOutcome(run.method, track.name, subject.subject, "not-applicable", {}, str(exc), times.seconds)
            times = StageTimes()
            continue
        if tuple(sr.shape) != tuple(hr.shape):
            raise PluginError(f"method '{run.method}' returned shape {sr.shape} for {subject.path}, expected {hr.shape}")
        values = compute_metrics(pm, sr=sr.data, hr=hr.data, affine=hr.affine, times=times, selection=job.metrics)
        path = choose_path(predictor, track.scale)  # the path predict_checked took
        plan = predictor_plan(predictor, lr.shape, scale=path.predict_scale, settings=job.settings)
        with times.stage("store"):
            store.add_subject(run.run_key, track=track.name, subject=subject.subject, values=values, inputs=inputs,
                              force=job.force, plan=plan_record(plan.record() if plan is not None else None, path))
        if job.predictions_dir is not None and subject.subject == job.figure_subject:
            with times.stage("save"):
                save_prediction(job.predictions_dir, track=track.name, subject=subject.subject, method=run.method, sr=sr, hr=hr)
        if job.derivatives_dir is not None:
            from srbench.derivatives import track_provenance, write_derivative

            with times.stage("save"):
                write_derivative(job.derivatives_dir, method=run.method, track=track.name, subject=subject.subject,
                                 contrast=job.contrast, volume=sr,
                                 provenance=track_provenance(track, origin="plugin", source_sha256=pair.sha256,
                                                             checkpoint_sha256=run.checkpoint_sha256))
        yield SubjectOutcome(run.method, track.name, subject.subject, "ok", values, seconds=times.seconds)
        times = StageTimes()


def save_prediction(root: Path, *, track: str, subject: str, method: str, sr: Any, hr: Any) -> None:
    """Keep an SR volume (and its HR reference) for the leaderboard figures."""
    from srbench.predictions import prediction_path, reference_path

    target = prediction_path(root, track=track, method=method, subject=subject)
    target.parent.mkdir(parents=True, exist_ok=True)
    reference = reference_path(root, track=track, subject=subject)
    if not reference.exists():
        save_volume(hr, reference)
    save_volume(sr, target)


def _load_predictors(job: TrackJob, pm: PluginManager, *, cache: dict[tuple[str, Path | None, str], Any] | None = None) -> dict[str, Any]:
    """The predictor of every run of ``job``, taken from ``cache`` (keyed by method,
    checkpoint and device) when it holds one, and added to it."""
    cache = {} if cache is None else cache
    for run in job.runs:
        key = (run.method, run.checkpoint, job.settings.device)
        if key not in cache:
            cache[key] = load_predictor(pm.get("model", run.method), checkpoint=run.checkpoint, device=job.settings.device)
    return {run.method: cache[(run.method, run.checkpoint, job.settings.device)] for run in job.runs}


#: a worker process's plugin manager and loaded predictors, kept across the subjects it is given
_WORKER_STATE: dict[str, Any] = {}


def _worker(job: TrackJob, subjects: list[SubjectFile], threads: int) -> list[SubjectOutcome]:
    """Process-pool entry: evaluate ``subjects``; the worker loads each predictor once
    (its receptive field and memory are probed once) and reuses it for later subjects."""
    torch.set_num_threads(threads)
    from srbench.plugins import get_plugin_manager
    from srbench.results.store import ResultsStore

    if _WORKER_STATE.get("disabled") != job.disabled_plugins:
        _WORKER_STATE.update(disabled=job.disabled_plugins, pm=get_plugin_manager(disabled=job.disabled_plugins), predictors={})
    pm = _WORKER_STATE["pm"]
    predictors = _load_predictors(job, pm, cache=_WORKER_STATE["predictors"])
    store = ResultsStore(job.results_path)
    outcomes: list[SubjectOutcome] = []
    for subject in subjects:
        outcomes.extend(evaluate_subject(job, subject, pm=pm, predictors=predictors, store=store))
    return outcomes


def run_track(
    job: TrackJob,
    subjects: list[SubjectFile],
    *,
    pm: PluginManager,
    store: ResultsStore,
    jobs: int = 1,
    on_outcome: Callable[[SubjectOutcome], None] = lambda outcome: None,
    loaded: Mapping[tuple[str, Path | None], Any] | None = None,
) -> Iterator[SubjectOutcome]:
    """Evaluate ``subjects`` of one track, in this process or ``jobs`` worker processes;
    ``on_outcome`` gets each method × subject outcome as it is stored (in this process;
    from workers, when the worker's subject is finished), before it is yielded.

    ``loaded`` holds predictors already loaded by ``(method, checkpoint)`` (from
    :func:`plan_evaluation`); the others are loaded here, once per process.
    """
    if jobs <= 1 or len(subjects) <= 1:
        if loaded is not None and all((run.method, run.checkpoint) in loaded for run in job.runs):
            predictors = {run.method: loaded[(run.method, run.checkpoint)] for run in job.runs}
        else:
            predictors = _load_predictors(job, pm)
        for subject in subjects:
            for outcome in iter_subject(job, subject, pm=pm, predictors=predictors, store=store):
                on_outcome(outcome)
                yield outcome
        return
    jobs = min(jobs, len(subjects))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_worker, job, [subject], threads) for subject in subjects]
        for future in futures:
            for outcome in future.result():
                on_outcome(outcome)
                yield outcome


def resolve_method_checkpoint(model: Any, *, checkpoint: Path | None, track: TrackSpec, config: BenchmarkConfig, runs_root: Path | None, pm: PluginManager, notes: list[str] | None = None) -> Path | None:
    """The weights evaluated for ``model`` on ``track`` (the models trained on its training
    track); a note on the weights chosen goes to ``notes`` when given."""
    return resolve_checkpoint(model, checkpoint=checkpoint, track=track.training_track(config), runs_root=runs_root, pm=pm,
                              notes=notes)


@dataclasses.dataclass
class TrackPlan:
    """One track of an evaluation, with every input found and checked.

    A cross-validation track has one plan per fold: the fold's held-out subject and each
    method's model of that fold.

    Attributes:
        track: the track.
        subjects: its test subjects (after sharding), each a regular NIfTI file.
        methods: ``(model, checkpoint)`` pairs to evaluate on it (checkpoint None for
            methods without weights).
        fold: the cross-validation fold (None on a track without folds).
        figure_subject: the subject whose volumes the figure shows, when it is one of
            ``subjects`` (on shard 1; the chosen one, else the first of the track).
        contrast: the test dataset's contrast (the BIDS suffix of derivatives).
    """

    track: TrackSpec
    subjects: list[SubjectFile]
    methods: list[tuple[Any, Path | None]]
    fold: Fold | None = None
    #: the subject whose SR volumes are kept for the board's figure (None: none of this plan's)
    figure_subject: str | None = None
    #: the test dataset's contrast
    contrast: str = ""


@dataclasses.dataclass
class EvaluationPlan:
    """Everything ``srbench evaluate`` will do, decided and validated before anything is written.

    Attributes:
        tracks: the tracks with work to do.
        notes: one line per track or method skipped and why (shown on stderr).
        predictors: loaded predictors by ``(method, checkpoint)``; loading them is how a
            checkpoint is checked (readable, safetensors, of this method, finite, fitting).
    """

    tracks: list[TrackPlan]
    notes: list[str]
    predictors: dict[tuple[str, Path | None], Any]

    def inputs(self) -> list[Path]:
        """Every file the evaluation reads (subject volumes and checkpoints)."""
        files = [subject.path for plan in self.tracks for subject in plan.subjects]
        files += [weights for plan in self.tracks for _, weights in plan.methods if weights is not None]
        return files


def plan_evaluation(
    *,
    config: BenchmarkConfig,
    pm: PluginManager,
    track_name: str,
    methods: Sequence[str],
    checkpoint: Path | None,
    runs_root: Path | None,
    shard: tuple[int, int],
    device: str,
    figure_subject: str | None = None,
) -> EvaluationPlan:
    """Find and check every input of an evaluation; raise an InputError when anything is wrong.

    ``figure_subject`` picks the subject whose volumes are kept for each track's figure
    (default: each track's first subject); it must be a subject of at least one selected
    track, and tracks without it keep their first subject.

    Checks, in order: a metric is enabled; every method name is registered (with a
    did-you-mean); ``checkpoint`` goes with exactly one method that takes weights; each
    selected track's subjects exist (tracks whose data root is unset are skipped unless
    named explicitly); each method's weights are found and load; and there is something
    to evaluate at all.
    """
    from srbench.config import DataUnavailable

    if not pm.all("metric"):
        raise InputError("no metric is enabled (all metric plugins are disabled): nothing could be scored")
    if checkpoint is not None and len(methods) != 1:
        raise InputError("--checkpoint needs exactly one --method")
    explicit = bool(methods)
    models = [pm.get("model", name) for name in (methods or pm.names("model"))]
    tracks = config.select_tracks(track_name)
    notes: list[str] = []
    plans: list[TrackPlan] = []
    weight_notes: list[str] = []
    offered: set[str] = set()
    predictors: dict[tuple[str, Path | None], Any] = {}
    for track in tracks:
        try:
            subjects = config.subjects(track.test, pm)
        except DataUnavailable as exc:
            if track_name == track.name:
                raise
            notes.append(f"skipping track '{track.name}': {exc}")
            continue
        from srbench.io.paths import regular_file

        for subject in subjects:
            regular_file(subject.path, what="NIfTI volume")
        every = subjects
        subjects = shard_subjects(subjects, shard=shard)
        if not subjects:
            notes.append(f"track '{track.name}': no subject in shard {shard[0] + 1}/{shard[1]}")
            continue
        if track.cross_validated:
            if checkpoint is not None:
                problem = (
                    f"--checkpoint: track '{track.name}' is a cross-validation track with one model per fold, "
                    f"found in the fold directories under {runs_root or 'runs'}/"
                )
                if track_name == track.name:
                    raise InputError(f"{problem} (drop --checkpoint)")
                notes.append(f"skipping track '{track.name}': {problem}")
                continue
            held_out = {subject.subject for subject in subjects}
            splits = [(f, [s for s in f.held_out if s.subject in held_out])
                      for f in subject_folds(every, track=track.name, folds=track.folds or LEAVE_ONE_OUT)
                      if any(s.subject in held_out for s in f.held_out)]
        else:
            splits = [(None, subjects)]
        chosen_per_split: list[list[tuple[Any, Path | None]]] = [[] for _ in splits]
        for model in models:
            try:
                weights = [
                    resolve_method_checkpoint(model, checkpoint=checkpoint, track=track, config=config, runs_root=runs_root, pm=pm,
                                              notes=weight_notes)
                    if fold is None
                    else resolve_fold_checkpoint(model, track=track.name, fold=fold.number, held_out=fold.held_out, pm=pm,
                                                 runs_root=runs_root, notes=weight_notes)
                    for fold, _ in splits
                ]
            except InputError as exc:
                if explicit:
                    raise
                notes.append(f"skipping method '{model.name}' on track '{track.name}': {exc}")
                continue
            for chosen, path in zip(chosen_per_split, weights, strict=True):
                key = (model.name, path)
                if key not in predictors:
                    predictors[key] = load_predictor(model, checkpoint=path, device=device)
                chosen.append((model, path))
        if not any(chosen_per_split):
            notes.append(f"track '{track.name}': no method to evaluate")
            continue
        ids = [s.subject for s in every]
        figure = figure_subject if figure_subject in ids else ids[0]
        contrast = config.dataset(track.test).contrast
        plans += [
            TrackPlan(track=track, subjects=fold_subjects, methods=chosen, fold=fold, contrast=contrast,
                      figure_subject=figure if figure in {s.subject for s in fold_subjects} else None)
            for (fold, fold_subjects), chosen in zip(splits, chosen_per_split, strict=True)
        ]
        offered.update(ids)
    if not plans:
        detail = "; ".join(notes) if notes else "no track selected"
        raise InputError(f"nothing to evaluate for --track {track_name} ({detail})")
    notes = list(dict.fromkeys(weight_notes)) + notes  # each shipped-weights note once
    if figure_subject is not None and figure_subject not in offered:
        raise unknown_name(f"--figure-subject: subject of --track {track_name}", figure_subject, offered)
    return EvaluationPlan(tracks=plans, notes=notes, predictors=predictors)


def inference_record(settings: InferenceSettings) -> dict[str, Any]:
    """The inference settings that can change results (the device does not)."""
    return {k: v for k, v in dataclasses.asdict(settings).items() if k != "device"}


def open_results_store(results_path: Path | None, *, reads: Sequence[Path], save_predictions: bool) -> tuple[Any, Path | None]:
    """Check where an evaluation writes, then open the store; return it and the predictions folder.

    ``results_path`` None means :data:`srbench.results.store.DEFAULT_RESULTS_PATH` (its folder is
    created). The store must not be one of ``reads`` (through any link) and its folder
    must be writable; the predictions folder (beside the store) too when it exists.
    """
    from srbench.predictions import default_predictions_dir
    from srbench.io.paths import check_output_file, check_writable_dir, ensure_dir
    from srbench.results.store import DEFAULT_RESULTS_PATH, ResultsStore

    store_path = Path(results_path) if results_path is not None else DEFAULT_RESULTS_PATH
    if results_path is None:
        ensure_dir(store_path.parent, what="results folder")
    check_output_file(store_path, inputs=reads, what="results store")
    predictions_dir = default_predictions_dir(store_path) if save_predictions else None
    if predictions_dir is not None and predictions_dir.exists():
        check_writable_dir(predictions_dir, what="predictions folder")
    return ResultsStore(store_path), predictions_dir


def _no_progress(label: str, *, total: int) -> contextlib.AbstractContextManager[Callable[..., None]]:
    return contextlib.nullcontext(lambda text="": None)


def run_evaluation(
    plan: EvaluationPlan,
    *,
    pm: PluginManager,
    store: ResultsStore,
    settings: InferenceSettings,
    force: bool = False,
    jobs: int = 1,
    predictions_dir: Path | None = None,
    disabled_plugins: tuple[str, ...] = (),
    progress: Callable[..., contextlib.AbstractContextManager[Callable[..., None]]] = _no_progress,
    derivatives_dir: Path | None = None,
    metrics: tuple[str, ...] | None = None,
) -> Iterator[SubjectOutcome]:
    """Run a planned evaluation: register each track and run in ``store``, evaluate every
    subject, yield one :class:`SubjectOutcome` per method × subject as it is stored.

    Args:
        plan: from :func:`plan_evaluation` (every input found and checked).
        pm: the plugin manager (metrics, degradations, models).
        store: the :class:`~srbench.results.store.ResultsStore` written to.
        settings: the inference settings (recorded in each run).
        force: recompute subjects already stored.
        jobs: worker processes per track.
        predictions_dir: where to keep the figure subject's SR volumes (None: nowhere).
        disabled_plugins: plugins the worker processes skip too.
        derivatives_dir: write every SR volume as BIDS derivatives there (None: nowhere).
        metrics: the metric plugins to compute (:func:`srbench.measurement.select_metrics`; None: all). A
            selection is recorded in each run's config, so its rows are their own run.
        progress: ``progress(label, total=n)`` → a context manager yielding an
            ``advance(text)`` function, called once per method × subject (e.g.
            :func:`srbench.progress.progress_bar`).
    """
    from srbench.metric_columns import declared_columns
    from srbench.metrics.convention import CONVENTION_NAME
    from srbench.results.store import METRIC_SELECTION_KEY, RunRecord, TrackRecord

    store.register_columns(declared_columns(pm).values())
    for track_plan in plan.tracks:
        track, subjects, fold = track_plan.track, track_plan.subjects, track_plan.fold
        store.register_track(TrackRecord(name=track.name, kind=track.kind, test=track.test, train=track.train,
                                         primary_metric=track.primary_metric))
        runs = []
        for model, weights in track_plan.methods:
            record = RunRecord.create(
                method=model.name,
                degradation=track.degradation,
                intensity_convention=CONVENTION_NAME,
                scale=track.scale,
                config={"training": checkpoint_config(weights),
                        **({"budget": budget} if (budget := checkpoint_budget(weights)) else {}),
                        "inference": inference_record(settings),
                        "degradation": {"name": track.degradation, "options": dict(track.degradation_options),
                                        "seed": track.seed},
                        **({"cross_validation": fold.record()} if fold is not None else {}),
                        **({METRIC_SELECTION_KEY: {"metrics": list(metrics)}} if metrics is not None else {})},
                checkpoint=weights,
                plugin_versions=pm.versions(),
            )
            runs.append(MethodRun(method=model.name, checkpoint=weights, run_key=store.register_run(record),
                                  checkpoint_sha256=record.checkpoint_sha256))
        job = TrackJob(
            track=track, runs=runs, results_path=store.path, settings=settings, force=force,
            predictions_dir=predictions_dir, figure_subject=track_plan.figure_subject, disabled_plugins=disabled_plugins,
            derivatives_dir=derivatives_dir, contrast=track_plan.contrast, metrics=metrics,
        )
        label = f"{track.name}{f' fold {fold.number}/{fold.count}' if fold else ''}: {len(subjects)} subject(s) × {len(runs)} method(s)"
        with progress(label, total=len(subjects) * len(runs)) as advance:
            yield from run_track(job, subjects, pm=pm, store=store, jobs=jobs, loaded=plan.predictors,
                                 on_outcome=lambda o: advance(f"{o.method} on {o.subject}: {o.status}"))
