"""``srbench predict``: super-resolve one NIfTI volume."""

from __future__ import annotations


import click

from srbench import capabilities
from srbench.cli.common import PathParam, device_option, plugin_manager, resolve_device
from srbench.grid import parse_scale
from srbench.interfaces import InferenceSettings
from srbench.errors import file_error, show
from srbench.io.nifti import NIFTI_SUFFIXES, load_volume, save_volume
from srbench.io.paths import check_output_file
from srbench.models import load_predictor, predict_checked
from srbench.scale_path import choose_path
from srbench.tiling import predictor_plan
from srbench.runs import resolve_checkpoint

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


@click.command("predict")
@click.argument("method")
@click.option("--input", "input_path", required=True, type=PathParam(), help="LR NIfTI volume.")
@click.option("--output", "output_path", required=True, type=PathParam(), help="SR NIfTI to write.")
@click.option("--checkpoint", type=PathParam(), default=None, help="Trained weights (model.safetensors or a run directory); default: the newest run of METHOD.")
@click.option("--scale", default="2", show_default=True, help="Factor, one or per axis (e.g. 2, 2,2,1, or 2.5 for arbitrary-scale methods).")
@with_inference_options
@device_option
@click.pass_context
def command(ctx, method, input_path, output_path, checkpoint, scale, memory_budget, halo, patch_size, overlap, batch_size, precision, device) -> None:
    """Super-resolve an LR volume with METHOD (e.g. trilinear, trigan).

    The output lies on the HR grid: shape round(LR shape × scale) and an affine whose
    voxels are scale times smaller, with the origin moved accordingly. On a per-axis
    scale such as 2,2,1, a method that does not declare it native runs at ×2 and the
    sub-voxel phases along the scale-1 axis are averaged, as in evaluate.
    """
    factors = parse_scale(scale, source="--scale")
    settings = inference_settings(patch_size=patch_size, overlap=overlap, batch_size=batch_size, device=device,
                                  memory_budget=memory_budget, halo=halo, precision=precision)
    pm = plugin_manager(ctx)
    model = pm.get("model", method)
    refuse_unused_patch_options(ctx, [model])
    notes: list[str] = []
    weights = resolve_checkpoint(model, checkpoint=checkpoint, pm=pm, notes=notes)
    check_output_file(output_path, inputs=[input_path, *([weights] if weights is not None else [])])
    if not output_path.name.endswith(NIFTI_SUFFIXES):
        raise file_error(output_path, "output must be a NIfTI file name ending in .nii or .nii.gz")
    lr = load_volume(input_path, scale=factors)
    predictor = load_predictor(model, checkpoint=weights, device=settings.device)
    path = choose_path(predictor, factors)  # the harness's rule for per-axis scales, as in evaluate
    plan = predictor_plan(predictor, lr.shape, scale=path.predict_scale, settings=settings)  # refuses a scale the model cannot do
    for note in notes:
        click.echo(note, err=True)
    if path.per_axis:
        click.echo(f"scale path: {path.describe()}", err=True)
    if plan is not None:
        click.echo(f"inference plan: {plan.describe()}", err=True)
    sr = predict_checked(predictor, lr, scale=factors, settings=settings, method=method, checkpoint=weights, subject=str(input_path))
    save_volume(sr, output_path)
    click.echo(f"wrote {show(output_path)} {sr.shape} ({method}, scale {factors})", err=True)
