"""The three-player GAN's two bars: training throughput, and the ``cpu`` preset against trilinear.

Modes:

- ``throughput`` (default): the machine reference (conv3d 64→64 3³ forward and
  forward+backward GFLOP/s, measured in this run) next to the training throughput of the
  ``cpu`` and ``paper`` presets — seconds per iteration, iterations/s and HR voxels/s
  (batch · patch³ · it/s), and the achieved GFLOP/s of the step's conv/linear work. Batches
  come from :class:`srbench.training.patches.PatchSource` over the demo in-sample training
  volumes, as in the core loop; the adversarial iterations are timed (and, for ``cpu``,
  the L1 warm-up iterations separately) after one untimed iteration of each, and the
  median step time is reported.
- ``quality``: runs ``srbench train trigan --preset cpu`` on the demo in-sample track as a
  user would (a fresh process; the wall time includes start-up and data loading), then
  degrades each in-sample test subject, super-resolves it with trilinear and with the
  trained model, and prints PSNR, SSIM and LPIPS (mean of the three planes) under the
  metrics' intensity convention, with the bar: ≥ 1.5 dB over trilinear, a lower LPIPS,
  training within 15 minutes.

Usage::

    python benchmarks/bench_trigan.py throughput [--presets cpu,paper] [--iterations 5] [--paper-iterations 1] [--threads 2]
    python benchmarks/bench_trigan.py quality [--run-dir runs/bench-trigan-cpu] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from machine_reference import FlopCounter, conv_reference

TRAIN_BUDGET_S = 15 * 60
PSNR_BAR_DB = 1.5


def _training_volumes(track: str):
    from srbench.config import load_config
    from srbench.io.nifti import load_volume
    from srbench.plugins import get_plugin_manager

    pm = get_plugin_manager()
    cfg = load_config(None, pm=get_plugin_manager())
    (spec,) = cfg.select_tracks(track)
    volumes = [load_volume(s.path) for s in cfg.subjects(spec.train, pm)]
    return volumes, pm.get("degradation", spec.degradation)


def _time_steps(algorithm, source, config, *, first: int, count: int) -> tuple[float, float]:
    """Median seconds per step and FLOPs per step over ``count`` steps from ``first`` (after one untimed).

    Batches are built outside the timed region (the loop prefetches them in a thread);
    the median resists the blips of a shared machine.
    """
    from srbench.training.seeding import make_generator

    def run(i: int) -> float:
        batch = source.batch(i, config.batch_size)
        generator = make_generator(config.seed, "step", i)
        start = time.perf_counter()
        algorithm.step(batch, iteration=i, total=config.iterations, generator=generator)
        return time.perf_counter() - start

    run(first)
    with FlopCounter(algorithm.modules.values()) as counter:
        times = [run(i) for i in range(first + 1, first + 1 + count)]
    return statistics.median(times), counter.total / count


def throughput(args: argparse.Namespace) -> None:
    from srbench.training.config import resolve_config
    from srbench.training.patches import PatchSource
    from srbench_trigan.trainer import TRAINER

    torch.set_num_threads(args.threads)
    reference = conv_reference(threads=args.threads)
    print(f"machine: conv3d 64→64 3³ fp32, {args.threads} thread(s): forward {reference['forward_gflops']:.1f} GFLOP/s, "
          f"forward+backward {reference['forward_backward_gflops']:.1f} GFLOP/s")
    volumes, degradation = _training_volumes("insample")
    trainer = TRAINER
    print(f"{'preset':8s} {'phase':12s} {'batch':>5s} {'patch':>5s} {'s/it':>8s} {'it/s':>8s} {'voxels/s':>10s} "
          f"{'GFLOP/it':>9s} {'GFLOP/s':>8s} {'of ref':>7s}")
    counts = {"cpu": args.iterations, "paper": args.paper_iterations}
    for preset in args.presets.split(","):
        count = counts.get(preset, args.paper_iterations)
        config = resolve_config(trainer, preset=preset, overrides={})
        source = PatchSource(
            volumes, patch_size=config.patch_size, stride=config.patch_stride, scale=config.scale,
            degradation=degradation, min_foreground=config.min_foreground, seed=config.seed,
        )
        torch.manual_seed(0)
        algorithm = trainer.build(config)
        phases = [("adversarial", config.warmup_iterations)]
        if config.warmup_iterations:
            phases.insert(0, ("l1-warmup", 0))
        for phase, first in phases:
            seconds, flop = _time_steps(algorithm, source, config, first=first, count=count)
            voxels = config.batch_size * config.patch_size**3 / seconds
            rate = flop / seconds / 1e9
            print(f"{preset:8s} {phase:12s} {config.batch_size:5d} {config.patch_size:5d} {seconds:8.3f} "
                  f"{1 / seconds:8.3f} {voxels:10.3g} {flop / 1e9:9.1f} {rate:8.1f} "
                  f"{rate / reference['forward_backward_gflops']:7.0%}", flush=True)
        if preset == "cpu":
            adversarial = config.iterations - config.warmup_iterations
            print(f"         cpu preset schedule: {config.warmup_iterations} warm-up + {adversarial} adversarial "
                  "iterations (estimate from the rows above, without data loading)")


def quality(args: argparse.Namespace) -> None:
    from srbench.config import load_config
    from srbench.data.pairs import degrade_volume
    from srbench.interfaces import InferenceSettings
    from srbench.io.nifti import load_volume
    from srbench.metrics.convention import scale_pair
    from srbench.metrics.lpips import lpips_planes
    from srbench.metrics.psnr import psnr
    from srbench.metrics.ssim import ssim
    from srbench.plugins import get_plugin_manager

    run_dir = Path(args.run_dir)
    command = [sys.executable, "-m", "srbench", "train", "trigan", "--preset", "cpu", "--track", "insample",
               "--run-dir", str(run_dir)]
    if run_dir.exists():
        raise SystemExit(f"{run_dir} exists: the timing needs a fresh run, pass another --run-dir")
    start = time.perf_counter()
    subprocess.run(command, check=True)
    train_s = time.perf_counter() - start
    print(f"training: `{' '.join(command[1:])}` took {train_s:.0f} s (budget {TRAIN_BUDGET_S} s)", flush=True)

    torch.set_num_threads(args.threads)
    pm = get_plugin_manager()
    cfg = load_config(None, pm=get_plugin_manager())
    (track,) = cfg.select_tracks("insample")
    degradation = pm.get("degradation", track.degradation)
    settings = InferenceSettings()
    predictors = {
        "trilinear": pm.get("model", "trilinear").load(checkpoint=None),
        "trigan": pm.get("model", "trigan").load(checkpoint=run_dir),
    }
    ok = train_s <= TRAIN_BUDGET_S
    for subject in cfg.subjects(track.test, pm):
        hr, lr = degrade_volume(load_volume(subject.path), degradation=degradation, scale=track.scale)
        scores = {}
        for name, predictor in predictors.items():
            start = time.perf_counter()
            sr = predictor.predict(lr, scale=track.scale, settings=settings)
            seconds = time.perf_counter() - start
            sr01, hr01 = scale_pair(sr.data, hr.data)
            scores[name] = {
                "psnr": psnr(sr01, hr01), "ssim": ssim(sr01, hr01),
                **lpips_planes(sr01, hr01, affine=hr.affine), "predict_s": seconds,
            }
            s = scores[name]
            print(f"{subject.subject:12s} {name:10s} PSNR {s['psnr']:7.3f} dB  SSIM {s['ssim']:.4f}  LPIPS {s['lpips']:.4f} "
                  f"(sag {s['lpips_sagittal']:.4f} cor {s['lpips_coronal']:.4f} ax {s['lpips_axial']:.4f})  "
                  f"predict {seconds:.1f} s", flush=True)
        gain = scores["trigan"]["psnr"] - scores["trilinear"]["psnr"]
        better_lpips = scores["trigan"]["lpips"] < scores["trilinear"]["lpips"]
        ok = ok and gain >= PSNR_BAR_DB and better_lpips
        print(f"{subject.subject:12s} trigan − trilinear: PSNR {gain:+.3f} dB (bar +{PSNR_BAR_DB}), "
              f"LPIPS {scores['trigan']['lpips'] - scores['trilinear']['lpips']:+.4f} (bar < 0)")
    print("bar reached" if ok else "bar NOT reached")
    sys.exit(0 if ok else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("throughput", "quality"), default="throughput")
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per phase of the cpu preset")
    parser.add_argument("--paper-iterations", type=int, default=1, help="timed iterations of the paper preset")
    parser.add_argument("--presets", default="cpu,paper", help="comma-separated presets of the throughput mode")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--run-dir", default="runs/bench-trigan-cpu", help="run directory of the quality mode")
    args = parser.parse_args()
    throughput(args) if args.mode == "throughput" else quality(args)


if __name__ == "__main__":
    main()
