"""``srbench results``: inspect and merge results stores."""

from __future__ import annotations

import json
from pathlib import Path

import click

from srbench.cli.common import PathParam
from srbench.cli.results_exchange import export_command, import_command
from srbench.io.json_numbers import json_number


@click.group("results")
def command() -> None:
    """Inspect and merge results stores (SQLite files written by evaluate)."""


@command.command("merge")
@click.argument("sources", nargs=-1, required=True, type=PathParam(dir_okay=False))
@click.option(
    "--into", "into", required=True, type=PathParam(dir_okay=False),
    help="Store to merge into (created when missing; its folder must exist).",
)
def merge_command(sources: tuple[Path, ...], into: Path) -> None:
    """Merge stores (for example the shards of `evaluate --shard i/n`) without duplicates.

    Identical rows are kept once; a value that differs between two stores is an error
    naming both files, and then nothing is written.
    """
    from srbench.results.merge import merge

    report = merge(list(sources), into)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(
        f"merged {len(sources)} store(s) into {into}: {report.results_added} result row(s), "
        f"{report.runs_added} run(s), {report.inputs_added} input hash(es), "
        f"{report.not_applicable_added} not-applicable mark(s) added; "
        f"{report.results_already_present} result row(s) already present",
        err=True,
    )


@command.command("show")
@click.option(
    "--results", "results_path", type=PathParam(dir_okay=False), default=None,
    help="Results store to read (default: results/results.sqlite).",
)
@click.option("--track", default=None, help="Only this track.")
@click.option("--format", "output_format", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def show_command(results_path: Path | None, track: str | None, output_format: str) -> None:
    """Print every stored value (one row per run × track × subject × metric) on stdout."""
    from srbench.results.store import ResultsStore

    with ResultsStore(results_path, read_only=True) as store:
        if track is not None and track not in store.tracks():
            from srbench.errors import unknown_name

            raise unknown_name(f"track in {store.path}", track, store.tracks())
        rows = store.rows(track)
    if output_format == "csv":
        click.echo(rows.to_csv(index=False), nl=False)
        return
    for record in rows.to_dict(orient="records"):
        click.echo(json.dumps({key: json_number(value) for key, value in record.items()}))


@command.command("drop")
@click.option(
    "--results", "results_path", type=PathParam(dir_okay=False), default=None,
    help="Results store to change (default: results/results.sqlite).",
)
@click.option("--track", default=None, help="Only rows of this track.")
@click.option("--method", default=None, help="Only rows of this method.")
@click.option("--subject", default=None, help="Only rows of this subject.")
def drop_command(results_path: Path | None, track: str | None, method: str | None, subject: str | None) -> None:
    """Delete the stored rows matching every option given (at least one), in one transaction.

    \b
    For example, after a track's dataset lost a subject:
      srbench results drop --track insample --subject sub-03
    Boards compare rows over the subjects every row has; dropping stale rows brings the
    left-out subjects' note back to none.
    """
    from srbench.errors import unknown_name
    from srbench.results.store import ResultsStore

    with ResultsStore(results_path, must_exist=True) as store:
        rows = store.rows()
        for option, value, known in (("track", track, rows["track"]), ("method", method, rows["method"]),
                                     ("subject", subject, rows["subject"])):
            if value is not None and value not in set(known):
                raise unknown_name(f"{option} in {store.path}", value, sorted(set(known)))
        count = store.drop(track=track, method=method, subject=subject)
    click.echo(f"dropped {count} metric value(s) from {store.path}", err=True)


command.add_command(export_command)
command.add_command(import_command)
