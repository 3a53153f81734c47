"""The board's statistics on simulated tables of known truth.

Tables are built in memory (one metric column, PSNR) and go through
:func:`srbench.leaderboard.board.summarise`, the function every board uses. What is
checked is what a reader relies on:

- **family-wise error**: with every method equal, the share of tables that make any claim
  (a value in bold, or any p < 0.05 shown in the table) stays at most 0.05;
- **power**: a method truly better than every other by 3 dB (paired sd 1.4 dB) is put in bold;
- **coverage**: the 95 % Student-t interval of the paired difference to trilinear covers the
  true difference 93–97 % of the time at n = 5, 10 and 20 (normal subject values).

The simulations are seeded, so each test is deterministic; the bounds are the stated goal
plus about 2.5 binomial standard errors of the number of tables drawn.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from srbench.leaderboard.board import CLAIM_ALPHA, Entry, TrackBoard, summarise
from srbench.metric_columns import MetricColumn

METHODS = ("trilinear", "a", "b", "c", "d")


def simulated_board(rng: np.random.Generator, *, n: int, effects: dict[str, float]) -> TrackBoard:
    """A board of one PSNR column: each method's value per subject is a subject effect (sd 2 dB,
    shared by every method, as real heads differ more than methods) plus the method's true
    effect plus independent noise (sd 1 dB)."""
    subjects = [f"sub-{i:02d}" for i in range(n)]
    subject_effect = rng.normal(30.0, 2.0, size=n)
    entries = [
        Entry(label=method, method=method, run_key=f"run-{method}",
              values={"psnr": pd.Series(subject_effect + effects.get(method, 0.0) + rng.normal(0.0, 1.0, size=n),
                                        index=subjects)})
        for method in METHODS
    ]
    board = TrackBoard(track="simulated", info=None, degradation="paper-linear", intensity_convention="hr-minmax-01-mask",
                       scale=(2.0, 2.0, 2.0), columns={"psnr": MetricColumn(name="psnr", metric="psnr", direction=True)},
                       entries=entries, subjects=subjects, srbench_versions=["test"])
    summarise(board)
    return board


def claims(board: TrackBoard) -> bool:
    """Whether the table claims anything: a supported best, or any shown p-value below 0.05."""
    if board.supported_best("psnr") is not None:
        return True
    for entry in board.entries:
        summary = entry.summaries["psnr"]
        for test in (summary.vs_best, summary.vs_baseline):
            if test is not None and test.reported_p < CLAIM_ALPHA:
                return True
    return False


def family_wise_error(*, n: int, tables: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    return sum(claims(simulated_board(rng, n=n, effects={})) for _ in range(tables)) / tables


def uncorrected_error(*, n: int, tables: int, seed: int) -> float:
    """The same tables judged by raw p-values: what the board would claim without its family."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(tables):
        board = simulated_board(rng, n=n, effects={})
        hits += any(t is not None and t.p_value < CLAIM_ALPHA
                    for e in board.entries for t in (e.summaries["psnr"].vs_best, e.summaries["psnr"].vs_baseline))
    return hits / tables


def difference_coverage(*, n: int, tables: int, seed: int, delta: float = 0.7) -> float:
    """Share of tables whose interval of ``a − trilinear`` covers the true difference ``delta``."""
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(tables):
        board = simulated_board(rng, n=n, effects={"a": delta})
        entry = next(e for e in board.entries if e.method == "a")
        _, lo, hi = entry.summaries["psnr"].baseline_difference
        covered += lo <= delta <= hi
    return covered / tables


def test_the_family_keeps_the_error_of_a_table_of_equal_methods():
    # 400 tables: binomial sd of a 0.05 rate is 0.011
    error = family_wise_error(n=10, tables=400, seed=1)
    assert error <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / 400), error
    # and the family is what keeps it: the raw tests of the same tables claim far more often
    assert uncorrected_error(n=10, tables=400, seed=1) > 0.15


def test_a_truly_better_method_is_put_in_bold():
    rng = np.random.default_rng(2)
    bold = sum(simulated_board(rng, n=12, effects={"a": 3.0}).supported_best("psnr") is not None for _ in range(20))
    assert bold >= 18


@pytest.mark.parametrize("n", [5, 10, 20])
def test_the_difference_interval_covers(n):
    coverage = difference_coverage(n=n, tables=1500, seed=n)
    assert 0.93 <= coverage <= 0.97, coverage


def test_family_wise_error_at_n_20():
    error = family_wise_error(n=20, tables=400, seed=3)
    assert error <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / 400), error
