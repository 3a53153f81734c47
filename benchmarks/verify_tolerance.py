"""How much do metric values move between CPU evaluations of the same weights?

``srbench verify`` compares recomputed leaderboard values with committed ones; its
tolerance must exceed the float differences that legitimately appear when the same
checkpoint is evaluated on another CPU set-up. This script evaluates one checkpoint on
the subjects of a track exactly as ``srbench evaluate`` does (degradation, seed, inference
settings, metrics) under each combination of torch threads (1, 2) and inference memory
format (contiguous, channels-last), and prints, per metric, the largest absolute and
relative difference to the 1-thread contiguous baseline.

Usage: ``python benchmarks/verify_tolerance.py --method dcsrn --checkpoint runs/dcsrn-cpu-insample
[--track insample]``
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", required=True)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--track", default="insample")
    args = parser.parse_args()

    from srbench.config import load_config
    from srbench.config.document import configure
    from srbench.data.pairs import degrade_volume, subject_seed
    from srbench.measurement import compute_metrics
    from srbench.interfaces import InferenceSettings
    from srbench.io.nifti import load_volume
    from srbench.models import load_predictor, predict_checked
    from srbench.plugins import get_plugin_manager

    pm = get_plugin_manager()
    config = load_config(None, pm=pm)
    track = config.tracks[args.track]
    model = pm.get("model", args.method)
    degradation = configure(pm.get("degradation", track.degradation), track.degradation_options)
    values: dict[tuple[int, str], dict[str, dict[str, float]]] = {}
    for subject in config.subjects(track.test, pm):
        hr, lr = degrade_volume(load_volume(subject.path), degradation=degradation, scale=track.scale,
                                seed=subject_seed(track_seed=track.seed, subject=subject.subject))
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for layout in ("contiguous", "channels-last"):
                settings = dataclasses.replace(InferenceSettings(), memory_format=layout)
                predictor = load_predictor(model, checkpoint=args.checkpoint, device="cpu")
                sr = predict_checked(predictor, lr, scale=track.scale, settings=settings, method=args.method,
                                     checkpoint=args.checkpoint, subject=subject.subject)
                metrics = compute_metrics(pm, sr=sr.data, hr=hr.data, affine=hr.affine)
                values.setdefault((threads, layout), {})[subject.subject] = metrics
                print(f"{subject.subject} threads={threads} {layout}: "
                      + ", ".join(f"{k}={v:.9g}" for k, v in sorted(metrics.items())), flush=True)
    baseline = values[(1, "contiguous")]
    worst: dict[str, tuple[float, float]] = {}
    for variant, by_subject in values.items():
        for subject, metrics in by_subject.items():
            for metric, value in metrics.items():
                reference = baseline[subject][metric]
                absolute = abs(value - reference)
                relative = absolute / max(1.0, abs(reference))
                a, r = worst.get(metric, (0.0, 0.0))
                worst[metric] = (max(a, absolute), max(r, relative))
    print("largest difference to 1 thread, contiguous (absolute, relative to max(1, |value|)):")
    for metric, (absolute, relative) in sorted(worst.items()):
        print(f"  {metric:<10} {absolute:.3g}  {relative:.3g}")


if __name__ == "__main__":
    main()
