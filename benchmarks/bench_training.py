"""Training throughput of each installed learned method, for its ``cpu`` and ``paper`` presets.

For every trainer registered through the ``register_trainers`` hook and each requested
preset, a fresh child process (so peak memory is its own and an out-of-memory kill
loses one row, not the table) runs the core loop's pieces exactly as
:func:`srbench.training.loop.run_training` chains them: the preset's configuration from
:func:`srbench.training.config.resolve_config`, the algorithm from ``trainer.build``,
batches from :class:`srbench.training.patches.PatchSource` over the track's training
volumes (default: the demo in-sample volumes) through the loop's background
:class:`~srbench.training.patches.BatchPrefetcher`, per-iteration seeding, and
``algorithm.step``. Checkpoints and logs are not written.

Timed are the last iterations of the preset's schedule (so a GAN is measured in its
adversarial phase, not in an L1 warm-up), after ``--warmup`` untimed ones. Printed:

- the machine reference (conv3d 64→64 3³ forward+backward GFLOP/s, same run);
- per method × preset × variant: seconds per iteration (median, and the best one),
  iterations/s and HR voxels/s (batch · patch³ · it/s, from the median), the share of
  wall time the loop waited for data (goal < 10%),
  the time to build one batch on its own, the FLOPs of one step (conv and linear
  layers, forward plus the backward work each call implies), the achieved GFLOP/s and
  its fraction of the reference, the peak resident memory, and how many cores other
  processes kept busy meanwhile (timings on a shared machine mean little without it).

Variants (``--variants``): ``fp32`` (contiguous float32: the loop with
``memory_format = "contiguous"``), ``channels-last`` (modules in
``torch.channels_last_3d``, conv outputs inherit it: what the loop does on the CPU with
the default ``memory_format = "auto"``), ``bf16`` (the step under CPU bf16 autocast; not
used by the loop: it changes the numbers).

Usage: ``python benchmarks/bench_training.py [--methods trigan,dcsrn] [--presets cpu,paper]
[--iterations 5] [--paper-iterations 2] [--variants fp32,channels-last] [--lock LOCKFILE]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from cpu_lock import held
from machine_load import ForeignLoad, format_cores
from machine_reference import FlopCounter, conv_reference

VARIANTS = ("fp32", "channels-last", "bf16")


def training_data(config_path: Path | None, track_name: str):
    """``(volumes, degradation, scale, track)`` of a track's training dataset."""
    from srbench.config import load_config
    from srbench.grid import integer_scale
    from srbench.io.nifti import load_volume
    from srbench.plugins import get_plugin_manager

    pm = get_plugin_manager()
    cfg = load_config(config_path, pm=get_plugin_manager())
    (spec,) = cfg.select_tracks(track_name)
    if spec.train is None:
        raise SystemExit(f"track {spec.name} has no training dataset")
    volumes = [load_volume(s.path) for s in cfg.subjects(spec.train, pm)]
    return volumes, pm.get("degradation", spec.degradation), integer_scale(spec.scale), spec.name


def measure(method: str, preset: str, *, variant: str, iterations: int, warmup: int, config_path: Path | None, track: str) -> dict:
    """Run ``warmup + iterations`` loop iterations of ``method``/``preset``; return the figures."""
    from srbench.plugins import get_plugin_manager
    from srbench.training.config import resolve_config
    from srbench.training.patches import BatchPrefetcher, PatchSource
    from srbench.training.seeding import derive_seed, make_generator

    volumes, degradation, scale, track_name = training_data(config_path, track)
    trainer = get_plugin_manager().get("trainer", method)
    config = resolve_config(trainer, preset=preset, overrides={"scale": scale}, track=track_name)
    seed, batch_size = int(config.seed), int(config.batch_size)
    source = PatchSource(
        volumes, patch_size=config.patch_size, stride=config.patch_stride, scale=config.scale,
        degradation=degradation, min_foreground=config.min_foreground, seed=seed,
    )
    start = time.perf_counter()
    for i in range(2):
        source.batch(i, batch_size)
    batch_build_s = (time.perf_counter() - start) / 2

    torch.manual_seed(derive_seed(seed, "init"))
    algorithm = trainer.build(config, device="cpu")
    for module in algorithm.modules.values():
        module.train()
        if variant == "channels-last":
            module.to(memory_format=torch.channels_last_3d)
    total = int(config.iterations)
    count = warmup + iterations
    first = max(0, total - count)
    prefetcher = BatchPrefetcher(source, batch_size=batch_size)
    counter = FlopCounter(algorithm.modules.values())
    walls, waits = [], []
    try:
        for i in range(first, first + count):
            t0 = time.perf_counter()
            batch, waited = prefetcher.get(i, prefetch_next=i + 1 < first + count)
            torch.manual_seed(derive_seed(seed, "global", i, 0))
            generator = make_generator(seed, "step", i, 0)
            precision = torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16" else contextlib.nullcontext()
            counting = counter if i == first else contextlib.nullcontext()
            with counting, precision:
                algorithm.step(batch, iteration=i, total=total, generator=generator)
            if i >= first + warmup:
                walls.append(time.perf_counter() - t0)
                waits.append(waited)
    finally:
        prefetcher.close()
    wall = sum(walls)
    return {
        "batch": batch_size,
        "patch": int(config.patch_size),
        "first_timed": first + warmup,
        "timed": len(walls),
        "s_per_it": statistics.median(walls),
        "best_s_per_it": min(walls),
        "wait_share": sum(waits) / wall,
        "batch_build_s": batch_build_s,
        "step_gflop": counter.total / 1e9,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def run_child(method: str, preset: str, variant: str, args: argparse.Namespace, iterations: int) -> dict:
    cmd = [
        sys.executable, __file__, "--child", f"{method}:{preset}:{variant}", "--iterations", str(iterations),
        "--warmup", str(args.warmup), "--threads", str(args.threads), "--track", args.track,
    ]
    if args.config:
        cmd += ["--config", str(args.config)]
    with held(args.lock), ForeignLoad() as load:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"killed by signal {-done.returncode} (out of memory?)"
        return {"error": reason[:120]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["other_load"] = load.cores
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="", help="comma-separated trainer names (default: every installed one)")
    parser.add_argument("--presets", default="cpu,paper", help="comma-separated presets (default: cpu,paper)")
    parser.add_argument("--variants", default="fp32", help=f"comma-separated, of {', '.join(VARIANTS)} (default: fp32)")
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per cpu-size preset")
    parser.add_argument("--paper-iterations", type=int, default=2, help="timed iterations for the paper preset")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations first (FLOPs are counted in the first)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--track", default="insample", help="track whose training volumes are used")
    parser.add_argument("--config", type=Path, default=None, help="datasets.toml (default: srbench's lookup)")
    parser.add_argument("--lock", type=Path, default=None, help="flock this file during each measurement (shared machines)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        torch.set_num_threads(args.threads)
        method, preset, variant = args.child.split(":")
        result = measure(method, preset, variant=variant, iterations=args.iterations, warmup=args.warmup,
                         config_path=args.config, track=args.track)
        print(json.dumps(result))
        return

    from srbench.plugins import get_plugin_manager

    trainers = {t.name: t for t in get_plugin_manager().all("trainer")}
    wanted = [m for m in args.methods.split(",") if m] or sorted(trainers)
    unknown = [m for m in wanted if m not in trainers]
    if unknown:
        raise SystemExit(f"--methods: unknown {', '.join(unknown)}; installed: {', '.join(sorted(trainers))}")
    variants = [v for v in args.variants.split(",") if v]
    if any(v not in VARIANTS for v in variants):
        raise SystemExit(f"--variants: expected some of {', '.join(VARIANTS)}, got {args.variants}")
    with held(args.lock), ForeignLoad() as load:
        reference = conv_reference(threads=args.threads)
    ref = reference["forward_backward_gflops"]
    print(f"machine reference: conv3d 64->64 3^3 forward {reference['forward_gflops']:.1f} GFLOP/s, "
          f"forward+backward {ref:.1f} GFLOP/s ({args.threads} threads; other processes used {format_cores(load.cores)} cores meanwhile)")
    rows = []
    for method in wanted:
        for preset in [p for p in args.presets.split(",") if p]:
            if preset not in trainers[method].presets:
                continue
            n = args.paper_iterations if preset == "paper" else args.iterations
            for variant in variants:
                r = run_child(method, preset, variant, args, n)
                print(f"  done {method} {preset} {variant}: "
                      f"{r.get('error') or format(r['s_per_it'], '.2f') + ' s/it'}", file=sys.stderr, flush=True)
                rows.append((method, preset, variant, r))
    print()
    print("| method | preset | variant | batch × HR patch | timed its (from) | s/it median (best) | it/s | HR voxels/s | "
          "data wait | batch build (s) | GFLOP/step | GFLOP/s | of conv3d fwd+bwd | peak RSS (GiB) | other load (cores) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for method, preset, variant, r in rows:
        if "error" in r:
            print(f"| {method} | {preset} | {variant} | failed: {r['error']} |" + " |" * 11)
            continue
        rate = 1.0 / r["s_per_it"]
        voxels = r["batch"] * r["patch"] ** 3 * rate
        gflops = r["step_gflop"] * rate
        goal = "" if r["wait_share"] < 0.10 else " (goal <10%)"
        print(f"| {method} | {preset} | {variant} | {r['batch']} × {r['patch']}³ | {r['timed']} ({r['first_timed']}) | "
              f"{r['s_per_it']:.2f} ({r['best_s_per_it']:.2f}) | {rate:.3f} | {voxels / 1e6:.2f} M | {r['wait_share']:.1%}{goal} | "
              f"{r['batch_build_s']:.3f} | {r['step_gflop']:.1f} | {gflops:.1f} | {gflops / ref:.0%} | "
              f"{r['peak_rss_gib']:.2f} | {format_cores(r['other_load'])} |")


if __name__ == "__main__":
    main()
