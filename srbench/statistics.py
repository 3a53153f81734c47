"""Statistics over subjects for leaderboards: bootstrap confidence intervals and paired tests.

All functions take per-subject values (one float per subject) and are deterministic:
resampling uses ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

#: paired subjects needed before the Wilcoxon signed-rank test is used
MIN_WILCOXON_PAIRS = 6

#: largest number of pairs whose 2**n sign flips are enumerated exactly
MAX_EXACT_SIGN_FLIPS = 16


@dataclasses.dataclass(frozen=True)
class PairedTest:
    """The result of a two-sided paired test.

    Attributes:
        p_value: two-sided p-value in [0, 1].
        test: ``wilcoxon``, ``sign-flip`` (exact) or ``sign-flip-mc`` (Monte-Carlo).
        n: number of pairs used (subjects present for both methods with a finite difference).
    """

    p_value: float
    test: str
    n: int


def bootstrap_ci(
    values: Sequence[float], *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean over subjects.

    Draws ``resamples`` samples of the subjects with replacement (``default_rng(seed)``)
    and returns the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of their
    means. Empty input gives ``(nan, nan)``.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    # interpolating between infinite means (PSNR of identical volumes) would give NaN
    method = "linear" if np.isfinite(x).all() else "nearest"
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha], method=method)
    return float(lo), float(hi)


def sign_flip_test(
    differences: Sequence[float], *, max_exact: int = MAX_EXACT_SIGN_FLIPS, resamples: int = 100_000, seed: int = 0
) -> PairedTest:
    """Two-sided paired permutation test of the mean difference by sign flips.

    Under the null hypothesis each paired difference is equally likely positive or
    negative. The statistic is ``|mean(d)|``; the p-value is the fraction of sign
    assignments whose statistic is at least the observed one. With ``n ≤ max_exact``
    pairs all ``2**n`` assignments are enumerated (exact); beyond, ``resamples`` random
    assignments are drawn and ``(count + 1) / (resamples + 1)`` is returned.
    """
    d = np.asarray(differences, dtype=np.float64)
    n = int(d.size)
    if n == 0:
        return PairedTest(p_value=math.nan, test="sign-flip", n=0)
    observed = abs(d.mean())
    tolerance = 1e-12 * max(1.0, observed)
    if n <= max_exact:
        codes = np.arange(2**n, dtype=np.int64)[:, None]
        signs = 1.0 - 2.0 * ((codes >> np.arange(n, dtype=np.int64)) & 1)
        stats = np.abs(signs @ d) / n
        return PairedTest(p_value=float(np.mean(stats >= observed - tolerance)), test="sign-flip", n=n)
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, n))
    stats = np.abs(signs @ d) / n
    count = int(np.sum(stats >= observed - tolerance))
    return PairedTest(p_value=(count + 1) / (resamples + 1), test="sign-flip-mc", n=n)


def paired_test(a: Sequence[float], b: Sequence[float], *, min_wilcoxon: int = MIN_WILCOXON_PAIRS) -> PairedTest:
    """Two-sided paired test of ``a`` against ``b`` (the same subjects, in the same order).

    Pairs whose difference is not finite (for example two infinite PSNRs) are dropped.
    With at least ``min_wilcoxon`` pairs the Wilcoxon signed-rank test
    (:func:`scipy.stats.wilcoxon`, zero differences dropped) is used, otherwise the exact
    sign-flip permutation test (:func:`sign_flip_test`). All-zero differences give p = 1.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} and {y.size}")
    with np.errstate(invalid="ignore"):
        d = x - y
    d = d[np.isfinite(d)]
    n = int(d.size)
    if n < min_wilcoxon:
        return sign_flip_test(d)
    if not np.any(d):
        return PairedTest(p_value=1.0, test="wilcoxon", n=n)
    from scipy.stats import wilcoxon

    result = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return PairedTest(p_value=float(result.pvalue), test="wilcoxon", n=n)
