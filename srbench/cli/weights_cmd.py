"""``srbench weights``: the reference weights shipped with the plugins (list, add a run)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from srbench.cli.common import PathParam, plugin_manager


@click.group("weights", invoke_without_command=True)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def command(ctx: click.Context, output_format: str) -> None:
    """List the trained weights the installed plugins ship: method, preset, track, sha256 and
    the commit they were trained at. `srbench evaluate` uses them when no local run exists,
    and `srbench verify` re-evaluates the committed leaderboard rows with them.

    \b
    Examples:
      srbench weights
      srbench weights --format json
      srbench weights add runs/trigan-cpu-insample     # ship a finished run (maintainers)
    """
    if ctx.invoked_subcommand is not None:
        return
    from srbench.weights import describe, shipped_weights

    rows = describe(shipped_weights(plugin_manager(ctx)))
    if output_format == "json":
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("no installed plugin ships trained weights", err=True)
        return
    header = ["METHOD", "PRESET", "TRACK", "FOLD", "SHA256", "TRAINING COMMIT", "SIZE"]
    table = [header] + [
        [r["method"], r["preset"], r["track"], str(r["fold"] or "—"), r["sha256"][:16] + ("" if r["intact"] else " (MODIFIED)"),
         r["training_commit"][:12] + ("+dirty" if r["training_commit"].endswith("+dirty") else ""),
         f"{r['bytes'] / 1e6:.2f} MB"]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for row in rows:
        if not row["intact"]:
            click.echo(f"warning: {row['path']} does not have its recorded sha256 (modified after it was added)", err=True)


@command.command("add")
@click.argument("run_dir", type=PathParam(file_okay=False, exists=True))
@click.option("--into", "into", type=PathParam(file_okay=False), default=None,
              help="weights/ folder to copy into (default: the one of the plugin that trains the run's method).")
@click.pass_context
def add_command(ctx: click.Context, run_dir: Path, into: Path | None) -> None:
    """Ship a finished run: copy its model.safetensors, config.json and manifest.json to
    <plugin package>/weights/<preset>-<track>/ (a cross-validation fold's run:
    <preset>-<track>-fold-<k>/) with the model's sha256; print that folder."""
    from srbench.weights import add_run

    shipped = add_run(plugin_manager(ctx), run_dir, into=into)
    click.echo(f"shipped {shipped.method} ({shipped.preset}, {shipped.track}), sha256 {shipped.recorded_sha256}", err=True)
    click.echo(str(shipped.path.parent))
