"""What every conformance check receives: the plugin manager, a scratch directory, and
tiny trained-weight files built once per method and shared by the checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from srbench import capabilities
from srbench.errors import InputError
from srbench.interfaces import Volume
from srbench.testing.failures import CheckFailed, CheckSkipped
from srbench.testing.synthetic import oblique_affine, smooth_volume

#: HR patch edges tried, smallest first, for the tiny training runs of the battery
TINY_PATCH_SIZES = (16, 24, 32, 40, 48, 64)


@dataclasses.dataclass
class CheckContext:
    """Shared state of one battery run.

    Attributes:
        pm: the :class:`~srbench.plugins.PluginManager` whose registrations are checked.
        workdir: an existing scratch directory (checkpoints, run directories).
        device: torch device the models run on.
        cache: memoised results (built checkpoints, loaded predictors) keyed by tuples.
    """

    pm: Any
    workdir: Path
    device: str = "cpu"
    cache: dict[tuple[Any, ...], Any] = dataclasses.field(default_factory=dict)

    def scratch(self, *parts: str) -> Path:
        """A fresh, empty directory under ``workdir``; ``parts`` name it."""
        path = self.workdir.joinpath(*parts)
        suffix = 0
        candidate = path
        while candidate.exists():
            suffix += 1
            candidate = path.with_name(f"{path.name}-{suffix}")
        candidate.mkdir(parents=True)
        return candidate

    def trainer_for(self, method: str) -> Any:
        """The trainer registered under ``method`` (a learned model's weights come from it)."""
        if method not in self.pm.names("trainer"):
            raise CheckSkipped(
                f"model '{method}' needs trained weights and no trainer named '{method}' is registered "
                "to make some (register one, or test the model with your own checkpoint)"
            )
        return self.pm.get("trainer", method)


def tiny_config(trainer: Any, **overrides: Any) -> Any:
    """The trainer's ``cpu`` preset shrunk for a test: one small patch per step, batch 1.

    ``overrides`` (e.g. ``iterations=2``) must be accepted at the preset's patch size;
    the HR patch edge is then the smallest of :data:`TINY_PATCH_SIZES` (up to the
    preset's) that the configuration accepts.
    """
    from srbench.training.config import resolve_config

    if "cpu" not in trainer.presets:
        raise CheckFailed(f"trainer '{trainer.name}' has no 'cpu' preset (presets: {', '.join(trainer.presets) or 'none'})")
    base = {"batch_size": 1, "min_foreground": 0.0, "log_every": 1, "checkpoint_every": 1, "seed": 0, **overrides}
    try:
        preset_patch = int(resolve_config(trainer, preset="cpu", overrides={}).patch_size)
        config = resolve_config(trainer, preset="cpu", overrides={**base, "patch_stride": preset_patch})
    except InputError as exc:
        shown = ", ".join(f"{k}={v}" for k, v in base.items())
        raise CheckFailed(
            f"trainer '{trainer.name}': the 'cpu' preset with {shown} is rejected: {exc}. Short test and smoke runs "
            "(srbench train NAME --iterations 2) need this to work: scale or clamp schedule lengths to iterations"
        ) from None
    for size in TINY_PATCH_SIZES:
        if size >= preset_patch:
            break
        try:
            return resolve_config(trainer, preset="cpu", overrides={**base, "patch_size": size, "patch_stride": size})
        except InputError:
            continue
    return config


def training_volumes(config: Any, *, seed: int = 0) -> list[Volume]:
    """One synthetic HR volume exactly one training patch large (a cube of ``config.patch_size``)."""
    size = int(config.patch_size)
    data = smooth_volume((size, size, size), seed=seed)
    return [Volume(data=data, affine=oblique_affine((1.0, 1.0, 1.0)), source=f"synthetic training volume {seed}")]


def perturb_parameters(modules: Any, *, seed: int) -> None:
    """Add seeded noise to every floating-point parameter (so zero-initialised layers matter)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in modules:
            for parameter in module.parameters():
                if not parameter.is_floating_point():
                    continue
                noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
                scale = 0.1 * (float(parameter.detach().abs().mean()) + 1e-2)
                parameter.add_((noise * scale).to(parameter.device, parameter.dtype))


def model_checkpoint(ctx: CheckContext, method: str, *, seed: int = 0, perturbed: bool = True) -> Path:
    """A ``model`` checkpoint of ``method`` as training would write it, from freshly built
    (and, when ``perturbed``, noise-perturbed) networks; cached per arguments."""
    key = ("model-checkpoint", method, seed, perturbed)
    if key in ctx.cache:
        return ctx.cache[key]
    from srbench.training.checkpoint import save_checkpoint
    from srbench.training.config import config_to_dict

    trainer = ctx.trainer_for(method)
    config = tiny_config(trainer, seed=seed)
    torch.manual_seed(seed)
    algorithm = trainer.build(config, device=ctx.device)
    module_key = algorithm.inference_module
    if module_key not in algorithm.modules:
        raise CheckFailed(
            f"trainer '{method}': inference_module '{module_key}' is not one of its modules ({', '.join(algorithm.modules)})"
        )
    if perturbed:
        perturb_parameters(algorithm.modules.values(), seed=seed + 1)
    path = ctx.scratch("checkpoints", f"{method}-{seed}-{'perturbed' if perturbed else 'initial'}") / "model.safetensors"
    save_checkpoint(
        path, method=method, kind="model", config=config_to_dict(config),
        modules={module_key: algorithm.modules[module_key]}, iteration=0, extra={"inference_module": module_key},
    )
    ctx.cache[key] = path
    return path


def load_predictor(ctx: CheckContext, model: Any, *, checkpoint: Path | None = None) -> Any:
    """``model.load(...)`` with weights: ``checkpoint``, or for a learned model a fresh
    :func:`model_checkpoint`; ``None`` for a model without weights."""
    if checkpoint is None and capabilities.needs_checkpoint(model):
        checkpoint = model_checkpoint(ctx, model.name)
    return model.load(checkpoint=checkpoint, device=ctx.device)


def shared_predictor(ctx: CheckContext, model: Any) -> Any:
    """One predictor per model for the checks that only call ``predict`` (cached)."""
    key = ("predictor", model.name)
    if key not in ctx.cache:
        ctx.cache[key] = load_predictor(ctx, model)
    return ctx.cache[key]
