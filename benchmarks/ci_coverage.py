"""Coverage of the 95% intervals a board could show: Student-t against the percentile bootstrap.

Draws ``--trials`` samples of n subject values from a normal and from a skewed
(log-normal, σ = 1) population, computes each interval of the mean, and prints the
fraction of trials whose interval contains the population mean, for n = 3, 4, 6, 10, 20.
Boards use the t-interval (srbench.statistics.t_interval); this is the evidence for the
sentence every board's Statistics section carries.

Usage: ``python benchmarks/ci_coverage.py [--trials 4000] [--resamples 2000]``
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from srbench.statistics import bootstrap_ci, t_interval

SIZES = (3, 4, 6, 10, 20)


def coverage(draw, mean: float, n: int, *, trials: int, resamples: int, seed: int) -> tuple[float, float]:
    """Fractions of trials covered by the t-interval and by the percentile bootstrap."""
    rng = np.random.default_rng(seed)
    hits_t = hits_boot = 0
    for trial in range(trials):
        x = draw(rng, n)
        lo, hi = t_interval(x)
        hits_t += lo <= mean <= hi
        lo, hi = bootstrap_ci(x, resamples=resamples, seed=trial)
        hits_boot += lo <= mean <= hi
    return hits_t / trials, hits_boot / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    populations = {
        "normal": (lambda rng, n: rng.normal(0.0, 1.0, n), 0.0),
        "log-normal (σ = 1)": (lambda rng, n: rng.lognormal(0.0, 1.0, n), math.exp(0.5)),
    }
    print(f"{args.trials} trials per cell, bootstrap {args.resamples} resamples; nominal coverage 95 %\n")
    print("| population | interval | " + " | ".join(f"n = {n}" for n in SIZES) + " |")
    print("|---|---|" + "---:|" * len(SIZES))
    for name, (draw, mean) in populations.items():
        cells = [coverage(draw, mean, n, trials=args.trials, resamples=args.resamples, seed=n) for n in SIZES]
        print(f"| {name} | Student-t | " + " | ".join(f"{100 * t:.1f} %" for t, _ in cells) + " |")
        print(f"| {name} | percentile bootstrap | " + " | ".join(f"{100 * b:.1f} %" for _, b in cells) + " |")


if __name__ == "__main__":
    main()
