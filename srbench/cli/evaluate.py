"""``srbench evaluate``: run methods on the test subjects of tracks and store the metrics."""

from __future__ import annotations

import csv
import json
import sys
import time

import click

from srbench.cli.common import PathParam, config_option, device_option, plugin_manager
from srbench.cli.predict import inference_settings, refuse_unused_patch_options, with_inference_options
from srbench.config import load_config
from srbench.errors import one_line
from srbench.evaluation import finite_or_none, metric_columns, parse_shard, plan_evaluation
from srbench.progress import progress_bar
from srbench.stage_times import StageTimes


@click.command("evaluate")
@click.option("--track", "track_name", default="insample", show_default=True, help="A track name, 'ood' (all out-of-distribution tracks), 'insample', or 'all'.")
@click.option("--method", "methods", multiple=True, metavar="NAME", help="Method to evaluate (repeatable). Default: trilinear and every method with a trained run.")
@click.option("--checkpoint", type=PathParam(), default=None, help="Weights for the single --method given (default: its newest run for the track).")
@click.option("--results", "results_path", type=PathParam(dir_okay=False), default=None, help="Results store (default: results/results.sqlite).")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True, help="How per-subject results are printed on stdout.")
@click.option("--force", is_flag=True, help="Recompute and replace results already stored for the same run and subject.")
@click.option("--jobs", default=1, show_default=True, help="Subjects evaluated in parallel worker processes, the CPU threads split between them; each plans its tiles with the full --memory-budget (on 2 cores --jobs 2 was 1.13x faster, benchmarks/README.md).")
@click.option("--shard", default=None, metavar="i/n|auto", help="Evaluate only shard i of n of each track's subjects (merge stores with `srbench results merge`); auto: this SLURM array task's shard (SLURM_ARRAY_TASK_ID, _COUNT, _MIN).")
@click.option("--save-predictions/--no-save-predictions", default=True, show_default=True, help="Keep the SR volumes of each track's first subject next to the store (for `leaderboard --figures`).")
@click.option("--runs-root", type=PathParam(file_okay=False), default=None, help="Where to look for trained runs (default: ./runs).")
@config_option
@with_inference_options
@device_option
@click.pass_context
def command(ctx, track_name, methods, checkpoint, results_path, output_format, force, jobs, shard, save_predictions, runs_root, config_path, memory_budget, halo, patch_size, overlap, batch_size, precision, device) -> None:
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
                                  memory_budget=memory_budget, halo=halo, precision=precision)  # fmt: skip
    shard_spec = parse_shard(shard)
    plan = plan_evaluation(
        config=config, pm=pm, track_name=track_name, methods=methods, checkpoint=checkpoint,
        runs_root=runs_root, shard=shard_spec, device=settings.device,
    )
    refuse_unused_patch_options(ctx, [model for track in plan.tracks for model, _ in track.methods])
    for note in plan.notes:
        click.echo(note, err=True)
    store, predictions_dir = open_results_store(results_path, reads=[config.path, *plan.inputs()],
                                                save_predictions=save_predictions)
    printer = RowPrinter(output_format=output_format, columns=metric_columns(pm))
    outcomes = run_evaluation(
        plan, pm=pm, store=store, settings=settings, force=force, jobs=jobs, predictions_dir=predictions_dir,
        shard=shard_spec, disabled_plugins=tuple((ctx.find_root().obj or {}).get("disabled_plugins", ())),
        progress=progress_bar,
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
        click.echo(f"wall time {time.perf_counter() - started:.1f} s; time per stage: {times.summary()}", err=True)


class RowPrinter:
    """Prints per-subject outcomes on stdout as a table, JSON lines or CSV."""

    def __init__(self, *, output_format: str, columns: list[str]) -> None:
        self.output_format = output_format
        self.columns = columns
        self.rows: list[dict] = []
        self.writer = None
        if output_format == "csv":
            self.writer = csv.DictWriter(sys.stdout, fieldnames=["method", "track", "subject", "status", *columns], extrasaction="ignore")
            self.writer.writeheader()

    def add(self, outcome) -> None:
        row = {key: one_line(value) if isinstance(value, str) else value for key, value in outcome.as_row().items()}
        if self.output_format == "json":
            click.echo(json.dumps({k: finite_or_none(v) if isinstance(v, float) else v for k, v in row.items()}))
        elif self.output_format == "csv":
            self.writer.writerow(row)
            sys.stdout.flush()
        else:
            self.rows.append(row)

    def finish(self) -> None:
        if self.output_format != "table" or not self.rows:
            return
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        frame = frame[[c for c in ["method", "track", "subject", "status", *self.columns] if c in frame.columns]]
        click.echo(frame.to_markdown(index=False, floatfmt=".4f"))
