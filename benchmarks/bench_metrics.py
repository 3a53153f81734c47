"""Metrics: srbench's torch PSNR / SSIM / NRMSE vs scikit-image, and LPIPS slices per second.

One seeded synthetic pair of the paper's in-sample size (208 × 300 × 320 by default): a
smooth random field (trilinear up-sampling of coarse noise) as HR, HR plus Gaussian noise
as SR, both put through the intensity convention
(:func:`srbench.metrics.convention.scale_pair`). Printed side by side, in one run:

- the machine reference (GFLOP/s of a 64→64-channel 3³ conv3d forward, see
  ``machine_reference.py``);
- per metric: srbench's value and scikit-image's on the same float32 arrays, their
  absolute difference (goal ≤ 1e-4), the best wall time of each over at least ``--repeats``
  calls and ``--min-seconds`` of timing (the two are timed alternately, so load from other
  processes hits both alike), and the speed-up (goal ≥ 5×);
  PSNR and NRMSE are bounded by memory bandwidth, so their rate of reading the two
  volumes is shown next to the time torch needs merely to sum both volumes (the floor
  any implementation reading them once would meet); SSIM's nominal FLOP rate is shown
  against the conv3d reference;
- LPIPS per plane: slice size, slices timed, slices per second, the AlexNet FLOP rate and
  its fraction of the conv3d reference, and the time a whole plane would take.

Usage: ``python benchmarks/bench_metrics.py [--shape 208 300 320] [--repeats 3]
[--lpips-slices 24] [--threads N]``
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from machine_reference import FlopCounter, conv_reference
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from srbench.metrics import lpips as srlpips
from srbench.metrics.convention import CONVENTION_NAME, scale_pair
from srbench.metrics.nrmse import nrmse
from srbench.metrics.psnr import psnr
from srbench.metrics.ssim import gaussian_taps, ssim

#: Nominal FLOPs per voxel of the SSIM computation: 3 products, 5 moments × 3 axes ×
#: 11 taps × 2 (multiply and add), and about 16 operations for the SSIM map and its sum.
SSIM_FLOP_PER_VOXEL = 3 + 5 * 3 * len(gaussian_taps()) * 2 + 16


def synthetic_pair(shape: tuple[int, int, int], *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sr01, hr01)``: a smooth field and a noisy copy, scaled by the convention."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand((1, 1, *(max(2, n // 16) for n in shape)), generator=generator)
    hr = F.interpolate(coarse, size=shape, mode="trilinear", align_corners=False)[0, 0] * 1000.0
    sr = hr + 20.0 * torch.randn(shape, generator=generator)
    return scale_pair(sr, hr)


def best_times(
    functions: dict[str, callable], *, repeats: int, min_seconds: float
) -> tuple[dict[str, float], dict[str, float], int]:
    """Best wall time of each function, timed alternately so load from other processes hits both alike.

    Each function is called once untimed (its value is kept), then the round of timed calls
    is repeated at least ``repeats`` times and until every function has been timed for
    ``min_seconds`` in total: a 5 ms metric gets many more rounds than a 2 s one, so its
    best time is not one lucky or unlucky call. Returns the values, the best times and the
    number of rounds.
    """
    values = {name: fn() for name, fn in functions.items()}
    best = {name: math.inf for name in functions}
    spent = dict.fromkeys(functions, 0.0)
    rounds = 0
    while rounds < repeats or min(spent.values()) < min_seconds:
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            best[name] = min(best[name], elapsed)
            spent[name] += elapsed
        rounds += 1
    return values, best, rounds


def metric_rows(
    sr: torch.Tensor, hr: torch.Tensor, *, repeats: int, min_seconds: float, reference_gflops: float
) -> list[list[str]]:
    a, b = hr.numpy(), sr.numpy()
    pairs = {
        "PSNR (dB)": (lambda: psnr(sr, hr), lambda: peak_signal_noise_ratio(a, b, data_range=1)),
        "SSIM 3D": (
            lambda: ssim(sr, hr),
            lambda: structural_similarity(
                a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1
            ),
        ),
        "NRMSE": (lambda: nrmse(sr, hr), lambda: normalized_root_mse(a, b)),
    }
    rows = []
    totals = [0.0, 0.0]
    input_bytes = 2 * sr.numel() * sr.element_size()
    for name, (ours, theirs) in pairs.items():
        functions = {"ours": ours, "skimage": theirs}
        if not name.startswith("SSIM"):  # the memory-bandwidth floor: just summing both volumes
            functions["read floor"] = lambda: float(sr.sum()) + float(hr.sum())
        values, best, rounds = best_times(functions, repeats=repeats, min_seconds=min_seconds)
        totals[0] += best["ours"]
        totals[1] += best["skimage"]
        diff = abs(values["ours"] - values["skimage"])
        speedup = best["skimage"] / best["ours"]
        if name.startswith("SSIM"):
            rate = SSIM_FLOP_PER_VOXEL * sr.numel() / best["ours"] / 1e9
            throughput = f"{rate:.1f} GFLOP/s ({rate / reference_gflops:.1%} of conv3d)"
        else:
            throughput = (
                f"{input_bytes / best['ours'] / 1e9:.1f} GB/s read (summing both volumes alone: "
                f"{best['read floor'] * 1e3:.1f} ms, {input_bytes / best['read floor'] / 1e9:.1f} GB/s)"
            )
        rows.append(
            [
                name,
                f"{values['ours']:.7f}",
                f"{values['skimage']:.7f}",
                f"{diff:.1e}",
                "yes" if diff <= 1e-4 else "NO",
                str(rounds),
                f"{best['ours'] * 1e3:.1f}",
                f"{best['skimage'] * 1e3:.1f}",
                f"{speedup:.1f}×",
                "yes" if speedup >= 5 else f"no ({5 / speedup:.1f}× short)",
                throughput,
            ]
        )
    speedup = totals[1] / totals[0]
    rows.append(
        ["all three", "", "", "", "", "", f"{totals[0] * 1e3:.1f}", f"{totals[1] * 1e3:.1f}", f"{speedup:.1f}×",
         "yes" if speedup >= 5 else "no", ""]
    )
    return rows


def lpips_rows(
    sr: torch.Tensor, hr: torch.Tensor, *, slices: int, reference_gflops: float, affine: np.ndarray
) -> list[list[str]]:
    network = srlpips.lpips_network()
    rows = []
    for plane, axis in srlpips.plane_axes(affine).items():
        count = min(slices, sr.shape[axis])
        sub_sr, sub_hr = sr.narrow(axis, 0, count), hr.narrow(axis, 0, count)
        srlpips.plane_lpips(sub_sr.narrow(axis, 0, 1), sub_hr.narrow(axis, 0, 1), axis=axis, network=network)
        with FlopCounter([network]) as counter:
            start = time.perf_counter()
            srlpips.plane_lpips(sub_sr, sub_hr, axis=axis, network=network)
            elapsed = time.perf_counter() - start
        rate = count / elapsed
        gflops = counter.forward / elapsed / 1e9
        size = [n for i, n in enumerate(sr.shape) if i != axis]
        rows.append(
            [
                plane,
                f"{size[0]}×{size[1]}",
                str(count),
                f"{rate:.2f}",
                f"{gflops:.1f}",
                f"{gflops / reference_gflops:.1%}",
                f"{sr.shape[axis] / rate:.1f}",
            ]
        )
    return rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(208, 300, 320), help="volume shape (W H D)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per function at least (best is kept)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="and at least this much timed per function")
    parser.add_argument("--lpips-slices", type=int, default=24, help="slices timed per LPIPS plane")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = tuple(args.shape)
    reference = conv_reference(threads=args.threads)["forward_gflops"]
    sr, hr = synthetic_pair(shape, seed=args.seed)
    print(f"# Metrics benchmark: {shape[0]}×{shape[1]}×{shape[2]} float32 pair, seed {args.seed}")
    print()
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} threads; conv3d reference forward {reference:.1f} GFLOP/s; "
        f"intensity convention {CONVENTION_NAME}"
    )
    print()
    header = ["metric", "srbench", "scikit-image", "|diff|", "≤1e-4", "timed calls", "srbench ms", "skimage ms", "speed-up", "≥5×",
              "srbench throughput"]
    print(markdown(header, metric_rows(sr, hr, repeats=args.repeats, min_seconds=args.min_seconds, reference_gflops=reference)))
    print()
    lpips_header = ["LPIPS plane", "slice", "slices timed", "slices/s", "AlexNet GFLOP/s", "of conv3d", "s per plane"]
    print(markdown(lpips_header, lpips_rows(sr, hr, slices=args.lpips_slices, reference_gflops=reference,
                                            affine=np.eye(4))))


if __name__ == "__main__":
    main()
