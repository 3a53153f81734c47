"""``srbench degrade``: simulate an LR volume from an HR one."""

from __future__ import annotations

from pathlib import Path

import click

from srbench import capabilities
from srbench.defaults import DEFAULT_DEGRADATION
from srbench.cli.common import PathParam, plugin_manager
from srbench.config.document import configure
from srbench.data.pairs import degrade_volume
from srbench.grid import integer_scale, parse_scale
from srbench.errors import file_error, show
from srbench.io.nifti import NIFTI_SUFFIXES, check_finite_volume, load_volume, save_volume
from srbench.io.paths import check_output_file


@click.command("degrade")
@click.option("--input", "input_path", required=True, type=PathParam(), help="HR NIfTI volume.")
@click.option("--output", "output_path", required=True, type=PathParam(), help="LR NIfTI to write.")
@click.option("--scale", default="2", show_default=True, help="Factor, one or per axis (e.g. 2 or 2,2,1).")
@click.option("--degradation", default=DEFAULT_DEGRADATION, show_default=True, help="Registered degradation name.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Degradation option, e.g. --option snr=20 for kspace; repeatable.")
@click.option("--seed", default=0, show_default=True, help="Seed of the degradation's noise (only for degradations that add noise).")
@click.pass_context
def command(ctx: click.Context, input_path: Path, output_path: Path, scale: str, degradation: str, options: tuple[str, ...], seed: int) -> None:
    """Degrade an HR volume to LR (odd sizes: trailing slices are cropped first).

    The LR affine follows the grid convention: each LR voxel centre is the mean of the
    centres of the HR voxels it covers.
    """
    factors = parse_scale(scale, source="--scale")
    integer_scale(factors, source="--scale")
    if seed < 0:
        raise click.BadParameter("must be a non-negative integer", param_hint="--seed")
    chosen = configure(plugin_manager(ctx).get("degradation", degradation), parse_options(options))
    given = ctx.get_parameter_source("seed") in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    if given and not capabilities.uses_seed(chosen):
        raise click.BadParameter(f"degradation '{degradation}' adds no noise, so a seed changes nothing", param_hint="--seed")
    check_output_file(output_path, inputs=[input_path])
    if not output_path.name.endswith(NIFTI_SUFFIXES):
        raise file_error(output_path, "output must be a NIfTI file name ending in .nii or .nii.gz")
    hr = load_volume(input_path)
    cropped, lr = degrade_volume(hr, degradation=chosen, scale=factors, seed=seed)
    check_finite_volume(lr, what=f"{show(input_path)}: degradation '{degradation}' gave non-finite values")
    if cropped.shape != hr.shape:
        click.echo(f"{show(input_path)}: cropped {hr.shape} → {cropped.shape} to a multiple of the scale", err=True)
    save_volume(lr, output_path)
    click.echo(f"wrote {show(output_path)} {lr.shape} ({degradation}, scale {factors})", err=True)


def parse_options(items: tuple[str, ...]) -> dict[str, object]:
    """``("snr=20", "name=x")`` → ``{"snr": 20.0, "name": "x"}`` (numbers parsed, the rest kept as text)."""
    options: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE, e.g. snr=20", param_hint="--option")
        text = value.strip()
        try:
            options[key.strip()] = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            options[key.strip()] = {"true": True, "false": False}.get(text.lower(), text)
    return options
