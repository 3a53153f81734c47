"""Full-volume inference: srbench's patch inference vs MONAI's sliding_window_inference.

The network is the ``paper``-preset three-player GAN generator (randomly initialised:
speed does not depend on the weights). Each configuration runs in a fresh child process
so its peak resident memory is its own. Printed side by side, in one run:

- the machine reference: GFLOP/s of a 64→64-channel 3³ conv3d, forward and forward+backward;
- per configuration: wall time, achieved GFLOP/s (the generator's FLOPs per output
  voxel, overlap included, times the output voxels), the fraction of the conv3d
  reference, peak RSS, and the largest difference to srbench's float32 output.

Usage: ``python benchmarks/bench_inference.py [--lr-size 104 150 160] [--variants-size 52 75 80]``
(requires the ``bench`` extra for MONAI and psutil, and the trigan plugin).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

PATCH, OVERLAP, BATCH = 32, 8, 4


def conv_reference(*, threads: int) -> dict[str, float]:
    """GFLOP/s of a large conv3d (64→64, 3³, 2×64×48³), forward and forward+backward."""
    torch.set_num_threads(threads)
    conv = torch.nn.Conv3d(64, 64, 3, padding=1)
    x = torch.randn(2, 64, 48, 48, 48)
    flop = 2 * x.numel() * 64 * 27
    with torch.inference_mode():
        conv(x)
        start = time.perf_counter()
        for _ in range(3):
            conv(x)
        forward = 3 * flop / (time.perf_counter() - start) / 1e9
    x.requires_grad_(True)
    conv(x).sum().backward()
    start = time.perf_counter()
    for _ in range(2):
        conv(x).sum().backward()
    backward = 2 * 3 * flop / (time.perf_counter() - start) / 1e9
    return {"forward_gflops": forward, "forward_backward_gflops": backward}


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

        with torch.inference_mode():
            result = sliding_window_inference(
                lr[None, None], roi_size=(PATCH,) * 3, sw_batch_size=BATCH, predictor=net,
                overlap=OVERLAP / PATCH, mode="constant",
            )[0, 0]
    else:
        fn = net
        if "channels-last" in mode:
            net = net.to(memory_format=torch.channels_last_3d)

            def fn(x, net=net):
                return net(x.contiguous(memory_format=torch.channels_last_3d)).contiguous()
        if "bf16" in mode:
            inner = fn

            def fn(x, inner=inner):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return inner(x).float()
        result = run_patch_inference(lr, fn, out_scale=(2, 2, 2), settings=settings)
    wall = time.perf_counter() - start
    np.save(out, result.numpy())
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall_s": wall, "patches": n_patches, "peak_rss_gib": peak_kib / 2**20}


def run_child(mode: str, size: tuple[int, int, int], folder: Path, threads: int) -> dict:
    out = folder / f"{mode}-{'x'.join(map(str, size))}.npy"
    cmd = [sys.executable, __file__, "--child", mode, "--lr-size", *map(str, size), "--out", str(out), "--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["output"] = out
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr-size", type=int, nargs=3, default=[104, 150, 160])
    parser.add_argument("--variants-size", type=int, nargs=3, default=[52, 75, 80], help="smaller volume for the precision/layout variants")
    parser.add_argument("--large", action="store_true", help="also run srbench on a 2x larger volume (memory check)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--child")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, tuple(args.lr_size), args.out, args.threads)))
        return
    reference = conv_reference(threads=args.threads)
    net = generator()
    flop_patch = flop_per_patch(net, PATCH)
    out_voxels_patch = (2 * PATCH) ** 3
    print(f"machine reference: conv3d 64->64 3^3 forward {reference['forward_gflops']:.1f} GFLOP/s, "
          f"forward+backward {reference['forward_backward_gflops']:.1f} GFLOP/s ({args.threads} threads)")
    print(f"generator (paper preset): {flop_patch / out_voxels_patch / 1e3:.1f} kFLOP per output voxel of a patch; "
          f"patch {PATCH}^3 LR, overlap {OVERLAP}, batch {BATCH}, flat blending for both")
    rows = []
    plan = [("srbench-fp32", tuple(args.lr_size)), ("monai-fp32", tuple(args.lr_size))]
    plan += [(m, tuple(args.variants_size)) for m in ("srbench-fp32", "srbench-channels-last", "srbench-bf16", "srbench-channels-last-bf16", "monai-fp32")]
    if args.large:
        plan.append(("srbench-fp32", (2 * args.lr_size[0], args.lr_size[1], args.lr_size[2])))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {}
        for mode, size in plan:
            r = run_child(mode, size, folder, args.threads)
            results[(mode, size)] = r
            flop = r["patches"] * flop_patch
            gflops = flop / r["wall_s"] / 1e9
            base = results.get(("srbench-fp32", size))
            diff = float(np.abs(np.load(r["output"]) - np.load(base["output"])).max()) if base else float("nan")
            rows.append((mode, "x".join(map(str, size)), r["wall_s"], gflops, gflops / reference["forward_gflops"], r["peak_rss_gib"], diff))
            print(f"  done {mode} {size}: {r['wall_s']:.1f} s", file=sys.stderr)
    print()
    print("| configuration | LR volume | wall (s) | GFLOP/s | of conv3d fwd | peak RSS (GiB) | max abs diff vs srbench fp32 |")
    print("|---|---|---|---|---|---|---|")
    for mode, size, wall, gflops, frac, rss, diff in rows:
        print(f"| {mode} | {size} | {wall:.1f} | {gflops:.1f} | {frac:.0%} | {rss:.2f} | {diff:.2e} |")
    for size in {s for _, s in plan}:
        ours, theirs = results.get(("srbench-fp32", size)), results.get(("monai-fp32", size))
        if ours and theirs:
            print(f"\nLR {size}: MONAI / srbench wall time = {theirs['wall_s'] / ours['wall_s']:.2f}x; "
                  f"peak RSS srbench {ours['peak_rss_gib']:.2f} GiB vs MONAI {theirs['peak_rss_gib']:.2f} GiB")


if __name__ == "__main__":
    main()
