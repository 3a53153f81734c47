"""The inference options that ``predict``, ``evaluate`` and ``verify`` share, and their checks."""

from __future__ import annotations

import click

from srbench import capabilities
from srbench.cli.common import resolve_device
from srbench.interfaces import InferenceSettings

inference_options = [
    click.option("--memory-budget", default=None, metavar="SIZE",
                 help="Memory one planned tile may use, e.g. 2GiB, 1500MB (default: 2GiB on the CPU, half the free memory of a GPU)."),
    click.option("--halo", type=int, default=None, metavar="VOXELS",
                 help="LR voxels of context around each planned tile (default: the model's receptive field when the budget allows, else its effective radius)."),
    click.option("--patch-size", type=int, default=None, help="Use fixed overlapping LR patches of this edge (voxels) instead of planned tiles (default with --overlap: 32)."),
    click.option("--overlap", type=int, default=None, help="Overlap between fixed LR patches (voxels; default with --patch-size: 8)."),
    click.option("--batch-size", default=4, show_default=True, help="Fixed patches per forward pass."),
    click.option("--precision", type=click.Choice(["float32", "bf16"]), default="float32", show_default=True,
                 help="bf16: bfloat16 autocast, faster on a CPU with AVX-512 BF16 or AMX, slower without (a warning "
                      "says so); its speed and its effect on the metrics are measured in benchmarks/README.md. "
                      "Results record it; the committed leaderboards are float32."),
]


def with_inference_options(fn):
    for option in reversed(inference_options):
        fn = option(fn)
    return fn


def refuse_unused_patch_options(ctx: click.Context, models: list) -> None:
    """Refuse the inference options given explicitly when no selected model runs patch
    inference (a model says so with ``patch_inference = False``)."""
    if any(capabilities.patch_inference(model) for model in models):
        return
    for name in ("patch_size", "overlap", "batch_size", "memory_budget", "halo", "precision"):
        if ctx.get_parameter_source(name) in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT):
            names = ", ".join(m.name for m in models)
            raise click.BadParameter(f"{names} runs on the whole volume: inference options do not apply", param_hint=f"--{name.replace('_', '-')}")


def inference_settings(
    *, patch_size: int | None, overlap: int | None, batch_size: int, device: str, memory_budget: str | None = None,
    halo: int | None = None, precision: str = "float32",
) -> InferenceSettings:
    """Validated :class:`InferenceSettings` from command-line values."""
    from srbench.errors import InputError, InvalidSetting
    from srbench.tiling import parse_memory_size

    try:
        budget = parse_memory_size(memory_budget) if memory_budget is not None else None
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="--memory-budget") from None
    try:
        settings = InferenceSettings(patch_size=patch_size, overlap=overlap, batch_size=batch_size,
                                     device=resolve_device(device), halo=halo, memory_budget=budget,
                                     precision="bfloat16" if precision == "bf16" else "float32")
    except InvalidSetting as exc:
        hint = "--memory-budget/--halo" if "exclude each other" in exc.reason else f"--{exc.setting.replace('_', '-')}"
        raise click.BadParameter(exc.reason, param_hint=hint) from None
    if settings.precision == "bfloat16" and settings.device == "cpu" and not cpu_has_bf16():
        click.echo("warning: --precision bf16: this CPU has neither AVX-512 BF16 nor AMX, so bfloat16 convolutions "
                   "run without hardware support and can be far slower than float32", err=True)
    return settings


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX); True when torch cannot tell."""
    import torch

    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None) or all(check is None for check in checks)
