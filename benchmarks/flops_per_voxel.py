"""FLOPs of each method's ``paper``-preset network per volume of each paper track, and the
per-volume time estimates of docs/scale-out.md.

Counts, does not time: every network is built on PyTorch's ``meta`` device (shapes only,
no weights, no arithmetic) and run under ``torch.utils.flop_counter.FlopCounterMode``
(2 FLOPs per multiply-add; convolutions, transposed convolutions and matrix products).

- Patch-based methods (trigan, esrgan3d, dcsrn): FLOPs of one forward pass on one LR
  patch (``--patch``, default 32: the fixed patch scheme, an upper bound for the planned tiles), times the number of patches
  :func:`srbench.inference.plan_patches` lays over the track's LR volume (overlap included).
- ArSSR: its encoder's FLOPs per LR voxel of a tile, summed over the tiles its predictor
  encodes (context margins included), plus its decoder's FLOPs per query point times the
  SR voxels (each queried once).
- trilinear: no network (its interpolation is not counted; it takes seconds).

Times are estimates: FLOPs divided by a sustained rate, ``--cpu-gflops`` (default 180:
the paper trigan generator's measured inference rate on the 2-core AVX-512 machine,
97 % of its conv3d reference, benchmarks/README.md) and ``--gpu-gflops`` (default 40,000:
an assumption for an A100-class GPU running float32 convolutions on TF32 tensor cores,
PyTorch's default for cuDNN convolutions, about a quarter of the 156 TFLOP/s peak). They
leave out reading, degrading and the metrics (LPIPS is the largest: ``--lpips-slices-per-s``).

    python benchmarks/flops_per_voxel.py            # markdown on stdout, seconds to run
    python benchmarks/flops_per_voxel.py --format json
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

#: paper tracks → (HR shape in voxels, scale, test volumes, where the shape comes from)
TRACKS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], int, str]] = {
    "paper-insample": ((208, 300, 320), (2, 2, 2), 7, "HCP Lifespan T1w 0.8 mm, 208×300×320 (PAPER.md)"),
    "paper-contrast": ((208, 300, 320), (2, 2, 2), 7, "same subjects, T2w on the T1w grid"),
    "paper-resolution": ((260, 311, 260), (2, 2, 2), 1113, "HCP Young Adult T1w 0.7 mm, 260×311×260 (HCP's T1w_acpc_dc_restore)"),
    "paper-knee": ((320, 320, 256), (2, 2, 2), 20, "mridata.org 3D FSE knee PD, assumed 320×320×256"),
}
METHODS = ("trilinear", "trigan", "esrgan3d", "dcsrn", "arssr")


def count(fn) -> int:
    """FLOPs counted while ``fn()`` runs."""
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            fn()
    return int(counter.get_total_flops())


def paper_network(name: str) -> torch.nn.Module:
    """The inference network of ``name``'s ``paper`` preset at scale 2, on the meta device."""
    from srbench.plugins import get_plugin_manager
    from srbench.training.config import resolve_config

    trainer = get_plugin_manager().get("trainer", name)
    config = resolve_config(trainer, preset="paper", overrides={"scale": [2, 2, 2]})
    with torch.device("meta"):
        algorithm = trainer.build(config, device="meta")
    return algorithm.modules[algorithm.inference_module].eval()


def patch_method_flops(name: str, lr_shape: Sequence[int], *, patch: int, overlap: int) -> dict[str, float]:
    """FLOPs of one LR patch and of the whole LR volume (all patches) for a patch-based method."""
    from srbench.inference import plan_patches
    from srbench.interfaces import InferenceSettings

    network = paper_network(name)
    sizes, boxes = plan_patches(tuple(lr_shape), InferenceSettings(patch_size=patch, overlap=overlap))
    per_patch = count(lambda: network(torch.empty(1, 1, *sizes, device="meta")))
    return {"per_patch": per_patch, "patches": len(boxes), "per_volume": per_patch * len(boxes),
            "per_lr_voxel_of_patch": per_patch / math.prod(sizes)}


def arssr_flops(lr_shape: Sequence[int], *, patch: int, overlap: int, scale: Sequence[int]) -> dict[str, float]:
    """Encoder FLOPs over the predictor's tiles plus decoder FLOPs per SR voxel (ArSSR)."""
    from srbench import grid
    from srbench_arssr.coordinates import owner_ranges

    network = paper_network("arssr")
    edge = min(patch, *lr_shape)
    block = torch.empty(1, 1, edge, edge, edge, device="meta")
    encode = count(lambda: network.encode(block)) / edge**3  # per LR voxel encoded
    features = network.encode(block)
    points = 4096
    positions = torch.zeros(1, points, 3, device="meta")
    frame = torch.tensor([float(edge)] * 3, device="meta")
    query = count(lambda: network.query(block, features, positions, frame_offset=torch.zeros(3, device="meta"),
                                        frame_size=frame)) / points
    out_shape = grid.sr_shape(tuple(lr_shape), tuple(float(s) for s in scale))
    effective = grid.effective_scale(tuple(lr_shape), tuple(float(s) for s in scale))
    tile, margin = max(1, patch - overlap), max(0, overlap // 2)
    axes = [owner_ranges(o, n, s, tile=tile) for o, n, s in zip(out_shape, lr_shape, effective, strict=True)]
    encoded = 0
    for ranges in itertools.product(*axes):
        encoded += math.prod(min(n, r[1] + margin) - max(0, r[0] - margin) for r, n in zip(ranges, lr_shape, strict=True))
    per_volume = encode * encoded + query * math.prod(out_shape)
    return {"encoder_per_lr_voxel": encode, "decoder_per_query": query, "encoded_voxels": encoded,
            "per_volume": per_volume, "per_lr_voxel_of_patch": encode + query * math.prod(scale)}


def human_time(seconds: float) -> str:
    if seconds < 1:
        return "< 1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def array_tasks(volumes: int, seconds_per_volume: float, *, wall_hours: float, max_tasks: int) -> int:
    """Tasks so that each finishes within ``wall_hours`` (at most one per volume, at most ``max_tasks``)."""
    per_task = max(1, int(wall_hours * 3600 // max(seconds_per_volume, 1e-9)))
    return max(1, min(volumes, max_tasks, math.ceil(volumes / per_task)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patch", type=int, default=32, help="LR patch edge of the fixed patch scheme (32, an upper bound for planned tiles)")
    parser.add_argument("--overlap", type=int, default=8, help="LR patch overlap of the fixed patch scheme (8)")
    parser.add_argument("--cpu-gflops", type=float, default=180.0, help="sustained CPU rate (default: measured, 2-core AVX-512)")
    parser.add_argument("--gpu-gflops", type=float, default=40_000.0, help="sustained GPU rate (default: assumed A100-class, TF32)")
    parser.add_argument("--lpips-slices-per-s", type=float, default=30.0, help="CPU LPIPS rate per plane (measured 30–46)")
    parser.add_argument("--wall-hours", type=float, default=8.0, help="target wall time of one array task")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    args = parser.parse_args(argv)

    from srbench.plugins import get_plugin_manager

    installed = set(get_plugin_manager().names("trainer"))
    rows = []
    for track, (hr_shape, scale, volumes, source) in TRACKS.items():
        lr_shape = tuple(n // s for n, s in zip(hr_shape, scale, strict=True))
        lpips_s = sum(hr_shape) / args.lpips_slices_per_s
        for method in METHODS:
            if method == "trilinear":
                flops = {"per_volume": 0.0, "per_lr_voxel_of_patch": 0.0}
            elif method not in installed:
                continue
            elif method == "arssr":
                flops = arssr_flops(lr_shape, patch=args.patch, overlap=args.overlap, scale=scale)
            else:
                flops = patch_method_flops(method, lr_shape, patch=args.patch, overlap=args.overlap)
            cpu_s = flops["per_volume"] / (args.cpu_gflops * 1e9)
            gpu_s = flops["per_volume"] / (args.gpu_gflops * 1e9)
            rows.append({
                "track": track, "method": method, "hr_shape": list(hr_shape), "lr_shape": list(lr_shape),
                "volumes": volumes, "source": source,
                "kflop_per_lr_voxel": flops["per_lr_voxel_of_patch"] / 1e3,
                "tflop_per_volume": flops["per_volume"] / 1e12,
                "cpu_s_per_volume": cpu_s, "gpu_s_per_volume": gpu_s, "lpips_cpu_s_per_volume": lpips_s,
                "cpu_tasks": array_tasks(volumes, cpu_s + lpips_s, wall_hours=args.wall_hours, max_tasks=256),
                "gpu_tasks": array_tasks(volumes, gpu_s + lpips_s, wall_hours=args.wall_hours, max_tasks=256),
            })
    if args.format == "json":
        json.dump({"settings": vars(args), "rows": rows}, sys.stdout, indent=2)
        print()
        return
    print(f"Estimates: FLOPs counted on the meta device (paper presets, scale 2, LR patch {args.patch}, overlap "
          f"{args.overlap}); CPU at {args.cpu_gflops:g} GFLOP/s (measured, 2-core AVX-512), GPU at "
          f"{args.gpu_gflops / 1e3:g} TFLOP/s (assumed, A100-class TF32); array tasks for ≤ {args.wall_hours:g} h "
          f"per task, CPU LPIPS included ({args.lpips_slices_per_s:g} slices/s per plane).\n")
    print("| track | HR volume | volumes | method | kFLOP per LR voxel | TFLOP per volume | CPU per volume | GPU per volume | "
          "array tasks (CPU / GPU) |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        cpu = human_time(r["cpu_s_per_volume"]) if r["tflop_per_volume"] else "—"
        gpu = human_time(r["gpu_s_per_volume"]) if r["tflop_per_volume"] else "—"
        print(f"| {r['track']} | {'×'.join(map(str, r['hr_shape']))} | {r['volumes']} | {r['method']} | "
              f"{r['kflop_per_lr_voxel']:,.0f} | {r['tflop_per_volume']:.1f} | {cpu} | {gpu} | "
              f"{r['cpu_tasks']} / {r['gpu_tasks']} |")
    print(f"\nEvery volume also spends about {human_time(rows[0]['lpips_cpu_s_per_volume'])} on CPU LPIPS "
          f"(W + H + D slices at {args.lpips_slices_per_s:g} slices/s) plus seconds of reading, degrading and the other metrics.")


if __name__ == "__main__":
    main()
