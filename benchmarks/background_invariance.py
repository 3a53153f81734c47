"""What a background post-process decided from the LR alone still changes on the boards.

For every method with shipped weights (and trilinear) on the committed demo tracks, the
method's own SR volume and the same volume after
:func:`srbench.testing.background.zero_lr_background` (SR set to 0 wherever trilinear(LR)
is below 0.1 × the LR's 99.9th percentile: the audit's rule) are scored by the harness
(:func:`srbench.measurement.compute_metrics`). Prints a markdown table of the post-processed
value minus the method's, for the headline columns (inside the evaluation mask) and for
whole-volume PSNR and SSIM, and the largest absolute change per column; the tolerance
stated in tests/test_evaluation_mask.py must cover every headline change here.

Shipped weights only (a private runs folder is used, so local training runs are ignored).

Usage: ``python benchmarks/background_invariance.py [--tracks insample,acquisition-noise,knee]``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from cpu_info import cpu_line

from srbench.config import load_config
from srbench.data.pairs import make_pair
from srbench.measurement import compute_metrics
from srbench.interfaces import InferenceSettings
from srbench.models import load_predictor, predict_checked
from srbench.plugins import get_plugin_manager
from srbench.testing.background import zero_lr_background
from srbench.runs import resolve_checkpoint

HEADLINE = ("psnr", "ssim", "nrmse", "nrmse_range", "lpips")
WHOLE = ("psnr_volume", "ssim_volume")
TRACKS = ("insample", "acquisition-noise", "acquisition-kspace", "contrast", "contrast-flair", "resolution", "knee")
METHODS = ("trilinear", "trigan", "esrgan3d", "dcsrn", "arssr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", default=",".join(TRACKS))
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    pm = get_plugin_manager()
    config = load_config(pm=pm)
    settings = InferenceSettings()
    columns = (*HEADLINE, *WHOLE)
    print(f"CPU: {cpu_line()}; rule: SR → 0 where trilinear(LR) < 0.1 × LR 99.9th percentile\n")
    print("| track | method | " + " | ".join(f"Δ {c}" for c in columns) + " |")
    print("|---|---|" + "---:|" * len(columns))
    largest = dict.fromkeys(columns, 0.0)
    with tempfile.TemporaryDirectory() as empty_runs:
        for name in args.tracks.split(","):
            track = config.select_tracks(name)[0]
            training = track.training_track(config)
            for subject in config.subjects(track.test, pm):
                pair = make_pair(track, subject, pm=pm)
                for method in args.methods.split(","):
                    model = pm.get("model", method)
                    checkpoint = resolve_checkpoint(model, checkpoint=None, pm=pm, track=training,
                                                    runs_root=Path(empty_runs), notes=[])
                    predictor = load_predictor(model, checkpoint=checkpoint, device="cpu")
                    sr = predict_checked(predictor, pair.lr, scale=track.scale, settings=settings, method=method,
                                         checkpoint=checkpoint, subject=subject.subject)
                    own = compute_metrics(pm, sr=sr.data, hr=pair.hr.data, affine=pair.hr.affine)
                    zeroed = compute_metrics(pm, sr=zero_lr_background(sr.data, pair.lr, scale=track.scale), hr=pair.hr.data,
                                             affine=pair.hr.affine)
                    deltas = {c: zeroed[c] - own[c] for c in columns}
                    for c in columns:
                        largest[c] = max(largest[c], abs(deltas[c]))
                    print(f"| {name} | {method} | " + " | ".join(f"{deltas[c]:+.4f}" for c in columns) + " |",
                          flush=True)
    print("| **largest \\|Δ\\|** | | " + " | ".join(f"{largest[c]:.4f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
