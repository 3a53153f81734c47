"""Full-volume inference: srbench's patch inference vs MONAI's sliding_window_inference.

The network is the ``paper``-preset three-player GAN generator (randomly initialised:
speed does not depend on the weights). Each configuration runs in a fresh child process
so its peak resident memory is its own. Printed side by side, in one run:

- the machine reference: GFLOP/s of a 64→64-channel 3³ conv3d, forward and forward+backward;
- per configuration: wall time, achieved GFLOP/s (the generator's FLOPs per output
  voxel, overlap included, times the output voxels), the fraction of the conv3d
  reference, peak RSS, and the largest difference to srbench's float32 output.

Configurations: ``srbench-<layout>[-bf16]`` runs :func:`srbench.inference.run_patch_inference`
with the network wrapped by :func:`srbench.inference.network_function` for that
``InferenceSettings.memory_format`` / ``precision`` (``srbench-channels-last`` is the
CPU default); ``monai-<layout>`` runs MONAI on the same network in that layout. The
paper-size volume runs the default against MONAI with the same layout (so only the
patch orchestration differs); the smaller volume runs every variant.

Usage: ``python benchmarks/bench_inference.py [--lr-size 104 150 160] [--variants-size 52 75 80]
[--large] [--skip-full] [--skip-variants] [--lock LOCKFILE]``
(requires the ``bench`` extra for MONAI and psutil, and the trigan plugin).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cpu_lock import held
from machine_load import ForeignLoad, format_cores
from machine_reference import conv_reference

PATCH, OVERLAP, BATCH = 32, 8, 4


def generator():
    from srbench_trigan.networks import Generator

    torch.manual_seed(0)
    return Generator(channels=64, growth=32, n_rrdb=3).eval()


def flop_per_patch(network: torch.nn.Module, patch: int) -> int:
    """FLOPs (2 per multiply-add) of one forward pass on a ``(1, 1, patch³)`` input, convs only."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        k = int(np.prod(module.kernel_size))
        total += 2 * output.numel() * (module.in_channels // module.groups) * k

    handles = [m.register_forward_hook(hook) for m in network.modules() if isinstance(m, torch.nn.Conv3d)]
    with torch.inference_mode():
        network(torch.zeros(1, 1, patch, patch, patch))
    for h in handles:
        h.remove()
    return total


def child(mode: str, size: tuple[int, int, int], out: Path, threads: int) -> dict:
    """Run one configuration; return wall time, patch count and peak RSS."""
    torch.set_num_threads(threads)
    from srbench.inference import plan_patches, run_patch_inference
    from srbench.interfaces import InferenceSettings

    net = generator()
    torch.manual_seed(1)
    lr = torch.rand(size)
    settings = InferenceSettings(patch_size=PATCH, overlap=OVERLAP, batch_size=BATCH, blend="average")
    n_patches = len(plan_patches(size, settings)[1])
    start = time.perf_counter()
    if mode.startswith("monai"):
        from monai.inferers import sliding_window_inference

        if "channels-last" in mode:
            net = net.to(memory_format=torch.channels_last_3d)  # conv outputs follow the weights' layout
        with torch.inference_mode():
            result = sliding_window_inference(
                lr[None, None], roi_size=(PATCH,) * 3, sw_batch_size=BATCH, predictor=net,
                overlap=OVERLAP / PATCH, mode="constant",
            )[0, 0]
    else:
        from srbench.inference import network_function

        memory_format = "channels-last" if "channels-last" in mode else "contiguous"
        precision = "bfloat16" if "bf16" in mode else "float32"
        settings = dataclasses.replace(settings, memory_format=memory_format, precision=precision)
        fn = network_function(net, settings=settings)
        result = run_patch_inference(lr, fn, out_scale=(2, 2, 2), settings=settings)
    wall = time.perf_counter() - start
    np.save(out, result.numpy())
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall_s": wall, "patches": n_patches, "peak_rss_gib": peak_kib / 2**20}


def run_child(mode: str, size: tuple[int, int, int], folder: Path, threads: int, lock: Path | None) -> dict:
    out = folder / f"{mode}-{'x'.join(map(str, size))}.npy"
    cmd = [sys.executable, __file__, "--child", mode, "--lr-size", *map(str, size), "--out", str(out), "--threads", str(threads)]
    with held(lock), ForeignLoad() as load:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["output"] = out
    result["other_load"] = load.cores
    return result


#: srbench's default on the CPU (InferenceSettings.memory_format "auto" → channels-last, float32)
DEFAULT = "srbench-channels-last"
VARIANTS = ("srbench-contiguous", "srbench-channels-last", "srbench-contiguous-bf16", "srbench-channels-last-bf16",
            "monai-contiguous", "monai-channels-last")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr-size", type=int, nargs=3, default=[104, 150, 160])
    parser.add_argument("--variants-size", type=int, nargs=3, default=[52, 75, 80], help="smaller volume for the precision/layout variants")
    parser.add_argument("--large", action="store_true", help="also run srbench on a 2x larger volume (memory check)")
    parser.add_argument("--skip-full", action="store_true", help="only the variants-size runs (and --large)")
    parser.add_argument("--skip-variants", action="store_true", help="no variants-size runs")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--lock", type=Path, default=None, help="flock this file during each measurement (shared machines)")
    parser.add_argument("--child")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, tuple(args.lr_size), args.out, args.threads)))
        return
    with held(args.lock), ForeignLoad() as load:
        reference = conv_reference(threads=args.threads)
    net = generator()
    flop_patch = flop_per_patch(net, PATCH)
    out_voxels_patch = (2 * PATCH) ** 3
    print(f"machine reference: conv3d 64->64 3^3 forward {reference['forward_gflops']:.1f} GFLOP/s, "
          f"forward+backward {reference['forward_backward_gflops']:.1f} GFLOP/s ({args.threads} threads; "
          f"other processes used {format_cores(load.cores)} cores meanwhile)")
    print(f"generator (paper preset): {flop_patch / out_voxels_patch / 1e3:.1f} kFLOP per output voxel of a patch; "
          f"patch {PATCH}^3 LR, overlap {OVERLAP}, batch {BATCH}, flat blending for both")
    full, small = tuple(args.lr_size), tuple(args.variants_size)
    plan = [] if args.skip_full else [(DEFAULT, full), ("monai-channels-last", full)]
    plan += [] if args.skip_variants else [(m, small) for m in VARIANTS]
    if args.large:
        plan.append((DEFAULT, (2 * full[0], full[1], full[2])))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {}
        for mode, size in plan:
            r = run_child(mode, size, folder, args.threads, args.lock)
            results[(mode, size)] = r
            flop = r["patches"] * flop_patch
            gflops = flop / r["wall_s"] / 1e9
            base_mode = next((m for m in ("srbench-contiguous", DEFAULT) if (m, size) in results), None)
            base = results[(base_mode, size)] if base_mode and base_mode != mode else None
            diff = float(np.abs(np.load(r["output"]) - np.load(base["output"])).max()) if base else float("nan")
            rows.append((mode, "x".join(map(str, size)), r["wall_s"], gflops, gflops / reference["forward_gflops"],
                         r["peak_rss_gib"], diff, base_mode if base else "-", r["other_load"]))
            print(f"  done {mode} {size}: {r['wall_s']:.1f} s", file=sys.stderr, flush=True)
    print()
    print("| configuration | LR volume | wall (s) | GFLOP/s | of conv3d fwd | peak RSS (GiB) | max abs diff | vs | other load (cores) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode, size, wall, gflops, frac, rss, diff, base_mode, other in rows:
        print(f"| {mode} | {size} | {wall:.1f} | {gflops:.1f} | {frac:.0%} | {rss:.2f} | {diff:.1e} | {base_mode} | {format_cores(other)} |")
    print()
    for size in dict.fromkeys(s for _, s in plan):
        for ours_mode, theirs_mode in ((DEFAULT, "monai-channels-last"), ("srbench-contiguous", "monai-contiguous")):
            ours, theirs = results.get((ours_mode, size)), results.get((theirs_mode, size))
            if ours and theirs:
                print(f"LR {size}: {theirs_mode} / {ours_mode} wall time = {theirs['wall_s'] / ours['wall_s']:.2f}x; "
                      f"peak RSS {ours['peak_rss_gib']:.2f} GiB vs {theirs['peak_rss_gib']:.2f} GiB")


if __name__ == "__main__":
    main()
