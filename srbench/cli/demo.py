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
    from srbench.cli import evaluate, leaderboard_cmd, train
    from srbench.config import load_config
    from srbench.defaults import BASELINE_METHOD
    from srbench.training.runs import find_latest_model

    pm = plugin_manager(ctx)
    methods = methods or ("trigan",)
    for method in methods:
        pm.get("trainer", method)
    config = load_config(None)
    demo_tracks = [
        t.name for t in config.tracks.values() if not t.cross_validated and not config.dataset(t.test).uses_data_root
    ]
    results_path.parent.mkdir(parents=True, exist_ok=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for method in methods:
        run_dir = Path("runs") / f"{method}-{preset}-insample"
        if not retrain and (run_dir / "model.safetensors").is_file():
            click.echo(f"reusing the finished run {run_dir} (pass --retrain to train again)", err=True)
            continue
        ctx.invoke(
            train.command, method=method, preset=preset, track="insample", run_dir=run_dir,
            resume=not retrain and run_dir.exists(), iterations=iterations,
        )
    for track in demo_tracks:
        checkpoints = {m: find_latest_model(m, track="insample") for m in methods}
        for method in (BASELINE_METHOD, *methods):
            ctx.invoke(
                evaluate.command,
                track_name=track,
                methods=(method,),
                checkpoint=checkpoints.get(method),
                results_path=results_path,
                output_format="table",
            )
    ctx.invoke(leaderboard_cmd.command, results_path=results_path, out_dir=out_dir, figures=True)
