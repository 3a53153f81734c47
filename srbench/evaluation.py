"""Evaluation of methods on tracks: HR → degrade → predict → metrics → results store.

One subject is processed at a time (HR, LR and one SR volume in memory); with
``jobs > 1`` subjects are spread over worker processes, each writing its own rows to
the (concurrency-safe) results store. Everything a row depends on is recorded in the
run record: method, checkpoint sha256, versions, git commit, degradation, scale,
intensity convention, config, and the sha256 of each input file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from srbench.config import BenchmarkConfig, TrackSpec
from srbench.data.pairs import degrade_volume
from srbench.errors import InputError, ScaleNotSupported
from srbench.interfaces import InferenceSettings, SubjectFile
from srbench.io.hashing import sha256_file
from srbench.io.nifti import load_volume, save_volume
from srbench.models import load_predictor, resolve_checkpoint


@dataclasses.dataclass(frozen=True)
class MethodRun:
    """A method ready to evaluate on one track: its model name, weights and run key."""

    method: str
    checkpoint: Path | None
    run_key: str


@dataclasses.dataclass(frozen=True)
class SubjectOutcome:
    """What happened to one method × subject × track."""

    method: str
    track: str
    subject: str
    status: str  # "ok", "skipped" (already stored), "not-applicable"
    values: dict[str, float]
    detail: str = ""

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"method": self.method, "track": self.track, "subject": self.subject, "status": self.status}
        row.update(self.values)
        return row


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` (1-based ``i``) → ``(i - 1, n)``; ``None`` → ``(0, 1)``."""
    if text is None:
        return 0, 1
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--shard {text!r}: expected i/n, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise InputError(f"--shard {text!r}: need 1 <= i <= n")
    return i - 1, n


def shard_subjects(subjects: list[SubjectFile], *, shard: tuple[int, int]) -> list[SubjectFile]:
    """The subjects of shard ``i`` of ``n`` (round robin over sorted ids)."""
    index, count = shard
    return subjects[index::count]


def metric_columns(pm: Any) -> list[str]:
    """Every output column of every registered metric."""
    return [column for metric in pm.all("metric") for column in metric.outputs]


def compute_metrics(pm: Any, *, sr: torch.Tensor, hr: torch.Tensor, affine: Any) -> dict[str, float]:
    """Apply the intensity convention, then every registered metric."""
    from srbench.metrics.convention import scale_pair

    sr01, hr01 = scale_pair(sr, hr)
    values: dict[str, float] = {}
    for metric in pm.all("metric"):
        values.update({k: float(v) for k, v in metric.compute(sr01, hr01, affine=affine).items()})
    return values


@dataclasses.dataclass
class TrackJob:
    """Everything a worker needs to evaluate subjects of one track (picklable)."""

    config_path: Path
    track: TrackSpec
    runs: list[MethodRun]
    results_path: Path
    settings: InferenceSettings
    force: bool
    predictions_dir: Path | None
    figure_subject: str | None = None
    disabled_plugins: tuple[str, ...] = ()


def evaluate_subject(job: TrackJob, subject: SubjectFile, *, pm: Any, predictors: dict[str, Any], store: Any) -> list[SubjectOutcome]:
    """Evaluate every method of ``job`` on one subject; store the rows; return outcomes."""
    columns = metric_columns(pm)
    track = job.track
    pending = [
        run for run in job.runs if job.force or not store.has_subject(run.run_key, track.name, subject.subject, columns)
    ]
    outcomes = [
        SubjectOutcome(run.method, track.name, subject.subject, "skipped", {}, "already stored")
        for run in job.runs
        if run not in pending
    ]
    if not pending:
        return outcomes
    hr_raw = load_volume(subject.path)
    degradation = pm.get("degradation", track.degradation)
    hr, lr = degrade_volume(hr_raw, degradation=degradation, scale=track.scale)
    inputs = {str(subject.path): sha256_file(subject.path)}
    for run in pending:
        predictor = predictors[run.method]
        try:
            sr = predictor.predict(lr, scale=track.scale, settings=job.settings)
        except ScaleNotSupported as exc:
            store.mark_not_applicable(run.run_key, method=run.method, track=track.name, reason=str(exc))
            outcomes.append(SubjectOutcome(run.method, track.name, subject.subject, "not-applicable", {}, str(exc)))
            continue
        if tuple(sr.shape) != tuple(hr.shape):
            raise InputError(f"method '{run.method}' returned shape {sr.shape} for {subject.path}, expected {hr.shape}")
        values = compute_metrics(pm, sr=sr.data, hr=hr.data, affine=hr.affine)
        store.add_subject(run.run_key, track=track.name, subject=subject.subject, values=values, inputs=inputs, force=job.force)
        if job.predictions_dir is not None and subject.subject == job.figure_subject:
            save_prediction(job.predictions_dir, track=track.name, subject=subject.subject, method=run.method, sr=sr, hr=hr)
        outcomes.append(SubjectOutcome(run.method, track.name, subject.subject, "ok", values))
    return outcomes


def save_prediction(root: Path, *, track: str, subject: str, method: str, sr: Any, hr: Any) -> None:
    """Keep an SR volume (and its HR reference) for the leaderboard figures."""
    from srbench.figures import prediction_path, reference_path

    target = prediction_path(root, track=track, method=method, subject=subject)
    target.parent.mkdir(parents=True, exist_ok=True)
    reference = reference_path(root, track=track, subject=subject)
    if not reference.exists():
        save_volume(hr, reference)
    save_volume(sr, target)


def _load_predictors(job: TrackJob, pm: Any) -> dict[str, Any]:
    return {
        run.method: load_predictor(pm.get("model", run.method), checkpoint=run.checkpoint, device=job.settings.device)
        for run in job.runs
    }


def _worker(job: TrackJob, subjects: list[SubjectFile], threads: int) -> list[SubjectOutcome]:
    """Process-pool entry: evaluate ``subjects`` in a fresh process."""
    torch.set_num_threads(threads)
    from srbench.plugins import get_plugin_manager
    from srbench.results import ResultsStore

    pm = get_plugin_manager(disabled=job.disabled_plugins)
    predictors = _load_predictors(job, pm)
    store = ResultsStore(job.results_path)
    outcomes: list[SubjectOutcome] = []
    for subject in subjects:
        outcomes.extend(evaluate_subject(job, subject, pm=pm, predictors=predictors, store=store))
    return outcomes


def run_track(
    job: TrackJob,
    subjects: list[SubjectFile],
    *,
    pm: Any,
    store: Any,
    jobs: int = 1,
    on_subject: Callable[[list[SubjectOutcome]], None] = lambda outcomes: None,
) -> Iterator[SubjectOutcome]:
    """Evaluate ``subjects`` of one track, in this process or ``jobs`` worker processes."""
    if jobs <= 1 or len(subjects) <= 1:
        predictors = _load_predictors(job, pm)
        for subject in subjects:
            outcomes = evaluate_subject(job, subject, pm=pm, predictors=predictors, store=store)
            on_subject(outcomes)
            yield from outcomes
        return
    jobs = min(jobs, len(subjects))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_worker, job, [subject], threads) for subject in subjects]
        for future in futures:
            outcomes = future.result()
            on_subject(outcomes)
            yield from outcomes


def checkpoint_sha256(path: Path | None) -> str | None:
    """sha256 of the weights file (``None`` for methods without weights)."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    return sha256_file(path) if path.is_file() else None


def checkpoint_config(path: Path | None) -> dict[str, Any]:
    """The training config stored in a safetensors checkpoint's metadata (empty if none)."""
    if path is None:
        return {}
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        return json.loads(metadata.get("config", "{}"))
    except Exception:  # noqa: BLE001 - the model's own load() reports bad checkpoints clearly
        return {}


def finite_or_none(value: float) -> float | str:
    """JSON-safe number: ``inf`` (identical volumes' PSNR) becomes the string "inf"."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def resolve_method_checkpoint(model: Any, *, checkpoint: Path | None, track: TrackSpec, config: BenchmarkConfig, runs_root: Path | None) -> Path | None:
    """The weights evaluated for ``model`` on ``track`` (the models trained on its training track)."""
    return resolve_checkpoint(model, checkpoint=checkpoint, track=track.training_track(config), runs_root=runs_root)
