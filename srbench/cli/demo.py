"""``srbench demo``: the main job on the embedded demo data (train, evaluate, publish)."""

from __future__ import annotations

from pathlib import Path

import click

from srbench.cli.common import PathParam, plugin_manager


@click.command("demo")
@click.option("--method", "methods", multiple=True, metavar="NAME", help="Learned method to train and evaluate (repeatable; default: trigan).")
@click.option("--preset", default="cpu", show_default=True, help="Training preset of each method.")
@click.option("--results", "results_path", type=PathParam(dir_okay=False), default=Path("results/demo.sqlite"), show_default=True, help="Results store.")
@click.option("--out", "out_dir", type=PathParam(file_okay=False), default=Path("results/leaderboards"), show_default=True, help="Leaderboard folder (git-ignored by default; the committed leaderboards/ is never touched).")
@click.option("--retrain", is_flag=True, help="Train again even when a finished run exists.")
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Override each preset's number of training iterations (e.g. a quick smoke run).")
@click.pass_context
def command(ctx: click.Context, methods: tuple[str, ...], preset: str, results_path: Path, out_dir: Path, retrain: bool, iterations: int | None) -> None:
    """Train METHODs on the demo in-sample track, evaluate them and trilinear on every demo
    track, and write the leaderboard (markdown and figures) to --out (results/leaderboards/,
    beside the results store; the committed reference boards in leaderboards/ are left as they are).

    A finished run of the same method and preset is reused unless --retrain.
    """
    import pandas as pd

    import srbench.api as sr
    from srbench.cli.leaderboard_cmd import report_written
    from srbench.config import load_config
    from srbench.defaults import BASELINE_METHOD
    from srbench.io.checkpoint import MODEL_FILE
    from srbench.leaderboard.markdown import write_leaderboards
    from srbench.results.store import ResultsStore
    from srbench.runs import default_run_dir

    pm = plugin_manager(ctx)
    methods = methods or ("trigan",)
    for method in methods:
        pm.get("trainer", method)
    config = load_config(None, pm=pm)
    demo_tracks = [
        t.name for t in config.select_tracks("all")
        if not t.cross_validated and not config.dataset(t.test).uses_data_root
    ]
    results_path.parent.mkdir(parents=True, exist_ok=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    checkpoints: dict[str, Path] = {}
    for method in methods:
        run_dir = default_run_dir(method, preset, "insample")
        checkpoints[method] = run_dir / MODEL_FILE
        if not retrain and checkpoints[method].is_file():
            click.echo(f"reusing the finished run {run_dir} (pass --retrain to train again)", err=True)
            continue
        click.echo(f"training {method} (preset {preset}) on track insample → {run_dir}", err=True)
        [checkpoints[method]] = sr.train(
            method, track="insample", preset=preset, run_dir=run_dir, resume=not retrain and run_dir.exists(),
            iterations=iterations, progress=True, pm=pm,
        )
    rows = [
        sr.evaluate(track, methods=[method], checkpoint=checkpoints.get(method), results=results_path,
                    save_predictions=True, progress=True, pm=pm)
        for track in demo_tracks
        for method in (BASELINE_METHOD, *methods)
    ]
    table = pd.concat(rows, ignore_index=True).dropna(axis=1, how="all")
    click.echo(table.to_markdown(index=False, floatfmt=".4f"))
    with ResultsStore(results_path, read_only=True) as store:
        written = write_leaderboards(store, out_dir, figures=True, pm=pm)
    report_written(written)
