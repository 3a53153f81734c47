"""``srbench evaluate``: run methods on the test subjects of tracks and store the metrics."""

from __future__ import annotations

import time

import click

from srbench.cli.common import PathParam, config_option, device_option, plugin_manager
from srbench.cli.inference_options import inference_settings, refuse_unused_patch_options, with_inference_options
from srbench.cli.row_printer import RowPrinter
from srbench.config import load_config
from srbench.estimate import DETAILED_PROBE, compared_summary, estimate_evaluation, estimate_table
from srbench.evaluation import parse_shard, plan_evaluation
from srbench.measurement import result_columns, select_metrics
from srbench.io.paths import check_creatable_dir
from srbench.progress import progress_bar
from srbench.stage_times import StageTimes


@click.command("evaluate")
@click.option("--track", "track_name", default="insample", show_default=True, help="A track name, 'ood' (all out-of-distribution tracks), 'insample', or 'all'.")
@click.option("--method", "methods", multiple=True, metavar="NAME", help="Method to evaluate (repeatable). Default: trilinear and every method with a trained run.")
@click.option("--checkpoint", type=PathParam(), default=None, help="Weights for the single --method given (default: its newest run for the track).")
@click.option("--results", "results_path", type=PathParam(dir_okay=False), default=None, help="Results store (default: results/results.sqlite).")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True, help="How per-subject results are printed on stdout.")
@click.option("--force", is_flag=True, help="Recompute and replace results already stored for the same run and subject.")
@click.option("--jobs", default=1, show_default=True, help="Subjects evaluated in parallel worker processes, the CPU threads split between them; each plans its tiles with the full --memory-budget (the speed-up measured on 2 cores is in benchmarks/README.md).")
@click.option("--shard", default=None, metavar="i/n|auto", help="Evaluate only shard i of n of each track's subjects (merge stores with `srbench results merge`); auto: this SLURM array task's shard (SLURM_ARRAY_TASK_ID, _COUNT, _MIN).")
@click.option("--save-predictions/--no-save-predictions", default=True, show_default=True, help="Keep the SR volumes of each track's first subject next to the store (for `leaderboard --figures`).")
@click.option("--metric", "metrics", multiple=True, metavar="NAME", help="Compute only this metric (repeatable; default: every installed metric). Recorded with the run; boards say which rows lack a metric.")
@click.option("--skip-metric", "skipped_metrics", multiple=True, metavar="NAME", help="Do not compute this metric (repeatable), e.g. --skip-metric lpips.")
@click.option("--estimate", "estimate_only", is_flag=True, help="Print the expected time per track, method and metric on this machine (header sizes and a short probe) and stop.")
@click.option("--figure-subject", default=None, metavar="ID", help="Subject whose SR volumes are kept for the figures (default: each track's first).")
@click.option("--derivatives", "derivatives_dir", type=PathParam(file_okay=False), default=None, metavar="DIR", help="Also write every subject's SR volume of every method as BIDS derivatives: DIR/srbench-<method>/ (docs/external.md).")
@click.option("--runs-root", type=PathParam(file_okay=False), default=None, help="Where to look for trained runs (default: ./runs).")
@config_option
@with_inference_options
@device_option
@click.pass_context
def command(ctx, track_name, methods, checkpoint, results_path, output_format, force, jobs, shard, save_predictions, metrics, skipped_metrics, estimate_only, figure_subject, derivatives_dir, runs_root, config_path, memory_budget, halo, patch_size, overlap, batch_size, precision, device) -> None:
    """Evaluate methods on a track: degrade each test volume, super-resolve it, score it.

    One row per subject × method × track × metric goes into the results store; rows
    already stored for the same run are skipped unless --force. Per-subject results are
    printed on stdout (json: one object per line).
    """
    from srbench.evaluation import open_results_store, run_evaluation

    started = time.perf_counter()  # the wall time printed at the end includes loading and planning
    if jobs < 1:
        raise click.BadParameter("must be at least 1", param_hint="--jobs")
    pm = plugin_manager(ctx)
    config = load_config(config_path, pm=pm)
    settings = inference_settings(patch_size=patch_size, overlap=overlap, batch_size=batch_size, device=device,
                                  memory_budget=memory_budget, halo=halo, precision=precision)
    shard_spec = parse_shard(shard)
    selection = select_metrics(pm, include=metrics, exclude=skipped_metrics)
    plan = plan_evaluation(
        config=config, pm=pm, track_name=track_name, methods=methods, checkpoint=checkpoint,
        runs_root=runs_root, shard=shard_spec, device=settings.device, figure_subject=figure_subject,
    )
    refuse_unused_patch_options(ctx, [model for track in plan.tracks for model, _ in track.methods])
    if estimate_only:
        for note in plan.notes:
            click.echo(note, err=True)
        estimate = estimate_evaluation(plan, pm=pm, settings=settings, metrics=selection, divisors=DETAILED_PROBE)
        click.echo(estimate_table(estimate))
        click.echo(f"estimated {estimate.total:.0f} s in one process on this machine"
                   + (f"; not estimated: {', '.join(estimate.unknown)}" if estimate.unknown else ""), err=True)
        return
    if derivatives_dir is not None:
        check_creatable_dir(derivatives_dir, what="derivatives folder")
    store, predictions_dir = open_results_store(results_path, reads=[config.path, *plan.inputs()],
                                                save_predictions=save_predictions)
    for note in plan.notes:
        click.echo(note, err=True)
    estimate = estimate_evaluation(plan, pm=pm, settings=settings, metrics=selection)
    click.echo(f"estimate: about {estimate.total:.0f} s in one process on this machine (evaluate --estimate "
               "details it per track, method and metric)", err=True)
    printer = RowPrinter(output_format=output_format, columns=result_columns(pm, selection))
    outcomes = run_evaluation(
        plan, pm=pm, store=store, settings=settings, force=force, jobs=jobs, predictions_dir=predictions_dir,
        disabled_plugins=tuple((ctx.find_root().obj or {}).get("disabled_plugins", ())),
        progress=progress_bar, derivatives_dir=derivatives_dir, metrics=selection,
    )
    times = StageTimes()
    for outcome in outcomes:
        times.merge([outcome.seconds])
        printer.add(outcome)
        if outcome.status == "not-applicable" and outcome.detail:
            click.echo(f"{outcome.method} on {outcome.track}: not applicable ({outcome.detail})", err=True)
    printer.finish()
    click.echo(f"results stored in {store.path}", err=True)
    if times.seconds:
        click.echo(f"wall time {time.perf_counter() - started:.1f} s (estimated {estimate.total:.0f} s); "
                   f"time per stage: {compared_summary(times.seconds, estimate)}", err=True)
