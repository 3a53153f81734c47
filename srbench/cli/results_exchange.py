"""``srbench results export`` and ``srbench results import``: a store's rows as a portable
JSON-lines file, and back (registered on the ``results`` group by :mod:`srbench.cli.results_cmd`)."""

from __future__ import annotations

from pathlib import Path

import click

from srbench.cli.common import PathParam


@click.command("export")
@click.option(
    "--results", "results_path", type=PathParam(dir_okay=False), default=None,
    help="Results store to export (default: results/results.sqlite).",
)
@click.option("--out", "out_path", required=True, type=PathParam(dir_okay=False),
              help="JSON-lines file to write, e.g. leaderboards/results.jsonl.")
def export_command(results_path: Path | None, out_path: Path) -> None:
    """Write every row of a store, with its full provenance, as JSON lines.

    \b
    One line per run (method, checkpoint sha256, srbench and plugin versions, git commit,
    degradation and its options and seed, scale, intensity convention, training and
    inference configuration), track, input-file hash, metric value and not-applicable
    mark, in a fixed order: the same rows always give the same bytes. Commit it next to
    the leaderboards; `srbench leaderboard --from FILE` renders it, `srbench results
    import FILE --into STORE` merges it into a store, `srbench verify` re-evaluates it.
    """
    from srbench.io.paths import check_output_file
    from srbench.results.export import write_export
    from srbench.results.store import ResultsStore

    with ResultsStore(results_path, read_only=True, must_exist=True) as store:
        check_output_file(out_path, inputs=[store.path], what="export")
        count = write_export(store, out_path)
    click.echo(f"exported {count} metric value(s) to {out_path}", err=True)


@click.command("import")
@click.argument("export", type=PathParam(dir_okay=False))
@click.option("--into", "into", required=True, type=PathParam(dir_okay=False),
              help="Store to merge the rows into (created when missing; its folder must exist).")
def import_command(export: Path, into: Path) -> None:
    """Merge the rows of an export (from `srbench results export`) into a store, e.g. the
    committed reference rows into your own store so that your methods' boards show them.
    Identical rows are kept once; a value that differs is an error naming both files."""
    from srbench.results.export import import_export

    report = import_export(export, into)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(
        f"imported {export} into {into}: {report.results_added} result row(s), {report.runs_added} run(s) added; "
        f"{report.results_already_present} result row(s) already present",
        err=True,
    )
