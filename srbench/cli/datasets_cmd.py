"""``srbench datasets``: check that the data of a datasets.toml is ready before a long run."""

from __future__ import annotations

import json

import click

from srbench.cli.common import config_option, plugin_manager


@click.group("datasets")
def command() -> None:
    """Inspect the datasets and tracks of a datasets.toml."""


@command.command("check")
@click.option("--track", "track_name", default="all", show_default=True, help="A track name, 'ood', 'insample' or 'all'.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--deep", is_flag=True, help="Also read every voxel (finds NaN voxels and corrupt compressed data; decompresses whole volumes).")
@click.option("--jobs", default=4, show_default=True, help="Files checked in parallel (threads; the work is mostly disk reads).")
@config_option
@click.pass_context
def check_command(ctx: click.Context, track_name: str, output_format: str, deep: bool, jobs: int, config_path) -> None:
    """Report, per dataset of the selected tracks, the subjects found, voxel sizes,
    orientations and files that fail the NIfTI gate, and per track whether it is
    runnable, skipped (data not on this machine) or blocked, and why.

    Only headers are read (and the gzip trailer, which gives a compressed file's length)
    unless --deep. The report goes to stdout (markdown tables, or one JSON document);
    exit status 1 when a selected track is blocked, e.g. by a broken file.
    """
    from srbench.config import load_config
    from srbench.datasets_check import check_datasets, render_table
    from srbench.progress import progress_bar

    if jobs < 1:
        raise click.BadParameter("must be at least 1", param_hint="--jobs")
    pm = plugin_manager(ctx)
    config = load_config(config_path, pm=pm)
    config.select_tracks(track_name)  # an unknown name is an error before anything is read
    with progress_bar("checking files", total=None) as advance:
        report = check_datasets(config, pm, track=track_name, deep=deep, jobs=jobs, on_file=advance)
    if output_format == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(render_table(report), nl=False)
    blocked = [t.name for t in report.tracks if t.status == "blocked"]
    if blocked:
        click.echo(f"blocked track(s): {', '.join(blocked)}", err=True)
        ctx.exit(1)
