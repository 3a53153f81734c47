"""The generic training loop shared by every learned method.

A method provides a :class:`~srbench.interfaces.Trainer` (configuration class, presets,
``build``) whose :class:`~srbench.interfaces.Algorithm` does one optimisation step; this
loop owns the rest: patch sampling, seeding, checkpoints, exact resume, logging,
progress and multi-process gradient averaging.

Multi-stage methods: a trainer may define ``prepare(config, *, volumes, degradation,
run_dir, resume, device, progress) -> dict``; the loop calls it after checking the run
directory and before ``build``, and passes the returned dict to ``build`` as keyword
arguments (ESRGAN-3D pre-trains its VGG there, itself with :func:`run_training` in a
sub-directory of the run).

Guard: after every step every parameter and buffer of the algorithm's modules must be
finite, and every loss the step reports must stay finite once it has been (a loss not
computed in a phase may be NaN until it is); otherwise the run stops with an error naming
the iteration, the last checkpoint (written only while everything was finite) is kept and
no model is written.

Determinism: nothing random carries over between iterations. Before iteration ``i`` the
global torch RNG is re-seeded and the step receives a fresh generator, both derived from
``(seed, i)``; the batch is a pure function of ``(seed, i)`` too. So a run stopped after
a checkpoint and resumed produces bitwise the same weights as an uninterrupted run (on
the CPU; on a GPU, as far as its kernels are deterministic).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from srbench import capabilities
from srbench.errors import InputError, SrbenchRuntimeError
from srbench.interfaces import Degradation, PatchBatch, Trainer, Volume
from srbench.io.atomic import write_text_atomic
from srbench.io.hashing import sha256_file
from srbench.nn.memory_format import apply_memory_format, memory_format_for
from srbench.provenance import utc_now
from srbench.training import distributed
from srbench.io.checkpoint import CHECKPOINT_FILE, MANIFEST_FILE, MODEL_FILE, load_checkpoint, restore_modules
from srbench.training.checkpoint import restore_optimizers, save_checkpoint
from srbench.training.config import RESUMABLE_FIELDS, config_to_dict, resume_conflicts
from srbench.training.lock import run_directory_lock
from srbench.training.logging import LossLog, ProgressDisplay, TensorBoardLog
from srbench.training.manifest import build_manifest, write_manifest
from srbench.training.patches import BatchPrefetcher, PatchSource
from srbench.training.seeding import derive_seed, make_generator

CONFIG_FILE = "config.json"
LOSSES_FILE = "losses.csv"


def _message(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class _StopRequest:
    """Turns the first Ctrl-C into "finish this iteration, checkpoint, stop"; a second one
    interrupts at once. Only installed in a single-process run on the main thread."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    @contextlib.contextmanager
    def installed(self, enabled: bool) -> Iterator[_StopRequest]:
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            if self.requested:
                signal.signal(signal.SIGINT, self._previous)
                raise KeyboardInterrupt
            self.requested = True
            _message("stopping after this iteration (Ctrl-C again to stop at once)")

        signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, self._previous)


def _prepare_run_dir(run_dir: Path, *, resume: bool, method: str, config: dict[str, Any], is_main: bool):
    """Check the run directory against ``resume``; return the checkpoint to resume or None."""
    checkpoint_path = run_dir / CHECKPOINT_FILE
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"--run-dir {run_dir}: exists and is not a directory")
    if not checkpoint_path.exists():
        if resume and is_main:
            _message(f"no checkpoint in {run_dir}: starting from scratch")
        return None
    if not resume:
        raise InputError(
            f"run directory {run_dir} already has a checkpoint: pass --resume to continue it or choose another --run-dir"
        )
    ckpt = load_checkpoint(checkpoint_path, method=method)
    if ckpt.kind != "checkpoint":
        raise InputError(f"{checkpoint_path}: holds only model weights (kind '{ckpt.kind}'), cannot resume from it")
    conflicts = resume_conflicts(ckpt.config, config)
    if conflicts:
        allowed = ", ".join(sorted(RESUMABLE_FIELDS))
        raise InputError(
            f"cannot resume {checkpoint_path}: configuration differs in {'; '.join(conflicts)} "
            f"(only {allowed} may change; choose another --run-dir for a new run)"
        )
    if ckpt.iteration > int(config["iterations"]):
        raise InputError(
            f"cannot resume {checkpoint_path}: it is at iteration {ckpt.iteration}, beyond iterations={config['iterations']}"
        )
    return ckpt


def check_run_dir(run_dir: str | Path, *, resume: bool, config: Any) -> None:
    """Raise the InputError :func:`run_training` would raise for ``run_dir`` (an early check
    for the command line, before any volume is loaded)."""
    from srbench.io.paths import check_creatable_dir

    check_creatable_dir(run_dir, what="run directory")
    config_dict = config_to_dict(config)
    _prepare_run_dir(Path(run_dir), resume=resume, method=str(config_dict["method"]), config=config_dict, is_main=False)


def non_finite_module(modules: Mapping[str, torch.nn.Module]) -> str | None:
    """What is wrong when a module holds a NaN or infinite parameter or buffer (None: all finite).

    Checked after every step: a loss that turns NaN usually makes the optimiser write NaN
    into the weights, so the run stops there instead of training on and saving a broken model.
    """
    with torch.no_grad():
        for name, module in modules.items():
            for tensor in (*module.parameters(), *module.buffers()):
                if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                    return f"the weights of '{name}' are no longer finite (a loss or gradient became NaN or infinite)"
    return None


def diverged(scalars: Mapping[str, Any], *, finite_before: set[str]) -> str | None:
    """What is wrong when a loss that was finite at an earlier step is now NaN or infinite.

    A loss a method does not compute in some phase (a GAN loss during an L1 warm-up) may be
    reported as NaN from the start; once it has been finite, a non-finite value means the
    run diverged, even if the weights stayed finite (an L1 gradient of NaN is 0).
    """
    for key, value in scalars.items():
        if key in finite_before and not math.isfinite(float(value)):
            return f"loss '{key}' became {float(value)} after being finite"
    return None


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Delete temporary files of :func:`srbench.io.atomic.atomic_path` left by a killed run."""
    for name in (CONFIG_FILE, MANIFEST_FILE, LOSSES_FILE, CHECKPOINT_FILE, MODEL_FILE):
        for stale in run_dir.glob(f".{name}.*.tmp*"):
            stale.unlink(missing_ok=True)


def _to_device(batch: PatchBatch, device: str) -> PatchBatch:
    if device == "cpu":
        return batch
    return PatchBatch(
        lr=batch.lr.to(device, non_blocking=True), hr=batch.hr.to(device, non_blocking=True), scale=batch.scale
    )


def run_training(
    *,
    trainer: Trainer,
    config: Any,
    volumes: Sequence[Volume],
    degradation: Degradation,
    run_dir: str | Path,
    resume: bool,
    device: str = "cpu",
    progress: bool = True,
    data_files: Sequence[str | Path] | None = None,
    plugin_versions: Mapping[str, str] | None = None,
) -> Path:
    """Train ``trainer``'s algorithm with ``config`` on patches of ``volumes``.

    Args:
        trainer: a :class:`~srbench.interfaces.Trainer`.
        config: its configuration (from :func:`srbench.training.config.resolve_config`).
        volumes: the training HR volumes.
        degradation: the track's :class:`~srbench.interfaces.Degradation`.
        run_dir: the run directory (created when missing), held by this process while it
            trains (:mod:`srbench.training.lock`: a second process is refused).
        resume: continue from ``run_dir/checkpoint.safetensors`` when there is one; without
            it an existing checkpoint is an error.
        device: ``cpu`` or ``cuda``; under torchrun each process takes ``cuda:LOCAL_RANK``.
        progress: show a progress display on stderr.
        data_files: files to hash into the manifest (default: each volume's ``source``).
        plugin_versions: distribution → version of the installed plugins, recorded in the
            manifest (:meth:`srbench.plugins.PluginManager.versions`; none when not given).

    Returns:
        The path of ``run_dir/model.safetensors`` (the inference weights).
    """
    run_dir = Path(run_dir)
    context, device = distributed.init_from_env(device)
    try:
        with run_directory_lock(run_dir) if context.is_main else contextlib.nullcontext():
            return _train(
                trainer=trainer, config=config, volumes=volumes, degradation=degradation, run_dir=run_dir,
                resume=resume, device=device, progress=progress, data_files=data_files, context=context,
                plugin_versions=plugin_versions,
            )
    finally:
        distributed.shutdown(context)


def _train(
    *,
    trainer: Trainer,
    config: Any,
    volumes: Sequence[Volume],
    degradation: Any,
    run_dir: Path,
    resume: bool,
    device: str,
    progress: bool,
    data_files: Sequence[str | Path] | None,
    context: distributed.DistContext,
    plugin_versions: Mapping[str, str] | None,
) -> Path:
    config_dict = config_to_dict(config)
    method = str(config_dict["method"])
    total = int(config.iterations)
    seed = int(config.seed)
    main = context.is_main

    ckpt = _prepare_run_dir(run_dir, resume=resume, method=method, config=config_dict, is_main=main)
    source = PatchSource(
        volumes, patch_size=config.patch_size, stride=config.patch_stride, scale=config.scale,
        degradation=degradation, min_foreground=config.min_foreground, seed=seed,
    )
    source.positions(0, int(config.batch_size), world_size=context.world_size)  # checks divisibility

    # optional earlier stage of a multi-stage method (see the module docstring)
    prepare = capabilities.prepare_method(trainer)
    resources = {} if prepare is None else dict(
        prepare(config, volumes=volumes, degradation=degradation, run_dir=run_dir, resume=resume, device=device, progress=progress)
        or {}
    )
    torch.manual_seed(derive_seed(seed, "init"))
    algorithm = trainer.build(config, device=device, **resources)
    apply_memory_format(algorithm.modules.values(), memory_format_for(config.memory_format, device=device))
    start = 0
    elapsed_before = 0.0
    wait_before = 0.0
    if ckpt is not None:
        restore_modules(ckpt, algorithm.modules)
        restore_optimizers(ckpt, algorithm.optimizers)
        start = ckpt.iteration
        elapsed_before = float(ckpt.extra.get("elapsed_s", 0.0))
        wait_before = float(ckpt.extra.get("data_wait_s", 0.0))
        if main:
            _message(f"resuming {run_dir} from iteration {start} of {total}")
    distributed.broadcast_modules(algorithm.modules, context)
    hooks = distributed.average_gradients_on_step(algorithm.optimizers.values(), context)
    distributed.barrier(context)  # every process has checked the run directory before rank 0 writes

    manifest: dict[str, Any] = {}
    log: LossLog | None = None
    board: TensorBoardLog | None = None
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(run_dir)
        write_text_atomic(run_dir / CONFIG_FILE, json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
        files = [v.source for v in volumes] if data_files is None else list(data_files)
        manifest = build_manifest(
            config=config_dict, data_files=files, seed=seed, device=device, world_size=context.world_size,
            plugins=plugin_versions or {},
        )
        manifest["resumed_from_iteration"] = start if ckpt is not None else None
        write_manifest(run_dir / MANIFEST_FILE, manifest)
        log = LossLog(run_dir / LOSSES_FILE, start_iteration=start)
        board = TensorBoardLog(run_dir / "tensorboard")
    display = ProgressDisplay(
        title=f"{method} {config_dict.get('preset', '')}", total=total, start=start, enabled=progress and main
    )

    for module in algorithm.modules.values():
        module.train()
    prefetcher = BatchPrefetcher(
        source, batch_size=int(config.batch_size), rank=context.rank, world_size=context.world_size
    )
    stop = _StopRequest()
    last_good = (f"the checkpoint it resumed from (iteration {start}) is kept" if ckpt is not None
                 else "no checkpoint was written before")
    finite_losses: set[str] = set()
    session_start = time.perf_counter()
    waited_total = 0.0
    iteration = start
    interrupted = False
    try:
        with stop.installed(main and not context.enabled):
            for iteration in range(start, total):
                batch, waited = prefetcher.get(iteration, prefetch_next=iteration + 1 < total)
                waited_total += waited
                batch = _to_device(batch, device)
                torch.manual_seed(derive_seed(seed, "global", iteration, context.rank))
                generator = make_generator(seed, "step", iteration, context.rank, device=device)
                step_start = time.perf_counter()
                scalars = algorithm.step(batch, iteration=iteration, total=total, generator=generator)
                step_s = time.perf_counter() - step_start
                done = iteration + 1
                problem = diverged(scalars, finite_before=finite_losses) or non_finite_module(algorithm.modules)
                if problem is not None:
                    raise SrbenchRuntimeError(f"{run_dir}: training stopped at iteration {done}: {problem}; {last_good}, "
                                              "and no model.safetensors is written")
                finite_losses.update(k for k, v in scalars.items() if math.isfinite(float(v)))
                if done % int(config.log_every) == 0 or done == total:
                    values = distributed.mean_over_processes({k: float(v) for k, v in scalars.items()}, context)
                    if main:
                        row = {
                            "iteration": iteration,
                            "elapsed_s": elapsed_before + time.perf_counter() - session_start,
                            "step_s": step_s,
                            "data_wait_s": waited,
                            **values,
                        }
                        log.write(row)  # type: ignore[union-attr]
                        board.write(iteration, row)  # type: ignore[union-attr]
                        display.update(done, values)
                if done % int(config.checkpoint_every) == 0 or done == total or stop.requested:
                    last_good = f"the last good checkpoint (iteration {done}) is kept in {run_dir / CHECKPOINT_FILE}"
                    if main:
                        save_checkpoint(
                            run_dir / CHECKPOINT_FILE, method=method, kind="checkpoint", config=config_dict,
                            modules=algorithm.modules, optimizers=algorithm.optimizers, iteration=done,
                            extra={
                                "elapsed_s": elapsed_before + time.perf_counter() - session_start,
                                "data_wait_s": wait_before + waited_total,
                            },
                        )
                if stop.requested:
                    interrupted = True
                    iteration = done
                    break
            else:
                iteration = total
    finally:
        prefetcher.close()
        display.close()
        for handle in hooks:
            handle.remove()
        if log is not None:
            log.close()
        if board is not None:
            board.close()
    if interrupted:
        _message(f"interrupted: checkpoint at iteration {iteration} saved in {run_dir}; continue with --resume")
        raise KeyboardInterrupt

    model_path = run_dir / MODEL_FILE
    session_s = time.perf_counter() - session_start
    if main:
        key = algorithm.inference_module
        save_checkpoint(
            model_path, method=method, kind="model", config=config_dict,
            modules={key: algorithm.modules[key]}, iteration=total,
            extra={"inference_module": key},
        )
        wall = elapsed_before + session_s
        waited_all = wait_before + waited_total
        manifest.update(
            status="finished",
            final_iteration=total,
            finished_utc=utc_now(),
            wall_s=round(wall, 3),
            session_iterations=total - start,
            session_s=round(session_s, 3),
            data_wait_s=round(waited_all, 3),
            data_wait_share=round(waited_all / wall, 4) if wall > 0 else 0.0,
            model={"path": MODEL_FILE, "sha256": sha256_file(model_path)},
        )
        write_manifest(run_dir / MANIFEST_FILE, manifest)
        trained = total - start
        rate = trained / session_s if session_s > 0 and trained else 0.0
        share = waited_total / session_s if session_s > 0 else 0.0
        _message(
            f"trained {method} ({config_dict.get('preset')}, {config_dict.get('track')}): iterations {start}→{total} "
            f"in {session_s:.1f} s ({rate:.2f} it/s, data wait {share:.1%}); model {model_path}"
        )
    distributed.barrier(context)
    return model_path
