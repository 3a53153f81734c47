"""Leaderboard text shared by the markdown and the HTML: numbers, p-values, column headers
and the one-line descriptions of a board's set-up (scale, degradation, convention)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from srbench.leaderboard.board import MetricSummary, TrackBoard
from srbench.statistics import PairedTest, smallest_p


def format_value(x: float) -> str:
    """3 decimals for |x| ≥ 1, 4 below; ``inf`` / ``—`` for infinite / missing."""
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3f}" if abs(x) >= 1 else f"{x:.4f}"


def format_p(test: PairedTest | None) -> str:
    """``0.031 (P, n=7; raw 0.0031)``: the p-value a claim rests on (Holm-adjusted within its
    table's family when it has one), the test (P exact sign-flip, MC Monte-Carlo sign-flip;
    W Wilcoxon in rows rendered by older versions), the pairs, and the test's own p-value
    when adjustment changed it."""
    if test is None:
        return "—"
    if test.n == 0 or math.isnan(test.p_value):
        return "— (no paired subjects)"
    code = {"wilcoxon": "W", "sign-flip": "P", "sign-flip-mc": "MC"}[test.test]

    def shown(p: float) -> str:
        return "<0.001" if p < 0.001 else f"{p:.3g}"

    raw = f"; raw {shown(test.p_value)}" if shown(test.reported_p) != shown(test.p_value) else ""
    return f"{shown(test.reported_p)} ({code}, n={test.n}{raw})"


def format_difference(board: TrackBoard, metric: str, difference: tuple[float, float, float] | None) -> str:
    """``+1.234 [+0.456, +2.012]``: a mean paired difference and its 95% interval ('—' without one)."""
    if difference is None:
        return "—"
    mean, lo, hi = difference
    decimals = 3 if math.isfinite(mean) and abs(mean) >= 1 else 4

    def signed(x: float) -> str:
        if not board.ranked(metric):
            return format_metric(board, metric, x)
        return format_value(x) if not math.isfinite(x) else f"{x:+.{decimals}f}"

    return f"{signed(mean)} [{signed(lo)}, {signed(hi)}]"


def statistics_text(board: TrackBoard, *, baseline: str) -> str:
    """How a board's intervals and p-values are computed and what they can and cannot say."""
    n = len(board.subjects)
    return (
        "95% CI: Student-t interval of the mean over subjects (coverage 95 % for normally distributed subject "
        "values, 83–88 % for strongly skewed ones (log-normal, σ = 1) at n = 3–20; a percentile bootstrap covers "
        f"75 % and 65 % at n = 3: benchmarks/ci_coverage.py). Δ {baseline}: mean paired difference to {baseline} over the subjects both "
        "rows have, with its 95% Student-t interval. p: two-sided sign-flip test of the mean paired difference "
        "(P exact up to 32 pairs, MC Monte-Carlo beyond; one null, symmetric differences, at every n), against "
        f"{baseline} and against the row with the best mean. Each table is one family of tests, every pair of its "
        "rows, and the p shown is Holm-adjusted within it (the test's own p follows as \"raw\" where they differ), "
        "so a table's chance of any false p < 0.05 or bold value is at most 0.05, the choice of the best row from "
        "the same data included. A value is in bold only when its adjusted tests against every other row all "
        f"reject at 0.05. With n = {n} pairs the smallest p an exact test can give is {smallest_p(n):.3g}."
    )


def format_metric(board: TrackBoard, metric: str, x: float, *, spread: bool = False) -> str:
    """A value of column ``metric`` as ``board`` shows it: :func:`format_value` for a ranked
    column; a diagnostic with its sign (``+0.0420``; a ``spread`` such as a standard
    deviation without one), a percent column × 100 with 2 decimals (0.042 → ``+4.20``)."""
    if board.ranked(metric):
        return format_value(x)
    if math.isnan(x) or (math.isinf(x) and (spread or x < 0)):
        return format_value(x)
    if math.isinf(x):
        return "+inf"
    sign = "" if spread else "+"
    if board.columns[metric].display.percent:
        return f"{100.0 * x:{sign}.2f}"
    return f"{x:{sign}.3f}" if abs(x) >= 1 else f"{x:{sign}.4f}"


def format_summary(board: TrackBoard, metric: str, summary: MetricSummary) -> str:
    """A main-table cell: ``mean ± std`` (the mean alone when the std is undefined)."""
    text = format_metric(board, metric, summary.mean)
    if not math.isnan(summary.std):
        text += f" ± {format_metric(board, metric, summary.std, spread=True)}"
    return text


#: the legend of bold values on a board
BOLD_LEGEND = (
    "a value is in **bold** only when its row is the best and better than every other row in a paired test "
    "(Holm-adjusted over every pair of rows of its table, p < 0.05); values equal at the displayed precision are ties, and none is bold"
)


def claimed_best(board: TrackBoard, metric: str) -> str | None:
    """The run key of the entry shown as best on ``metric`` (:meth:`TrackBoard.supported_best`),
    unless another entry shows the same value at the displayed precision (a tie); else None."""
    top = board.supported_best(metric)
    if top is None:
        return None
    shown = format_metric(board, metric, top.summaries[metric].mean)
    tied = [e for e in board.entries if e is not top and metric in e.summaries
            and format_metric(board, metric, e.summaries[metric].mean) == shown]
    return None if tied else top.run_key


def primary_metric_text(board: TrackBoard) -> str:
    """``PSNR ↑, declared by the track: ...``; '' when the track recorded none (rows evaluated
    before tracks declared one), where the first ranked column plays its part unannounced."""
    declared = board.info.primary_metric if board.info is not None else None
    if declared is None:
        return ""
    used = board.primary_metric
    if used != declared:
        return (f"{declared}, declared by the track, is not a ranked column of these rows; "
                f"{column_header(board, used) if used else 'no column'} sorts them instead")
    return f"{column_header(board, used)}, declared by the track: it sorts the rows, and a leader is named on it only"\
        " when the paired tests support one"


def leader_text(board: TrackBoard) -> str:
    """``a (34.000 PSNR)``: the entry shown as best on the board's primary metric
    (:attr:`TrackBoard.primary_metric`), when the rows support it (:func:`claimed_best`);
    else why none is named."""
    first = board.primary_metric
    if first is None:
        return "—"
    key = claimed_best(board, first)
    if key is None:
        n = len(board.subjects)
        why = f"n = {n}: nothing can be tested" if n < 2 else f"n = {n}: no row beats every other in paired tests, Holm-adjusted at 0.05"
        return f"none named ({why})"
    leader = next(e for e in board.entries if e.run_key == key)
    return f"{leader.label} ({format_value(leader.summaries[first].mean)} {board.columns[first].label})"


def column_header(board: TrackBoard, metric: str) -> str:
    """A metric column's header: its label with ``↑`` (higher is better) or ``↓`` (lower is
    better), or a diagnostic's label without an arrow (with `` %`` for a percent column)."""
    column = board.columns[metric]
    if not board.ranked(metric):
        return column.label + (" %" if column.display.percent else "")
    return f"{column.label} {'↑' if column.direction else '↓'}"


def diagnostics_legend(board: TrackBoard) -> str:
    """What the table legend says about the board's diagnostic columns ('' when it has none)."""
    if not board.diagnostics:
        return ""
    parts = []
    for metric in board.diagnostics:
        column = board.columns[metric]
        scale = "100 × " if column.display.percent and column.description else ""
        header = column_header(board, metric)
        parts.append(f"{header}: {scale}{column.description}" if column.description else header)
    return ("Columns without an arrow are signed diagnostics: never ranked, in bold or tested against the best "
            "method. " + ". ".join(parts) + ".")


def column_setups(board: TrackBoard) -> list[tuple[str, str]]:
    """``(label, text)`` of how the board's columns were computed, as their metrics declare
    it, each once."""
    setups = [column.display.setup for column in board.columns.values() if column.display.setup]
    return list(dict.fromkeys(setups))


def scale_text(scale: Sequence[float]) -> str:
    """``2 × 2 × 1``."""
    return " × ".join(f"{s:g}" for s in scale)


def convention_text(name: str) -> str:
    """``name: description`` of the intensity convention (the name alone for one not known here)."""
    try:
        from srbench.metrics import convention
    except ImportError:
        return name
    if getattr(convention, "CONVENTION_NAME", None) != name:
        return name
    description = getattr(convention, "CONVENTION_DESCRIPTION", None) or (convention.__doc__ or "").strip().split("\n")[0]
    return f"{name}: {description}" if description else name


def left_out_text(board: TrackBoard) -> str:
    """Which stored subjects a board leaves out so that every row covers the same subjects
    ('' when none is left out)."""
    if not board.left_out:
        return ""
    rows = "; ".join(f"{label}: {', '.join(subjects)}" for label, subjects in board.left_out.items())
    return (f"every row is compared over the {len(board.subjects)} subject(s) all rows have; "
            f"stored subjects left out: {rows}")


def mask_text(board: TrackBoard) -> str:
    """The evaluation mask's voxel fraction per subject (or their mean and range), '' for
    rows scored before evaluation masks."""
    fractions = board.mask_fractions
    if not fractions:
        return ""
    values = list(fractions.values())
    if len(values) == 1:
        (subject, value), = fractions.items()
        share = f"{100 * value:.1f} % of the voxels ({subject})"
    else:
        share = (f"{100 * sum(values) / len(values):.1f} % of the voxels on average "
                 f"({100 * min(values):.1f}–{100 * max(values):.1f} % over {len(values)} subjects)")
    return f"{share}; the same voxels for every method"


def degradation_text(board: TrackBoard) -> str:
    """``name — description`` of the board's degradation (the name alone without one)."""
    description = board.degradation_description
    return f"{board.degradation} — {description}" if description else board.degradation


def options_text(options: Mapping[str, Any]) -> str:
    """``snr = 20, x = "a"`` (TOML-like), or ``none``."""
    if not options:
        return "none"
    return ", ".join(f"{k} = {json.dumps(v)}" for k, v in sorted(options.items()))


def degradation_setup_text(board: TrackBoard) -> str:
    """The options and seed of a board's degradation, in one line; no seed for a degradation
    that draws no noise (:attr:`TrackBoard.degradation_draws_noise` False), whose LR a seed
    does not change."""
    if board.degradation_draws_noise is False:
        return f"{options_text(board.degradation_options)}; draws no noise (no seed)"
    seed = (
        f"seed {board.degradation_seed} (each subject's noise seed is sha256 of it and the subject id)"
        if board.degradation_seed is not None else "seed not recorded"
    )
    return f"{options_text(board.degradation_options)}; {seed}"


#: characters with a meaning in markdown (and ``<``/``>``, which a viewer may take as HTML)
_MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+-.!|~&")


def escape_markdown(text: str) -> str:
    """``text`` as literal markdown: one line, every markdown (or HTML) character backslash-escaped."""
    line = " ".join(str(text).split())
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in line)


def safe_url(url: object) -> str | None:
    """``url`` when it is an http(s) address without spaces, quotes, brackets or ``|`` (fit for
    a link in markdown and HTML), else None: a store is read as untrusted input."""
    import urllib.parse

    if not isinstance(url, str) or len(url) > 500 or not url.isprintable():
        return None
    if any(ch.isspace() or ch in "<>\"'`|()[]\\" for ch in url):
        return None
    parsed = urllib.parse.urlsplit(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None
