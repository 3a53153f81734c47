"""``srbench predict``: super-resolve one NIfTI volume."""

from __future__ import annotations

import click

from srbench.cli.common import PathParam, device_option, plugin_manager
from srbench.cli.inference_options import inference_settings, refuse_unused_patch_options, with_inference_options
from srbench.errors import file_error, show
from srbench.grid import parse_scale
from srbench.io.nifti import NIFTI_SUFFIXES, load_volume, save_volume
from srbench.io.paths import check_output_file
from srbench.models import load_predictor, predict_checked
from srbench.scale_path import choose_path
from srbench.tiling import predictor_plan
from srbench.runs import resolve_checkpoint

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
