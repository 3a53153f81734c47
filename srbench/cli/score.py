"""``srbench score``: score a folder of SR volumes made outside srbench, as plugin rows are scored."""

from __future__ import annotations

import time
from pathlib import Path

import click

from srbench.cli.common import PathParam, config_option, plugin_manager
from srbench.cli.row_printer import RowPrinter


@click.command("score")
@click.option("--track", "track_name", required=True, help="The track the predictions were made for (one track).")
@click.option("--predictions", "predictions_dir", required=True, type=PathParam(file_okay=False), metavar="DIR",
              help="Folder with one SR volume per subject: <subject>.nii.gz or <subject>.nii.")
@click.option("--name", "label", required=True, help="The rows' label on the boards (not an installed method's name).")
@click.option("--description", default="", help="One line saying what the method is.")
@click.option("--url", default=None, help="An http(s) address for the method (paper, code).")
@click.option("--allow-missing", is_flag=True, help="Score the subjects that have a file and say which do not.")
@click.option("--results", "results_path", type=PathParam(dir_okay=False), default=None,
              help="Results store (default: results/results.sqlite).")
@click.option("--force", is_flag=True, help="Replace rows scored before under this label from other files.")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="How per-subject results are printed on stdout.")
@click.option("--save-predictions/--no-save-predictions", default=True, show_default=True,
              help="Keep the figure subject's SR volume next to the store (for `leaderboard --figures`).")
@click.option("--figure-subject", default=None, metavar="ID", help="Subject kept for the figure (default: the first scored).")
@click.option("--derivatives", "derivatives_dir", type=PathParam(file_okay=False), default=None, metavar="DIR",
              help="Also write every scored volume as BIDS derivatives: DIR/srbench-<label>/.")
@config_option
@click.pass_context
def command(ctx, track_name, predictions_dir, label, description, url, allow_missing, results_path, force,
            output_format, save_predictions, figure_subject, derivatives_dir, config_path) -> None:
    """Score SR volumes made outside srbench (any language, any machine) on a track.

    Every file is matched to a subject of the track and checked (NIfTI gate, float
    voxels, the subject's SR grid, not a reference volume) before anything is scored;
    then each is scored with the same intensity convention and metrics as a plugin's
    output, and the rows are stored marked external. Get the inputs with `srbench inputs
    export`; the whole path is in docs/external.md.
    """
    from srbench.config import load_config
    from srbench.errors import unknown_name
    from srbench.evaluation import open_results_store
    from srbench.measurement import result_columns
    from srbench.external.predictions import describe_missing
    from srbench.external.scoring import check_submission, plan_scoring, run_scoring
    from srbench.io.paths import check_creatable_dir

    started = time.perf_counter()
    pm = plugin_manager(ctx)
    submission = check_submission(label, description=description, url=url, pm=pm)
    config = load_config(config_path, pm=pm)
    plan = plan_scoring(config=config, pm=pm, track_name=track_name, predictions_dir=predictions_dir,
                        submission=submission, allow_missing=allow_missing)
    scored = [p.expected.id for p in plan.predictions]
    if figure_subject is not None and figure_subject not in scored:
        raise unknown_name("--figure-subject: scored subject", figure_subject, scored)
    if derivatives_dir is not None:
        check_creatable_dir(derivatives_dir, what="derivatives folder")
    store, figures_dir = open_results_store(results_path, reads=[config.path, *plan.inputs()],
                                            save_predictions=save_predictions)
    if plan.missing:
        click.echo(f"note: {describe_missing(plan.missing)}", err=True)
    printer = RowPrinter(output_format=output_format, columns=result_columns(pm))
    with store:
        outcomes = run_scoring(plan, pm=pm, store=store, force=force, predictions_dir=figures_dir,
                               figure_subject=figure_subject, derivatives=Path(derivatives_dir) if derivatives_dir else None,
                               on_note=lambda note: click.echo(f"note: {note}", err=True), on_outcome=printer.add)
    printer.finish()
    new = sum(outcome.status == "ok" for outcome in outcomes)
    click.echo(f"{submission.label} on {plan.track.name}: {new} subject(s) scored, {len(outcomes) - new} already stored "
               f"(external rows); results stored in {store.path}; wall time {time.perf_counter() - started:.1f} s", err=True)
