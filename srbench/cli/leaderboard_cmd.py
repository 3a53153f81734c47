"""``srbench leaderboard``: publish the results store as markdown (one file per track)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from srbench.cli.common import PathParam, plugin_manager

if TYPE_CHECKING:
    from srbench.leaderboard.markdown import LeaderboardFiles


@click.command("leaderboard")
@click.option(
    "--results", "results_path", type=PathParam(dir_okay=False), default=None,
    help="Results store to read (default: results/results.sqlite).",
)
@click.option(
    "--from", "export_path", type=PathParam(dir_okay=False), default=None,
    help="Render a results export (srbench results export) instead of a store, e.g. the committed "
    "leaderboards/results.jsonl; gives the same bytes as rendering the store it was exported from.",
)
@click.option(
    "--out", "out_dir", type=PathParam(file_okay=False), default=Path("results") / "leaderboards",
    show_default=True, help="Folder for index.md and one <track>.md per track (created if missing). The committed "
    "boards in leaderboards/ are replaced only when it is named: --out leaderboards.",
)
@click.option("--figures", is_flag=True, help="Also draw figures/<track>.png from saved predictions and link them.")
@click.option(
    "--predictions", "predictions_dir", type=PathParam(file_okay=False), default=None,
    help="Where evaluate saved predictions (default: predictions/ beside the results store).",
)
@click.option(
    "--html", "html_dir", type=PathParam(file_okay=False), default=None,
    help="Also write a static site there: index.html, a sortable page per track with per-subject rows, "
    "provenance and figures, and the rows (rows.csv for spreadsheets, results.jsonl: the export of record). Self-contained (no network).",
)
@click.pass_context
def command(ctx: click.Context, results_path: Path | None, export_path: Path | None, out_dir: Path, figures: bool,
            predictions_dir: Path | None, html_dir: Path | None) -> None:
    """Write the leaderboards: per track, mean ± std of every metric per method, the best in
    bold, bootstrap CIs and paired tests; print the index on stdout.

    Rows with different degradations, scales or intensity conventions are never put in
    one table: evaluate them into separate stores (--results) instead. With --html DIR the
    same boards are also published as a static web site (figures: those drawn now with
    --figures, else any already in the --out folder's figures/).
    """
    import contextlib
    import tempfile

    from srbench.errors import InputError
    from srbench.leaderboard.markdown import track_filename, write_leaderboards
    from srbench.results.export import read_export, store_from_records
    from srbench.results.store import ResultsStore

    if predictions_dir is not None and not figures:
        raise click.BadParameter("applies only with --figures (the predictions are read to draw them)", param_hint="--predictions")
    pm = plugin_manager(ctx)
    staging = contextlib.ExitStack()
    if export_path is not None:
        if results_path is not None:
            raise InputError("--from and --results: give one source of rows")
        records = read_export(export_path)
        folder = staging.enter_context(tempfile.TemporaryDirectory(prefix="srbench-leaderboard-"))
        results_path = store_from_records(records, Path(folder) / "export.sqlite")
    with staging, ResultsStore(results_path, read_only=True) as store:
        written = write_leaderboards(store, out_dir, figures=figures, predictions_dir=predictions_dir, pm=pm)
        site = None
        if html_dir is not None:
            from srbench.leaderboard.html import write_html_site

            drawn = {
                track: out_dir / "figures" / f"{Path(track_filename(track)).stem}.png" for track in written.tracks
            }
            drawn.update(written.figures)
            site = write_html_site(store, html_dir, figures=drawn, pm=pm)
    report_written(written)
    if site is not None:
        for path in [*site.tracks.values(), *site.figures.values(), *site.exports, site.index]:
            click.echo(f"wrote {path}", err=True)


def report_written(written: LeaderboardFiles) -> None:
    """Print a :class:`~srbench.leaderboard.markdown.LeaderboardFiles`: its notes as warnings and the
    files written on stderr, the index markdown on stdout."""
    for note in written.notes:
        click.echo(f"warning: {note}", err=True)
    click.echo(written.index_markdown, nl=False)
    for path in [*written.tracks.values(), *written.figures.values(), written.index]:
        click.echo(f"wrote {path}", err=True)
