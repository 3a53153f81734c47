"""``srbench train``: train a learned method on a track's training dataset."""

from __future__ import annotations


import click

from srbench.cli.common import PathParam, config_option, device_option, plugin_manager, resolve_device
from srbench.errors import InputError
from srbench.training.plan import default_preset


def parse_assignments(values: tuple[str, ...]) -> dict[str, str]:
    """``("a=1", "b=x,y")`` → ``{"a": "1", "b": "x,y"}``; malformed items raise an InputError."""
    result: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE, e.g. --set min_foreground=0.2")
        result[key.strip()] = value.strip()
    return result


@click.command("train")
@click.argument("method")
@click.option("--preset", default=None, help="Preset of the method (paper, cpu, ...); default: cpu.")
@click.option("--track", default="insample", show_default=True, help="Track whose training dataset is used.")
@config_option
@click.option("--fold", type=click.IntRange(min=1), default=None,
              help="Cross-validation (cv) track: train only fold K (1-based; fold K holds out the K-th subject, or group of subjects, by id). Default: every fold.")
@click.option("--run-dir", type=PathParam(file_okay=False), default=None,
              help="Run directory; default runs/METHOD-PRESET-TRACK (a cv track: one fold-K sub-directory per fold).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's checkpoint (starts fresh when there is none).")
@click.option("--iterations", type=int, default=None, help="Override the preset's number of iterations.")
@click.option("--batch-size", type=int, default=None, help="Override the global batch size (patches per step).")
@click.option("--patch-size", type=int, default=None, help="Override the HR patch edge (voxels).")
@click.option("--seed", type=int, default=None, help="Override the seed.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any configuration field (see the examples); repeatable.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on stderr.")
@device_option
@click.pass_context
def command(ctx, method, preset, track, config_path, fold, run_dir, resume, iterations, batch_size, patch_size, seed,
            assignments, progress, device) -> None:
    """Train METHOD (e.g. trigan) on a track's training volumes.

    \b
    The run directory gets config.json, manifest.json, losses.csv, checkpoint.safetensors
    (resumable) and finally model.safetensors, whose path is printed on stdout.
    Interrupt with Ctrl-C and continue later with --resume; multi-process training:
      torchrun --nproc-per-node 2 -m srbench train METHOD ...

    \b
    Examples (valid for every method: they set fields all configurations share):
      srbench train METHOD --preset cpu
      srbench train METHOD --iterations 2 --run-dir runs/smoke
      srbench train METHOD --set min_foreground=0.2 --set patch_stride=8 --seed 1
      srbench train METHOD --track cohort-t1-cv --resume    (every fold; one model path per fold)
      srbench train METHOD --track cohort-t1-cv --fold 2
    A method's own fields (learning rates, widths...) are in its README; a KEY that
    --set does not know lists them; docs/plugins.md lists the shared ones with units.
    """
    from srbench.config import load_config
    from srbench.training.plan import is_main_process, plan_training, run_jobs

    pm = plugin_manager(ctx)
    trainer = pm.get("trainer", method)
    preset = preset or default_preset(trainer)
    overrides: dict[str, object] = parse_assignments(assignments)
    for key, value in (("iterations", iterations), ("batch_size", batch_size), ("patch_size", patch_size), ("seed", seed)):
        if value is not None:
            overrides[key] = value
    jobs = plan_training(
        trainer=trainer, config=load_config(config_path, pm=pm), pm=pm, track_name=track, preset=preset,
        overrides=overrides, run_dir=run_dir, fold=fold, resume=resume,
    )
    main_process = is_main_process()
    announce = (lambda job: click.echo(job.describe(), err=True)) if main_process else (lambda job: None)
    for model_path in run_jobs(jobs, trainer=trainer, pm=pm, resume=resume, device=resolve_device(device),
                               progress=progress, on_start=announce):
        if main_process:
            click.echo(str(model_path))
