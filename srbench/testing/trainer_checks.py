"""Conformance checks of :class:`~srbench.interfaces.Trainer` registrations.

They build the trainer's algorithm from its ``cpu`` preset shrunk to one small patch
(:func:`srbench.testing.context.tiny_config`) and drive it through the core's patch
source, checkpoint format and training loop, as ``srbench train`` does. Most quick checks
call ``build(config, device=...)`` without a trainer's optional ``prepare`` stage;
``train-resume`` (quick) and ``train-seed`` (``--full``) go through
:func:`~srbench.training.loop.run_training`, which runs it.
"""

from __future__ import annotations

import contextlib

import dataclasses
import math
from typing import Any

import torch

from srbench.defaults import DEFAULT_DEGRADATION
from srbench.interfaces import PatchBatch, Trainer
from srbench.testing.context import CheckContext, tiny_config, training_volumes
from srbench.testing.failures import CheckFailed, require
from srbench.testing.registration import check_name, check_protocol


def _patch_batch(ctx: CheckContext, config: Any, iteration: int) -> PatchBatch:
    from srbench.training.patches import PatchSource

    source = PatchSource(
        training_volumes(config), patch_size=config.patch_size, stride=config.patch_stride, scale=config.scale,
        degradation=ctx.pm.get("degradation", DEFAULT_DEGRADATION), min_foreground=config.min_foreground, seed=config.seed,
    )
    return source.batch(iteration, int(config.batch_size))


def _build(trainer: Any, config: Any, ctx: CheckContext, *, seed: int) -> Any:
    torch.manual_seed(seed)
    algorithm = trainer.build(config, device=ctx.device)
    modules = getattr(algorithm, "modules", None)
    optimizers = getattr(algorithm, "optimizers", None)
    require(isinstance(modules, dict) and modules and all(isinstance(m, torch.nn.Module) for m in modules.values()),
            f"trainer '{trainer.name}': build() must return an algorithm whose modules is a non-empty dict of torch.nn.Module")
    require(isinstance(optimizers, dict) and all(isinstance(o, torch.optim.Optimizer) for o in optimizers.values()),
            f"trainer '{trainer.name}': the algorithm's optimizers must be a dict of torch.optim.Optimizer")
    require(getattr(algorithm, "inference_module", None) in modules,
            f"trainer '{trainer.name}': inference_module {getattr(algorithm, 'inference_module', None)!r} is not one of "
            f"its modules ({', '.join(modules)})")
    return algorithm


def _step(trainer: Any, algorithm: Any, batch: PatchBatch, *, iteration: int, total: int) -> dict[str, float]:
    generator = torch.Generator().manual_seed(1000 + iteration)
    torch.manual_seed(2000 + iteration)
    for module in algorithm.modules.values():
        module.train()
    scalars = algorithm.step(batch, iteration=iteration, total=total, generator=generator)
    require(isinstance(scalars, dict), f"trainer '{trainer.name}': step() returned {type(scalars).__name__}, expected a dict of floats")
    numbers = {}
    for key, value in scalars.items():
        try:
            numbers[key] = float(value)
        except (TypeError, ValueError):
            raise CheckFailed(f"trainer '{trainer.name}': step() logged {key}={value!r}, not a number") from None
        require(not math.isinf(numbers[key]), f"trainer '{trainer.name}': step() logged {key}={numbers[key]} (diverged)")
    # NaN is allowed as "not computed in this phase" (e.g. a GAN loss during warm-up)
    require(any(math.isfinite(v) for v in numbers.values()),
            f"trainer '{trainer.name}': step() logged no finite value ({numbers})")
    return scalars


def _states(algorithm: Any) -> dict[str, torch.Tensor]:
    return {
        f"{name}/{key}": value.detach().to("cpu").clone()
        for name, module in algorithm.modules.items()
        for key, value in module.state_dict().items()
    }


def _differences(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    return sorted(key for key in a if key not in b or not torch.equal(a[key], b[key]))


def registration(trainer: Any, ctx: CheckContext) -> None:
    """A lowercase name equal to a registered model's, a TrainingConfig dataclass and a ``cpu`` preset."""
    from srbench.training.config import TrainingConfig

    check_name(trainer, "trainer")
    check_protocol(trainer, "trainer", Trainer)
    require(trainer.name in ctx.pm.names("model"),
            f"trainer '{trainer.name}' trains no registered model: register a model with the same name")
    config_class = trainer.config_class
    require(isinstance(config_class, type) and dataclasses.is_dataclass(config_class) and issubclass(config_class, TrainingConfig),
            f"trainer '{trainer.name}': config_class must be a dataclass subclassing srbench.training.config.TrainingConfig")
    require("cpu" in trainer.presets,
            f"trainer '{trainer.name}' needs a 'cpu' preset (presets: {', '.join(trainer.presets) or 'none'})")


def presets(trainer: Any, ctx: CheckContext) -> None:
    """Every preset resolves to a valid configuration (known fields, coerced, validated)."""
    from srbench.errors import InputError
    from srbench.training.config import resolve_config

    for preset in trainer.presets:
        try:
            config = resolve_config(trainer, preset=preset, overrides={})
        except InputError as exc:
            raise CheckFailed(f"trainer '{trainer.name}': preset '{preset}' is invalid: {exc}") from None
        require(config.method == trainer.name and config.preset == preset,
                f"trainer '{trainer.name}': preset '{preset}' resolved to method={config.method!r} preset={config.preset!r}")


def step(trainer: Any, ctx: CheckContext) -> None:
    """build() makes networks and optimisers; one step on a real patch batch logs numbers
    (no infinity; NaN only for losses not computed in that phase) and changes some weights."""
    config = tiny_config(trainer)
    algorithm = _build(trainer, config, ctx, seed=0)
    before = _states(algorithm)
    _step(trainer, algorithm, _patch_batch(ctx, config, 0), iteration=0, total=2)
    changed = _differences(before, _states(algorithm))
    require(bool(changed), f"trainer '{trainer.name}': one step changed no weight of {', '.join(algorithm.modules)}")


def state_roundtrip(trainer: Any, ctx: CheckContext) -> None:
    """Modules and optimisers saved after one step and restored into a fresh algorithm
    continue bitwise identically (all training state is in the checkpoint)."""
    from srbench.io.checkpoint import load_checkpoint, restore_modules
    from srbench.training.checkpoint import restore_optimizers, save_checkpoint
    from srbench.training.config import config_to_dict

    config = tiny_config(trainer)
    batches = [_patch_batch(ctx, config, i) for i in range(2)]
    original = _build(trainer, config, ctx, seed=0)
    _step(trainer, original, batches[0], iteration=0, total=2)
    path = ctx.scratch("state", trainer.name) / "checkpoint.safetensors"
    save_checkpoint(path, method=trainer.name, kind="checkpoint", config=config_to_dict(config),
                    modules=original.modules, optimizers=original.optimizers, iteration=1)
    restored = _build(trainer, config, ctx, seed=12345)
    ckpt = load_checkpoint(path, method=trainer.name)
    restore_modules(ckpt, restored.modules)
    restore_optimizers(ckpt, restored.optimizers)
    _step(trainer, original, batches[1], iteration=1, total=2)
    _step(trainer, restored, batches[1], iteration=1, total=2)
    differing = _differences(_states(original), _states(restored))
    require(not differing,
            f"trainer '{trainer.name}': after restoring a checkpoint the next step differs in {', '.join(differing[:4])}"
            f"{'...' if len(differing) > 4 else ''}; keep all training state in modules (state_dict) and optimizers")


class _Interrupted(Exception):
    """Raised inside a step to stop a training run the way a crash would."""


class _InterruptingAlgorithm:
    """Delegates to ``algorithm`` but raises :class:`_Interrupted` at step ``stop_at``."""

    def __init__(self, algorithm: Any, stop_at: int) -> None:
        self._algorithm = algorithm
        self._stop_at = stop_at

    def __getattr__(self, name: str) -> Any:
        return getattr(self._algorithm, name)

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        if iteration == self._stop_at:
            raise _Interrupted(iteration)
        return self._algorithm.step(batch, iteration=iteration, total=total, generator=generator)


class _InterruptingTrainer:
    """Delegates to ``trainer``; its algorithms stop at step ``stop_at``."""

    def __init__(self, trainer: Any, stop_at: int) -> None:
        self._trainer = trainer
        self._stop_at = stop_at

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trainer, name)

    def build(self, config: Any, **kwargs: Any) -> Any:
        return _InterruptingAlgorithm(self._trainer.build(config, **kwargs), self._stop_at)


def train_resume(trainer: Any, ctx: CheckContext) -> None:
    """srbench.training.loop.run_training: a two-iteration run, and the same run interrupted
    after its first iteration and resumed, give bitwise equal model weights; the registered
    model loads the result; nothing is written outside the run directories (the checks run
    in an empty current directory, which must stay empty)."""

    degradation = ctx.pm.get("degradation", DEFAULT_DEGRADATION)
    config = tiny_config(trainer, iterations=2)
    volumes = training_volumes(config)
    outside = ctx.scratch("cwd")
    with contextlib.chdir(outside):  # a run writes only inside its run directory
        straight, resumed = _straight_and_resumed(trainer, ctx, config=config, volumes=volumes, degradation=degradation)
    stray = sorted(p.name for p in outside.iterdir())
    require(not stray, f"trainer '{trainer.name}': training wrote {', '.join(stray[:4])} into the current directory; "
                       "a run must write only inside its run directory")
    _compare_and_load(trainer, ctx, straight, resumed)


def _straight_and_resumed(trainer: Any, ctx: CheckContext, *, config: Any, volumes: Any, degradation: Any) -> tuple[Any, Any]:
    """Two iterations straight, and interrupted after the first then resumed: both models."""
    from srbench.training.loop import run_training

    straight = run_training(trainer=trainer, config=config, volumes=volumes, degradation=degradation,
                            run_dir=ctx.scratch("runs", f"{trainer.name}-straight"), resume=False, progress=False)
    resumed_dir = ctx.scratch("runs", f"{trainer.name}-resumed")
    try:
        run_training(trainer=_InterruptingTrainer(trainer, stop_at=1), config=config, volumes=volumes,
                     degradation=degradation, run_dir=resumed_dir, resume=False, progress=False)
    except _Interrupted:
        pass
    else:
        raise CheckFailed(f"trainer '{trainer.name}': the interrupted run did not reach its second step")
    resumed = run_training(trainer=trainer, config=config, volumes=volumes, degradation=degradation,
                           run_dir=resumed_dir, resume=True, progress=False)
    return straight, resumed


def _compare_and_load(trainer: Any, ctx: CheckContext, straight: Any, resumed: Any) -> None:
    from srbench.io.checkpoint import load_checkpoint

    a = load_checkpoint(straight, method=trainer.name).tensors
    b = load_checkpoint(resumed, method=trainer.name).tensors
    differing = _differences(a, b)
    require(set(a) == set(b) and not differing,
            f"trainer '{trainer.name}': 2 iterations straight and interrupted after 1 then resumed give different weights "
            f"({', '.join(differing[:4]) or 'different tensor names'}); all randomness must come from the step's "
            "generator and all state must be in modules and optimizers")
    from srbench.testing.model_checks import REQUIRED_SCALE, SETTINGS, lr_volume

    model = ctx.pm.get("model", trainer.name)
    predictor = model.load(checkpoint=straight, device=ctx.device)
    lr = lr_volume((8, 8, 8))
    out = predictor.predict(lr, scale=REQUIRED_SCALE, settings=SETTINGS)
    require(tuple(out.shape) == (16, 16, 16) and bool(torch.isfinite(out.data).all()),
            f"trainer '{trainer.name}': the trained model.safetensors predicts shape {tuple(out.shape)} "
            "or non-finite voxels for an 8³ LR volume")


def _seeded_build(trainer: Any, config: Any, ctx: CheckContext) -> Any:
    """build() after seeding torch the way :func:`~srbench.training.loop.run_training` does."""
    from srbench.training.seeding import derive_seed

    torch.manual_seed(derive_seed(int(config.seed), "init"))
    return trainer.build(config, device=ctx.device)


def seed(trainer: Any, ctx: CheckContext) -> None:
    """``config.seed`` decides the initialisation: building twice with seed 0 (torch seeded
    as the training loop does) gives bitwise equal weights and leaves torch's generator in
    the same state (no os.urandom, time or unseeded sources), and building with seeds 0 and
    1 leaves it in different states (build() does not re-seed torch with a fixed number)."""
    states, generators = {}, {}
    for label, value in (("first", 0), ("again", 0), ("other", 1)):
        states[label] = _states(_seeded_build(trainer, tiny_config(trainer, seed=value), ctx))
        generators[label] = torch.get_rng_state()
    differing = _differences(states["first"], states["again"])
    require(not differing and torch.equal(generators["first"], generators["again"]),
            f"trainer '{trainer.name}': two builds with seed 0 give different initial weights "
            f"({', '.join(differing[:3]) or 'or a different random state afterwards'}"
            f"{'...' if len(differing) > 3 else ''}); draw every random number from torch's seeded generators "
            "(no os.urandom, time or unseeded sources)")
    require(not torch.equal(generators["first"], generators["other"]),
            f"trainer '{trainer.name}': builds with seeds 0 and 1 leave torch's random generator in the same state, so "
            "build() re-seeds it with a fixed number and its initial weights ignore the run's seed (config.seed); "
            "do not call torch.manual_seed in build(): the loop seeds torch from config.seed before calling it")


def _seed_volumes(config: Any) -> list[Any]:
    """One synthetic HR volume of 2 × 2 × 2 training patches (so the patch order depends on the seed)."""
    from srbench.interfaces import Volume
    from srbench.testing.synthetic import oblique_affine, smooth_volume

    size = 2 * int(config.patch_size)
    data = smooth_volume((size, size, size), seed=7)
    return [Volume(data=data, affine=oblique_affine((1.0, 1.0, 1.0)), source="synthetic seed-check volume")]


def train_seed(trainer: Any, ctx: CheckContext) -> None:
    """Through srbench.training.loop.run_training, one iteration on a volume of 8 patches: two
    runs with seed 0 write bitwise equal weights, and runs with seeds 1 to 3 do not all write
    the weights of seed 0."""
    from srbench.io.checkpoint import load_checkpoint
    from srbench.training.loop import run_training

    degradation = ctx.pm.get("degradation", DEFAULT_DEGRADATION)
    weights = {}
    for label, value in (("first", 0), ("again", 0), ("seed 1", 1), ("seed 2", 2), ("seed 3", 3)):
        config = tiny_config(trainer, iterations=1, seed=value)
        path = run_training(trainer=trainer, config=config, volumes=_seed_volumes(config), degradation=degradation,
                            run_dir=ctx.scratch("seed-runs", f"{trainer.name}-{label.replace(' ', '')}"), resume=False,
                            progress=False)
        weights[label] = load_checkpoint(path, method=trainer.name).tensors
    differing = _differences(weights["first"], weights["again"])
    require(not differing,
            f"trainer '{trainer.name}': two runs with seed 0 train different weights ({', '.join(differing[:3])}); "
            "all randomness must come from the seeded generators the loop provides")
    require(any(_differences(weights["first"], weights[f"seed {n}"]) for n in (1, 2, 3)),
            f"trainer '{trainer.name}': runs with seeds 0, 1, 2 and 3 train the same weights; config.seed is ignored "
            "(a hard-coded torch.manual_seed?)")
