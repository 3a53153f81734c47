"""Seed-to-seed spread of the `cpu` presets: the run-to-run noise a board's differences must exceed.

Evaluates finished training runs (each a run directory with ``model.safetensors``) on a
track's test subjects exactly as ``srbench evaluate`` does
(:func:`srbench.measurement.compute_metrics`), groups them by method, and prints a markdown
table per method: the number of seeds, mean, sample standard deviation and range over
seeds of each headline column, next to trilinear's value. Train the runs first, e.g.::

    for seed in 0 1 2; do srbench train dcsrn --preset cpu --seed $seed --run-dir results/seeds/dcsrn-$seed; done

Usage: ``python benchmarks/seed_spread.py RUN_DIR... [--track insample]``
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict
from pathlib import Path

from cpu_info import cpu_line

from srbench.config import load_config
from srbench.data.pairs import make_pair
from srbench.measurement import compute_metrics
from srbench.interfaces import InferenceSettings
from srbench.io.checkpoint import metadata_config, read_metadata
from srbench.models import load_predictor, predict_checked
from srbench.plugins import get_plugin_manager

COLUMNS = ("psnr", "ssim", "nrmse", "lpips", "psnr_volume")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--track", default="insample")
    args = parser.parse_args()
    pm = get_plugin_manager()
    config = load_config(pm=pm)
    track = config.select_tracks(args.track)[0]
    pairs = [make_pair(track, subject, pm=pm) for subject in config.subjects(track.test, pm)]
    settings = InferenceSettings()

    def score(method: str, checkpoint: Path | None) -> dict[str, float]:
        """Mean over the track's subjects of each column."""
        predictor = load_predictor(pm.get("model", method), checkpoint=checkpoint, device="cpu")
        values = defaultdict(list)
        for pair in pairs:
            sr = predict_checked(predictor, pair.lr, scale=track.scale, settings=settings, method=method,
                                 checkpoint=checkpoint, subject=pair.subject)
            for column, value in compute_metrics(pm, sr=sr.data, hr=pair.hr.data, affine=pair.hr.affine).items():
                values[column].append(value)
        return {column: statistics.fmean(v) for column, v in values.items()}

    baseline = score("trilinear", None)
    by_method: dict[str, list[tuple[int, dict[str, float]]]] = defaultdict(list)
    for run in args.runs:
        model = run / "model.safetensors"
        stored = metadata_config(read_metadata(model))
        by_method[str(stored["method"])].append((int(stored.get("seed", -1)), score(str(stored["method"]), model)))
    print(f"CPU: {cpu_line()}; track {track.name}, {len(pairs)} subject(s); headline columns inside the evaluation mask\n")
    print("| method | seeds | " + " | ".join(f"{c} mean ± sd [min, max]" for c in COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    print("| trilinear | — | " + " | ".join(f"{baseline[c]:.4f}" for c in COLUMNS) + " |")
    for method, runs in sorted(by_method.items()):
        cells = []
        for column in COLUMNS:
            values = [v[column] for _, v in runs]
            sd = statistics.stdev(values) if len(values) > 1 else math.nan
            cells.append(f"{statistics.fmean(values):.4f} ± {sd:.4f} [{min(values):.4f}, {max(values):.4f}]")
        seeds = ", ".join(str(seed) for seed, _ in sorted(runs))
        print(f"| {method} | {seeds} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
