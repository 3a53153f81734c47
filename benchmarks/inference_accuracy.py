"""Do the inference speed settings change results? Trained models, real data, real metrics.

For each trained checkpoint given (``--checkpoint METHOD=PATH``, a model file or run
directory, repeatable), the track's test subjects are degraded as ``srbench evaluate``
does and super-resolved under each combination of ``InferenceSettings.memory_format``
(``contiguous``, ``channels-last``) and ``precision`` (``float32``, ``bfloat16``). Printed
side by side: wall time, the largest voxel difference to the ``contiguous``/``float32``
output (as a fraction of the HR intensity range), and each metric with its difference
to that baseline. Speed settings are only kept as defaults when they leave the metrics
unchanged to the printed precision.

Usage: ``python benchmarks/inference_accuracy.py --checkpoint trigan=runs/trigan-cpu-insample
[--checkpoint dcsrn=...] [--track insample] [--metrics psnr,ssim,nrmse]``
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

VARIANTS = (("contiguous", "float32"), ("channels-last", "float32"), ("contiguous", "bfloat16"), ("channels-last", "bfloat16"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", required=True, metavar="METHOD=PATH")
    parser.add_argument("--track", default="insample")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--metrics", default="psnr,ssim,nrmse", help="comma-separated registered metric names")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from srbench.config import load_config
    from srbench.data.pairs import degrade_volume
    from srbench.interfaces import InferenceSettings
    from srbench.metrics.convention import scale_pair
    from srbench.models import load_predictor
    from srbench.plugins import get_plugin_manager

    pm = get_plugin_manager()
    cfg = load_config(args.config, pm=get_plugin_manager())
    (track,) = cfg.select_tracks(args.track)
    metrics = [pm.get("metric", name) for name in args.metrics.split(",") if name]
    subjects = cfg.subjects(track.test, pm)
    print(f"track {track.name}: {len(subjects)} test subject(s), degradation {track.degradation}, scale {track.scale}")
    print()
    print("| method | subject | memory format | precision | wall (s) | max abs diff (of HR range) | "
          + " | ".join(f"{c} (diff)" for m in metrics for c in m.outputs) + " |")
    print("|---|---|---|---|---|---|" + "---|" * sum(len(m.outputs) for m in metrics))
    for item in args.checkpoint:
        method, _, path = item.partition("=")
        predictor = load_predictor(pm.get("model", method), checkpoint=Path(path), device="cpu")
        for subject in subjects:
            from srbench.io.nifti import load_volume

            hr, lr = degrade_volume(load_volume(subject.path), degradation=pm.get("degradation", track.degradation), scale=track.scale)
            span = float(hr.data.max() - hr.data.min())
            baseline_sr = None
            baseline_values: dict[str, float] = {}
            for memory_format, precision in VARIANTS:
                settings = dataclasses.replace(InferenceSettings(), memory_format=memory_format, precision=precision)
                predictor.predict(lr, scale=track.scale, settings=settings)  # warm-up (first oneDNN calls)
                start = time.perf_counter()
                sr = predictor.predict(lr, scale=track.scale, settings=settings)
                wall = time.perf_counter() - start
                sr01, hr01 = scale_pair(sr.data, hr.data)
                values = {k: float(v) for m in metrics for k, v in m.compute(sr01, hr01, affine=hr.affine).items()}
                if baseline_sr is None:
                    baseline_sr, baseline_values = sr.data, values
                diff = float((sr.data - baseline_sr).abs().max()) / span
                cells = " | ".join(f"{v:.5f} ({v - baseline_values[k]:+.1e})" for k, v in values.items())
                print(f"| {method} | {subject.subject} | {memory_format} | {precision} | {wall:.2f} | {diff:.1e} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
