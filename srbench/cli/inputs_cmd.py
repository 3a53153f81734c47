"""``srbench inputs export``: a track's LR inputs and manifest, for methods srbench does not run."""

from __future__ import annotations

from pathlib import Path

import click

from srbench.cli.common import PathParam, config_option, plugin_manager


@click.group("inputs")
def command() -> None:
    """A track's test inputs as files (for methods run outside srbench)."""


@command.command("export")
@click.option("--track", "track_name", required=True, help="The track whose test inputs are written (one track).")
@click.argument("out_dir", type=PathParam(file_okay=False), metavar="DIR")
@config_option
@click.pass_context
def export_command(ctx, track_name: str, out_dir: Path, config_path: Path | None) -> None:
    """Write every test subject's LR volume of a track, made exactly as evaluation makes it,
    and DIR/manifest.json (subject ids, file hashes, the SR shape and affine each
    prediction must have, degradation and scale). HR volumes are never written.

    DIR must be new or empty. Score the outputs with `srbench score` (docs/external.md).
    """
    from srbench.config import load_config
    from srbench.external.inputs import export_inputs, single_track

    pm = plugin_manager(ctx)
    config = load_config(config_path, pm=pm)
    track = single_track(track_name, config)
    manifest = export_inputs(config, track, out_dir, pm=pm,
                             on_subject=lambda s: click.echo(f"{track.name}: {s.lr_file}", err=True))
    click.echo(f"wrote {len(manifest['subjects'])} LR volume(s) of track '{track.name}' and "
               f"{Path(out_dir) / 'manifest.json'}", err=True)
