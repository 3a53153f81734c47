"""Evaluation throughput and bf16 inference, measured on the embedded demo.

Subcommands (markdown on stdout, figures measured side by side in one run):

- ``stages``: ``srbench evaluate --track all`` on the demo benchmark with every method
  (trilinear and the four learned methods' ``cpu`` runs), run as the CLI runs it, into a
  scratch store: wall time and the time per stage (load, degrade, predict, intensity
  convention, each metric, store, save) summed over subjects. Every demo track has one
  test subject per evaluation (a cv fold holds out one), so ``--jobs 2`` is measured on a
  track added for it: the four demo heads, scored by the in-sample models, ``--jobs 1``
  against ``--jobs 2``.
- ``precision``: the demo's in-sample and out-of-distribution tracks (``--tracks``) in float32 and with bf16 autocast
  (``InferenceSettings(precision="bfloat16")``), track by track and method by method: the
  change of every metric's mean and whether each track's ranking (by PSNR, SSIM and
  LPIPS) changes; and the ``paper`` trigan generator (random weights) in both precisions
  on the in-sample test subject.

Usage: ``python benchmarks/bench_evaluate.py stages [--jobs 2]``,
``python benchmarks/bench_evaluate.py precision``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import time
from pathlib import Path


from bench_inference import generator
from bench_tiling import cpu_line

RANKED = ("psnr", "ssim", "lpips")


HEADS_TRACK = """

[tracks.bench-heads]
kind = "ood"
models_from = "insample"
test = "demo-t1-heads"
description = "the four demo heads scored by the in-sample models (for --jobs)"
"""


def heads_config(folder: Path) -> Path:
    """The repository's datasets.toml with absolute paths and the ``bench-heads`` track."""
    root = Path.cwd()
    text = (root / "datasets.toml").read_text().replace('"srbench/demo/', f'"{root}/srbench/demo/')
    path = folder / "datasets.toml"
    path.write_text(text + HEADS_TRACK)
    return path


def evaluate(store_path: Path, *, jobs: int, precision: str = "float32", track: str = "all",
             config_path: Path | None = None) -> tuple[float, dict[str, float], list]:
    """Evaluate ``track`` of the demo with every method; return wall seconds, stage seconds and outcomes."""
    from srbench.config import load_config
    from srbench.evaluation import open_results_store, plan_evaluation, run_evaluation
    from srbench.interfaces import InferenceSettings
    from srbench.plugins import get_plugin_manager
    from srbench.stage_times import StageTimes

    pm = get_plugin_manager()
    start = time.perf_counter()
    config = load_config(config_path, pm=pm)
    plan = plan_evaluation(config=config, pm=pm, track_name=track, methods=(), checkpoint=None, runs_root=None,
                           shard=(0, 1), device="cpu")
    store, predictions = open_results_store(store_path, reads=[config.path, *plan.inputs()], save_predictions=True)
    settings = InferenceSettings(precision=precision)
    with store:
        outcomes = list(run_evaluation(plan, pm=pm, store=store, settings=settings, jobs=jobs, predictions_dir=predictions))
    times = StageTimes().merge(o.seconds for o in outcomes)
    return time.perf_counter() - start, times.seconds, outcomes


def stages(args: argparse.Namespace) -> None:
    print(f"CPU: {cpu_line()}")
    with tempfile.TemporaryDirectory() as tmp:
        wall, seconds, outcomes = evaluate(Path(tmp) / "all.sqlite", jobs=1)
        print(f"  done --track all: {wall:.1f} s", file=sys.stderr, flush=True)
        config = heads_config(Path(tmp))
        heads = {}
        for jobs in (1, args.jobs):
            heads[jobs] = evaluate(Path(tmp) / f"heads{jobs}.sqlite", jobs=jobs, track="bench-heads", config_path=config)
            print(f"  done bench-heads --jobs {jobs}: {heads[jobs][0]:.1f} s", file=sys.stderr, flush=True)
    total = sum(seconds.values())
    computed = sum(o.status == "ok" for o in outcomes)
    print(f"\n`srbench evaluate --track all` on the demo: {computed} method × subject evaluations, wall {wall:.1f} s")
    print()
    print("| stage | seconds | share |")
    print("|---|---|---|")
    for name, value in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"| {name} | {value:.1f} | {100 * value / total:.1f}% |")
    print(f"| (wall: the stages plus loading the models and planning) | {wall:.1f} | |")
    (one, _, _), (two, _, done) = heads[1], heads[args.jobs]
    print(f"\n--jobs on the four demo heads ({sum(o.status == 'ok' for o in done)} evaluations): --jobs 1 {one:.1f} s, "
          f"--jobs {args.jobs} {two:.1f} s, speed-up {one / two:.2f}×")


def _means(outcomes: list) -> dict[tuple[str, str], dict[str, float]]:
    sums: dict[tuple[str, str], dict[str, list[float]]] = {}
    for o in outcomes:
        if o.status == "ok":
            for metric, value in o.values.items():
                sums.setdefault((o.track, o.method), {}).setdefault(metric, []).append(value)
    return {key: {m: sum(v) / len(v) for m, v in metrics.items()} for key, metrics in sums.items()}


def _ranking(means: dict, track: str, metric: str, *, higher: bool) -> list[str]:
    methods = [(m, v[metric]) for (t, m), v in means.items() if t == track and metric in v]
    return [m for m, _ in sorted(methods, key=lambda item: -item[1] if higher else item[1])]


def precision(args: argparse.Namespace) -> None:
    print(f"CPU: {cpu_line()}")
    runs: dict[str, list] = {"float32": [], "bfloat16": []}
    walls = dict.fromkeys(runs, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        for name in runs:
            for track in args.tracks:
                wall, _, outcomes = evaluate(Path(tmp) / f"{name}.sqlite", jobs=1, precision=name, track=track)
                runs[name] += outcomes
                walls[name] += wall
                print(f"  done {name} {track}: {wall:.1f} s", file=sys.stderr, flush=True)
    a, b = _means(runs["float32"]), _means(runs["bfloat16"])
    print(f"\ndemo tracks {', '.join(args.tracks)}, every method: float32 {walls['float32']:.1f} s, "
          f"bf16 autocast {walls['bfloat16']:.1f} s")
    print()
    print("| track | method | PSNR fp32 | ΔPSNR bf16 (dB) | ΔSSIM | ΔLPIPS |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for key in sorted(a):
        if key not in b:
            continue
        d = {m: b[key][m] - a[key][m] for m in RANKED if m in a[key]}
        if key[1] != "trilinear":
            worst = max(worst, abs(d.get("psnr", 0.0)))
        print(f"| {key[0]} | {key[1]} | {a[key].get('psnr', math.nan):.3f} | {d.get('psnr', math.nan):+.4f} | "
              f"{d.get('ssim', math.nan):+.5f} | {d.get('lpips', math.nan):+.5f} |")
    tracks = sorted({t for t, _ in a})
    changed = [f"{t} ({m})" for t in tracks for m, higher in (("psnr", True), ("ssim", True), ("lpips", False))
               if _ranking(a, t, m, higher=higher) != _ranking(b, t, m, higher=higher)]
    print(f"\nlargest |ΔPSNR| of a learned method: {worst:.4f} dB; rankings changed: {', '.join(changed) or 'none'}")
    paper_generator()


def paper_generator() -> None:
    """The paper generator (random weights) on the in-sample test subject, fp32 vs bf16."""
    from srbench.config import load_config
    from srbench.config.document import configure
    from srbench.data.pairs import degrade_volume, subject_seed
    from srbench.inference import NetworkPredictor
    from srbench.interfaces import InferenceSettings
    from srbench.io.nifti import load_volume
    from srbench.metrics.convention import scale_pair
    from srbench.metrics.psnr import psnr
    from srbench.plugins import get_plugin_manager

    pm = get_plugin_manager()
    config = load_config(None, pm=pm)
    track = config.tracks["insample"]
    subject = config.subjects(track.test, pm)[0]
    degradation = configure(pm.get("degradation", track.degradation), track.degradation_options)
    hr, lr = degrade_volume(load_volume(subject.path), degradation=degradation, scale=track.scale,
                            seed=subject_seed(track_seed=track.seed, subject=subject.subject))
    predictor = NetworkPredictor(generator(), native_scale=(2, 2, 2))
    values = {}
    for name in ("float32", "bfloat16"):
        start = time.perf_counter()
        sr = predictor.predict(lr, scale=track.scale, settings=InferenceSettings(precision=name))
        sr01, hr01 = scale_pair(sr.data, hr.data)
        values[name] = (psnr(sr01, hr01), time.perf_counter() - start)
    print(f"\npaper generator (random weights), LR {lr.shape}: PSNR float32 {values['float32'][0]:.3f} dB "
          f"({values['float32'][1]:.1f} s), bf16 {values['bfloat16'][0]:.3f} dB ({values['bfloat16'][1]:.1f} s): "
          f"ΔPSNR {values['bfloat16'][0] - values['float32'][0]:+.4f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stages")
    s.add_argument("--jobs", type=int, default=2)
    p = sub.add_parser("precision")
    p.add_argument("--tracks", nargs="+", default=["insample", "ood"], help="track selections (a cv track adds its fold models)")
    args = parser.parse_args()
    with contextlib.chdir(Path(__file__).resolve().parent.parent):
        stages(args) if args.command == "stages" else precision(args)


if __name__ == "__main__":
    main()
