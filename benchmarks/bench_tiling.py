"""Planned-tile inference: speed against the compute limit, seams, and the halo frontier.

Subcommands (each prints markdown tables on stdout, measured side by side in one run):

- ``paper``: full-volume inference of the ``paper``-preset trigan generator (random
  weights: speed does not depend on them) on LR 104×150×160. The *ideal* time is the
  generator's FLOPs for the volume itself (FLOPs per SR voxel × SR voxels) divided by the
  conv3d reference measured in the same run; the planned inference (receptive-field and
  memory probes included) is compared with it and with MONAI's ``sliding_window_inference``
  at srbench's former settings (32³ LR patches, overlap 8, batch 4). Each configuration
  runs in its own child process (peak RSS is its own). ``--frontier`` adds, on a smaller
  volume that fits whole, the tile plans for several halos under a budget that forces
  tiles: redundancy, estimated peak memory, wall time, and the deviation from the
  whole-volume pass.
- ``seams``: every reference method with its shipped ``cpu``-preset in-sample weights, on
  the demo's in-sample test subject: the default plan, a forced tiling with an exact halo,
  one with the effective-radius halo, and the former fixed 32³/8 patches, each against the
  method's whole-volume inference (max and mean absolute difference, PSNR change in dB).

Usage: ``python benchmarks/bench_tiling.py paper [--frontier | --frontier-only] [--skip-monai] [--lock LOCKFILE]``,
``python benchmarks/bench_tiling.py seams``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench_inference import flop_per_patch, generator
from cpu_info import cpu_line
from cpu_lock import held
from machine_load import ForeignLoad, format_cores
from machine_reference import conv_reference

FULL = (104, 150, 160)
FRONTIER = (52, 75, 80)
MONAI_PATCH, MONAI_OVERLAP, MONAI_BATCH = 32, 8, 4


def child(mode: str, size: tuple[int, int, int], out: Path, threads: int, halo: int | None, budget: int | None) -> dict:
    """One configuration in a fresh process: wall time, plan, peak RSS."""
    torch.set_num_threads(threads)
    from srbench.activation_memory import activation_memory
    from srbench.inference import network_function
    from srbench.interfaces import InferenceSettings
    from srbench.receptive_field import probe_context
    from srbench.tiling import default_memory_budget, plan_tiles, run_tiled

    net = generator()
    torch.manual_seed(1)
    lr = torch.rand(size)
    record: dict = {}
    start = time.perf_counter()
    if mode == "monai":
        from monai.inferers import sliding_window_inference

        net = net.to(memory_format=torch.channels_last_3d)
        with torch.inference_mode():
            result = sliding_window_inference(lr[None, None], roi_size=(MONAI_PATCH,) * 3, sw_batch_size=MONAI_BATCH,
                                              predictor=net, overlap=MONAI_OVERLAP / MONAI_PATCH, mode="constant")[0, 0]
        record["computed_voxels"] = None
    else:
        settings = InferenceSettings()
        fn = network_function(net, settings=settings)
        context = probe_context(net, out_scale=(2, 2, 2))
        voxel_bytes, fixed_bytes = activation_memory(fn)
        record["probe_s"] = time.perf_counter() - start
        if mode == "whole":
            plan = plan_tiles(size, context=context, voxel_bytes=voxel_bytes, fixed_bytes=fixed_bytes, budget=2**50)
        else:
            plan = plan_tiles(size, context=context, voxel_bytes=voxel_bytes, fixed_bytes=fixed_bytes,
                              budget=budget or default_memory_budget("cpu"), halo=halo)
        with torch.inference_mode():
            result = run_tiled(lr[None, None], fn, plan=plan, out_scale=(2, 2, 2))[0, 0]
        record.update(plan=plan.describe(), redundancy=plan.redundancy, computed_voxels=plan.computed_voxels,
                      estimated_peak_gib=plan.peak_bytes / 2**30, exact=plan.exact, halo=list(plan.halo),
                      context=[list(context.radius), list(context.fallback)])
    record["wall_s"] = time.perf_counter() - start
    np.save(out, result.numpy())
    record["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return record


def run_child(mode: str, size, folder: Path, threads: int, lock: Path | None, *, halo=None, budget=None) -> dict:
    out = folder / f"{mode}-{halo}-{'x'.join(map(str, size))}.npy"
    cmd = [sys.executable, __file__, "child", "--mode", mode, "--size", *map(str, size), "--out", str(out),
           "--threads", str(threads), *(["--halo", str(halo)] if halo is not None else []),
           *(["--budget", str(budget)] if budget is not None else [])]
    with held(lock), ForeignLoad() as load:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message"
        if "InputError" in last:  # the plan does not fit the budget: a point of the frontier
            return {"error": last.split(":", 1)[-1].strip()}
        raise SystemExit(f"child {mode} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(output=out, other_load=load.cores)
    return result


def psnr_change(a: np.ndarray, b: np.ndarray, reference: np.ndarray) -> float:
    """PSNR(a, reference) − PSNR(b, reference) in dB, peak = the reference's range."""
    peak = float(reference.max() - reference.min()) or 1.0

    def psnr(x: np.ndarray) -> float:
        mse = float(np.mean((x.astype(np.float64) - reference) ** 2))
        return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)

    return psnr(a) - psnr(b)


def paper(args: argparse.Namespace) -> None:
    with held(args.lock), ForeignLoad() as load:
        reference = conv_reference(threads=args.threads)
    rate = reference["forward_gflops"]
    net = generator()
    flop_voxel = flop_per_patch(net, 6) / (12**3)  # 6³: below the head's slab size, no halo counted
    print(f"CPU: {cpu_line()}")
    print(f"machine reference: conv3d 64->64 3^3 forward {rate:.1f} GFLOP/s (other processes used {format_cores(load.cores)} cores)")
    print(f"generator (paper preset): {flop_voxel / 1e3:.1f} kFLOP per SR voxel")
    print()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.frontier_only:
            frontier(args, folder, rate, flop_voxel)
            return
        volume_flop = flop_voxel * math.prod(FULL) * 8
        ideal = volume_flop / (rate * 1e9)
        rows = []
        r = run_child("planned", FULL, folder, args.threads, args.lock)
        rows.append(("planned", r))
        print(f"  done planned: {r['wall_s']:.1f} s", file=sys.stderr, flush=True)
        with held(args.lock), ForeignLoad() as after_load:
            after = conv_reference(threads=args.threads)["forward_gflops"]
        print(f"machine reference again right after the planned run: {after:.1f} GFLOP/s (other processes used "
              f"{format_cores(after_load.cores)} cores); the ideal below uses the higher of the two ({max(rate, after):.1f})")
        ideal = volume_flop / (max(rate, after) * 1e9)
        if not args.skip_monai:
            r = run_child("monai", FULL, folder, args.threads, args.lock)
            rows.append(("monai", r))
            print(f"  done monai: {r['wall_s']:.1f} s", file=sys.stderr, flush=True)
        print(f"LR {'x'.join(map(str, FULL))}: volume {volume_flop / 1e12:.1f} TFLOP, ideal {ideal:.1f} s at the conv3d reference")
        print()
        print("| configuration | wall (s) | of ideal | plan | probes (s) | computed / volume voxels | peak RSS (GiB) | other load (cores) |")
        print("|---|---|---|---|---|---|---|---|")
        for mode, r in rows:
            redundancy = f"{r['redundancy']:.3f}" if r.get("redundancy") else "-"
            print(f"| {mode} | {r['wall_s']:.1f} | {r['wall_s'] / ideal:.2f}× | {r.get('plan', f'{MONAI_PATCH}³ patches, overlap {MONAI_OVERLAP}, batch {MONAI_BATCH}')} "
                  f"| {r.get('probe_s', 0):.1f} | {redundancy} | {r['peak_rss_gib']:.2f} | {format_cores(r['other_load'])} |")
        if len(rows) == 2:
            planned, monai = np.load(rows[0][1]["output"]), np.load(rows[1][1]["output"])
            spread = float(planned.max() - planned.min()) or 1.0
            print(f"\nMONAI / planned wall time = {rows[1][1]['wall_s'] / rows[0][1]['wall_s']:.2f}×; "
                  f"max |planned − MONAI| = {float(np.abs(planned - monai).max()) / spread:.2e} of the output range "
                  "(both approximate the whole-volume pass; see the frontier)")
        if args.frontier:
            frontier(args, folder, rate, flop_voxel)


def frontier(args: argparse.Namespace, folder: Path, rate: float, flop_voxel: float) -> None:
    """Halo choices under a budget forcing four tiles of the smaller volume."""
    whole = run_child("whole", FRONTIER, folder, args.threads, args.lock)
    reference = np.load(whole["output"])
    ideal = flop_voxel * math.prod(FRONTIER) * 8 / (rate * 1e9)
    budget = int(whole["estimated_peak_gib"] * 2**30 * 0.4)
    print(f"\nFrontier on LR {'x'.join(map(str, FRONTIER))} (whole volume: {whole['wall_s']:.1f} s, "
          f"{whole['wall_s'] / ideal:.2f}× ideal, peak RSS {whole['peak_rss_gib']:.2f} GiB); budget {budget / 2**30:.2f} GiB, "
          f"receptive field {whole['context'][0]}, effective radius {whole['context'][1]}:")
    print()
    print("| halo | plan | redundancy | est. peak (GiB) | wall (s) | of ideal | max abs diff | mean abs diff | PSNR of tiled vs whole (dB) | other load (cores) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for halo in args.halos:
        r = run_child("planned", FRONTIER, folder, args.threads, args.lock, halo=halo, budget=budget)
        if "error" in r:
            print(f"| {halo} | does not fit: {r['error']} | | | | | | | | |")
            continue
        out = np.load(r["output"])
        diff = np.abs(out - reference)
        peak = float(reference.max() - reference.min()) or 1.0
        closeness = 10 * math.log10(peak**2 / float(np.mean(diff.astype(np.float64) ** 2))) if diff.max() > 0 else math.inf
        print(f"| {halo} | {r['plan']} | {r['redundancy']:.3f} | {r['estimated_peak_gib']:.2f} | {r['wall_s']:.1f} | "
              f"{r['wall_s'] / ideal:.2f}× | {diff.max():.2e} | {diff.mean():.2e} | {closeness:.1f} | {format_cores(r['other_load'])} |")
        print(f"  done halo {halo}", file=sys.stderr, flush=True)


def seams(args: argparse.Namespace) -> None:
    """Whole-volume vs tiled inference of every reference method's shipped weights."""
    from srbench.config import load_config
    from srbench.data.pairs import degrade_volume, subject_seed
    from srbench.config.document import configure
    from srbench.errors import InputError
    from srbench.interfaces import InferenceSettings
    from srbench.io.nifti import load_volume
    from srbench.models import load_predictor
    from srbench.plugins import get_plugin_manager
    from srbench.tiling import predictor_plan
    from srbench.weights import find_shipped

    pm = get_plugin_manager()
    config = load_config(None, pm=pm)
    track = config.tracks["insample"]
    subject = config.subjects(track.test, pm)[0]
    hr_raw = load_volume(subject.path)
    degradation = configure(pm.get("degradation", track.degradation), track.degradation_options)
    seed = subject_seed(track_seed=track.seed, subject=subject.subject)
    hr, lr = degrade_volume(hr_raw, degradation=degradation, scale=track.scale, seed=seed)
    reference = hr.data.numpy().astype(np.float64)
    print(f"CPU: {cpu_line()}")
    print(f"subject '{subject.subject}' of track insample: LR {lr.shape}, shipped `cpu` in-sample weights; every difference is against the method's "
          "whole-volume inference; PSNR is against the HR reference, peak = its range")
    print()
    print("| method | inference | plan | max abs diff (% of range) | mean abs diff (% of range) | PSNR change (dB) |")
    print("|---|---|---|---|---|---|")
    for model in pm.all("model"):
        shipped = find_shipped(pm, model.name, track="insample") if model.needs_checkpoint else None
        if model.needs_checkpoint and shipped is None:
            continue
        predictor = load_predictor(model, checkpoint=shipped.path if shipped else None, device="cpu")
        whole_settings = InferenceSettings(memory_budget=2**50)
        whole = predictor.predict(lr, scale=track.scale, settings=whole_settings).data.numpy().astype(np.float64)
        variants = [("default plan", InferenceSettings()), ("fixed 32³ patches, overlap 8", InferenceSettings(patch_size=32, overlap=8))]
        need = getattr(predictor, "context_need", None)
        plan_whole = predictor_plan(predictor, lr.shape, scale=track.scale, settings=whole_settings)
        if need is not None and plan_whole is not None:
            context = need()
            budget = int(plan_whole.fixed_bytes + 0.35 * (plan_whole.peak_bytes - plan_whole.fixed_bytes))
            variants[1:1] = [
                (f"forced tiles, halo {max(context.radius)} (receptive field)", InferenceSettings(memory_budget=budget, halo=max(context.radius))),
                (f"forced tiles, halo {max(context.fallback)} (effective radius)", InferenceSettings(memory_budget=budget, halo=max(context.fallback))),
            ]
        spread = float(reference.max() - reference.min())
        for label, settings in variants:
            try:
                out = predictor.predict(lr, scale=track.scale, settings=settings).data.numpy().astype(np.float64)
            except InputError as exc:  # the halo does not fit the forced budget
                print(f"| {model.name} | {label} | does not fit: {exc} | | | |")
                continue
            plan = predictor_plan(predictor, lr.shape, scale=track.scale, settings=settings)
            diff = np.abs(out - whole)
            change = psnr_change(out, whole, reference) if diff.max() > 0 else 0.0
            print(f"| {model.name} | {label} | {plan.describe() if plan else '-'} | {100 * diff.max() / spread:.2e} | "
                  f"{100 * diff.mean() / spread:.2e} | {change:+.4f} |")
        print(f"  done {model.name}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("paper")
    p.add_argument("--frontier", action="store_true")
    p.add_argument("--frontier-only", action="store_true", help="only the frontier (no full-volume runs)")
    p.add_argument("--halos", type=int, nargs="*", default=[0, 2, 4, 8, 12, 49])
    p.add_argument("--skip-monai", action="store_true")
    p.add_argument("--lock", type=Path, default=None)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    sub.add_parser("seams")
    c = sub.add_parser("child")
    c.add_argument("--mode")
    c.add_argument("--size", type=int, nargs=3)
    c.add_argument("--out", type=Path)
    c.add_argument("--threads", type=int)
    c.add_argument("--halo", type=int, default=None)
    c.add_argument("--budget", type=int, default=None)
    args = parser.parse_args()
    if args.command == "child":
        print(json.dumps(child(args.mode, tuple(args.size), args.out, args.threads, args.halo, args.budget)))
    elif args.command == "paper":
        paper(args)
    else:
        seams(args)


if __name__ == "__main__":
    main()
