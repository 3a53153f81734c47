"""LPIPS of a 208×300×320 pair against its ideal: the AlexNet FLOPs of every slice of the
three planes at the conv2d rate measured in the same run, and what bf16 would change.

Prints a markdown table: wall time of :func:`srbench.metrics.lpips.lpips_planes` (float32,
as boards use it), the FLOPs it computes (conv layers of both images of every slice, lin
heads included), the ideal time at the reference rate (a 192→384 3×3 conv2d on a batch of
16 feature maps of 38×40, AlexNet's conv3 shape on a 300×320 slice: the rate oneDNN
reaches on LPIPS's own shapes), the ratio, and the same under bf16 autocast with its change
of every LPIPS value (the calibration against the published LPIPS values allows 2e-4).

Usage: ``python benchmarks/bench_lpips.py [--threads N]``
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

from srbench.metrics import lpips as srlpips

SHAPE = (208, 300, 320)


def _out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def alexnet_flops(h: int, w: int) -> int:
    """FLOPs (2 per multiply-add) of LPIPS's AlexNet stack and lin heads on one h × w image."""
    h1, w1 = _out(h, 11, 4, 2), _out(w, 11, 4, 2)
    h2, w2 = _out(h1, 3, 2, 0), _out(w1, 3, 2, 0)
    h3, w3 = _out(h2, 3, 2, 0), _out(w2, 3, 2, 0)
    convs = 64 * 3 * 121 * h1 * w1 + 192 * 64 * 25 * h2 * w2 + (384 * 192 + 256 * 384 + 256 * 256) * 9 * h3 * w3
    lins = 64 * h1 * w1 + 192 * h2 * w2 + (384 + 256 + 256) * h3 * w3
    return 2 * (convs + lins)


def conv2d_rate(seconds: float = 2.0) -> float:
    """GFLOP/s of a 192→384 3×3 conv2d on (16, 192, 38, 40), float32."""
    x, weight = torch.randn(16, 192, 38, 40), torch.randn(384, 192, 3, 3)
    with torch.inference_mode():
        F.conv2d(x, weight, padding=1)
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            F.conv2d(x, weight, padding=1)
            calls += 1
    return 2 * 16 * 384 * 192 * 9 * 38 * 40 * calls / (time.perf_counter() - start) / 1e9


def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth HR volume in [0, 1] and an SR volume with 3 % noise (every slice differs)."""
    generator = torch.Generator().manual_seed(0)
    hr = F.avg_pool3d(torch.rand(1, 1, *SHAPE, generator=generator), 5, 1, 2)[0, 0]
    hr = (hr - hr.min()) / (hr.max() - hr.min())
    sr = (hr + 0.03 * torch.randn(SHAPE, generator=generator)).clamp(0, 1)
    return sr, hr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sr, hr = pair()
    network = srlpips.lpips_network()
    flops = sum(n * 2 * alexnet_flops(h, w) for h, w, n in
                ((SHAPE[1], SHAPE[2], SHAPE[0]), (SHAPE[0], SHAPE[2], SHAPE[1]), (SHAPE[0], SHAPE[1], SHAPE[2])))
    before = conv2d_rate()
    start = time.perf_counter()
    values = srlpips.lpips_planes(sr, hr, affine=np.eye(4), network=network)
    float32 = time.perf_counter() - start
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16_values = srlpips.lpips_planes(sr, hr, affine=np.eye(4), network=network)
    bf16 = time.perf_counter() - start
    after = conv2d_rate()
    rate = max(before, after)
    ideal = flops / (rate * 1e9)
    change = max(abs(bf16_values[k] - values[k]) for k in values)
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; conv2d reference {before:.1f} GFLOP/s before, {after:.1f} after")
    print(f"pair {SHAPE[0]}×{SHAPE[1]}×{SHAPE[2]}: {flops / 1e12:.3f} TFLOP (AlexNet on both images of "
          f"{sum(SHAPE)} slices), ideal {ideal:.1f} s at {rate:.1f} GFLOP/s\n")
    print("| precision | wall (s) | GFLOP/s | × ideal | LPIPS (mean of planes) | largest change of a value |")
    print("|---|---|---|---|---|---|")
    print(f"| float32 | {float32:.1f} | {flops / float32 / 1e9:.1f} | {float32 / ideal:.2f} | {values['lpips']:.6f} | — |")
    print(f"| bf16 autocast | {bf16:.1f} | {flops / bf16 / 1e9:.1f} | {bf16 / ideal:.2f} | {bf16_values['lpips']:.6f} "
          f"| {change:.2e} ({'within' if change <= 2e-4 else 'beyond'} the 2e-4 calibration) |")


if __name__ == "__main__":
    main()
