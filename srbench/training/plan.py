"""What ``srbench train`` will run: one training job per run directory, planned and checked first.

A track with a ``train`` dataset gives one job. A cross-validation track (``kind = "cv"``)
gives one job per fold (or the one fold asked for), each training on every subject but
the fold's held-out one, in ``<run dir>/fold-<k>/``. Every job's configuration and run
directory are checked before the first one starts, so a mistake in fold 4 does not
surface after folds 1 to 3 have trained for an hour.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench import capabilities
from srbench.errors import InputError
from srbench.folds import Fold, select_folds, track_folds
from srbench.grid import integer_scale
from srbench.interfaces import SubjectFile, Trainer

if TYPE_CHECKING:
    from srbench.config import BenchmarkConfig, TrackSpec
    from srbench.plugins import PluginManager


@dataclasses.dataclass(frozen=True)
class TrainingJob:
    """One training run.

    Attributes:
        track: the track whose data it trains on.
        fold: the cross-validation fold (None on a track without folds).
        config: the resolved, validated training configuration (``config.fold`` is the
            fold number, 0 without folds).
        run_dir: where it writes (config.json, checkpoints, model.safetensors).
        subjects: the training volumes' files.
    """

    track: TrackSpec
    fold: Fold | None
    config: Any
    run_dir: Path
    subjects: tuple[SubjectFile, ...]

    def describe(self) -> str:
        """One line for stderr: what trains on what, where."""
        fold = f" fold {self.fold.number}/{self.fold.count} (held out: {self.fold.describe_held_out()})" if self.fold else ""
        dataset = self.track.training_dataset
        return (
            f"training {self.config.method} (preset {self.config.preset}) on track {self.track.name}{fold}: "
            f"{len(self.subjects)} volume(s) of dataset '{dataset}', degradation {self.track.degradation}, "
            f"scale {tuple(self.config.scale)} → {self.run_dir}"
        )


def default_preset(trainer: Trainer) -> str:
    """The trainer's ``default_preset`` attribute, else ``cpu`` when it has one, else its first preset."""
    preset = capabilities.default_preset(trainer)
    if preset:
        return preset
    return "cpu" if "cpu" in trainer.presets else next(iter(trainer.presets))


def trainable_track(config: BenchmarkConfig, name: str) -> TrackSpec:
    """The one track ``name`` selects, which must have training data.

    Raises:
        InputError: ``name`` selects several tracks, or a track without a ``train``
            dataset that is not a cross-validation track.
    """
    tracks = config.select_tracks(name)
    if len(tracks) != 1:
        raise InputError(f"--track {name}: selects {len(tracks)} tracks; training needs exactly one (a track name)")
    spec = tracks[0]
    if spec.training_dataset is None:
        trainable = sorted(t.name for t in config.tracks.values() if t.training_dataset)
        raise InputError(
            f"--track {spec.name}: has no training dataset (no `train` in {config.path}); "
            f"tracks with one: {', '.join(trainable) or 'none'}"
        )
    return spec


def plan_training(
    *,
    trainer: Trainer,
    config: BenchmarkConfig,
    pm: PluginManager,
    track_name: str,
    preset: str,
    overrides: Mapping[str, Any],
    run_dir: Path | None,
    fold: int | None,
    resume: bool,
) -> list[TrainingJob]:
    """Resolve and check every job of ``srbench train`` (InputError on the first problem).

    Args:
        trainer: the method's :class:`~srbench.interfaces.Trainer`.
        config: the parsed datasets.toml.
        pm: the plugin manager supplying readers and degradations.
        track_name: the track to train on.
        preset: the trainer's preset.
        overrides: configuration fields set on the command line (``scale`` and ``fold``
            come from the track and are refused here).
        run_dir: the run directory (default ``runs/METHOD-PRESET-TRACK``); a
            cross-validation track puts fold ``k`` in its ``fold-k`` sub-directory.
        fold: train only this fold (1-based) of a cross-validation track.
        resume: continue runs that have a checkpoint (each fold separately).
    """
    from srbench.training.config import resolve_config
    from srbench.training.loop import check_run_dir
    from srbench.runs import default_run_dir

    for field in ("scale", "fold"):
        if field in overrides:
            raise InputError(f"--set {field}: the {field} comes from the track (datasets.toml; --fold for a cv track)")
    spec = trainable_track(config, track_name)
    if fold is not None and not spec.cross_validated:
        raise InputError(f"--fold {fold}: track '{spec.name}' is of kind '{spec.kind}' and has no folds")
    base = Path(run_dir) if run_dir is not None else default_run_dir(trainer.name, preset, spec.name)
    scale = integer_scale(spec.scale, source=f"track '{spec.name}' scale")
    if spec.cross_validated:
        splits: list[tuple[Fold | None, tuple[SubjectFile, ...], Path]] = [
            (f, f.train, base / f.directory) for f in select_folds(track_folds(config, spec, pm), fold, track=spec.name)
        ]
    else:
        splits = [(None, tuple(config.subjects(str(spec.train), pm)), base)]
    jobs = []
    for fold_spec, subjects, directory in splits:
        values = {**overrides, "scale": scale, "fold": fold_spec.number if fold_spec else 0}
        resolved = resolve_config(trainer, preset=preset, overrides=values, track=spec.name)
        check_run_dir(directory, resume=resume, config=resolved)
        jobs.append(TrainingJob(track=spec, fold=fold_spec, config=resolved, run_dir=directory, subjects=subjects))
    return jobs


def run_job(
    job: TrainingJob, *, trainer: Trainer, pm: PluginManager, resume: bool, device: str, progress: bool
) -> Path:
    """Train one job (loads its volumes, then :func:`~srbench.training.loop.run_training`);
    return its ``model.safetensors``."""
    from srbench.config.document import configure
    from srbench.io.nifti import load_volume
    from srbench.training.loop import run_training

    degradation = configure(pm.get("degradation", job.track.degradation), job.track.degradation_options)
    volumes = [load_volume(subject.path) for subject in job.subjects]
    return run_training(
        trainer=trainer, config=job.config, volumes=volumes, degradation=degradation, run_dir=job.run_dir,
        resume=resume, device=device, progress=progress, data_files=[subject.path for subject in job.subjects],
        plugin_versions=pm.versions(),
    )


def run_jobs(
    jobs: Sequence[TrainingJob],
    *,
    trainer: Trainer,
    pm: PluginManager,
    resume: bool,
    device: str,
    progress: bool,
    on_start: Callable[[TrainingJob], None] = lambda job: None,
) -> Iterator[Path]:
    """Train ``jobs`` one after the other (``on_start(job)`` before each); yield each
    finished job's ``model.safetensors``."""
    for job in jobs:
        on_start(job)
        yield run_job(job, trainer=trainer, pm=pm, resume=resume, device=device, progress=progress)


def is_main_process() -> bool:
    """False in the non-zero ranks of a torchrun job (only rank 0 reports)."""
    return os.environ.get("RANK", "0") == "0"
