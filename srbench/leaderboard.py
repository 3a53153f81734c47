"""Leaderboards: results-store rows → one markdown file per track plus an index.

Per track the main table has a row per method (one per run when a method was evaluated
with several checkpoints): the number of subjects and the mean ± sample standard
deviation of every metric column, an arrow in each column header for the better
direction and the best value in bold. A statistics section per metric adds the 95%
bootstrap confidence interval of the mean over subjects and paired tests against the best
method and against trilinear (:mod:`srbench.statistics`). Methods that could not run on a
track get a "not applicable" row.

A column a metric declares a *diagnostic* (direction None, e.g. ``bias``) has no better
direction: it is shown signed (``bias`` in percent of the HR range), without an arrow,
never in bold, never used to sort or to name a leader, and its statistics test only
against trilinear.

A table never mixes degradations, scales or intensity conventions: such rows are
refused with an :class:`~srbench.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from srbench.defaults import BASELINE_METHOD
from srbench.errors import InputError, file_error
from srbench.io.atomic import write_text_atomic
from srbench.io.hashing import sha256_text
from srbench.results import ResultsStore, TrackRecord
from srbench.statistics import PairedTest, bootstrap_ci, paired_test
from srbench.io.paths import check_creatable_dir, ensure_dir

#: direction of the built-in metric columns (True: higher is better, False: lower is better,
#: None: a diagnostic), used when no registered metric declares a column
FALLBACK_DIRECTIONS: Mapping[str, bool | None] = {
    "psnr": True, "ssim": True, "nrmse": False, "lpips": False, "bias": None,
}

#: column order: these first (and their variants, e.g. ``lpips_axial`` after ``lpips``)
PREFERRED_ORDER = ("psnr", "ssim", "nrmse", "lpips")

#: how LPIPS is computed, stated in every track header
LPIPS_PLANES = "sagittal, coronal, axial (slice-wise 2D, AlexNet v0.1), mean of the three"

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0

_NAMES = {"psnr": "PSNR", "ssim": "SSIM", "nrmse": "NRMSE", "lpips": "LPIPS", "bias": "Bias"}

#: diagnostic columns stored as a fraction of the HR intensity range and shown in percent
PERCENT_COLUMNS = frozenset({"bias"})


@dataclasses.dataclass(frozen=True)
class MetricSummary:
    """Statistics of one method on one metric column over subjects.

    Attributes:
        n: subjects with a value.
        mean, std: mean and sample standard deviation (``ddof=1``; NaN when n = 1).
        ci: 95% percentile bootstrap interval of the mean.
        vs_best, vs_baseline: paired tests against the best method and trilinear
            (None for the method itself or when that method is absent).
    """

    n: int
    mean: float
    std: float
    ci: tuple[float, float]
    vs_best: PairedTest | None = None
    vs_baseline: PairedTest | None = None


@dataclasses.dataclass
class Entry:
    """One leaderboard row: a method's run on a track."""

    label: str
    method: str
    run_key: str
    values: dict[str, pd.Series]  # metric → per-subject values indexed by subject
    summaries: dict[str, MetricSummary] = dataclasses.field(default_factory=dict)
    not_applicable: str | None = None
    #: subject → the cross-validation fold whose model scored it (empty without folds)
    folds: dict[str, int] = dataclasses.field(default_factory=dict)
    #: fold → the run key of its evaluated run (empty without folds)
    fold_runs: dict[int, str] = dataclasses.field(default_factory=dict)

    @property
    def n(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)


@dataclasses.dataclass
class TrackBoard:
    """Everything shown for one track."""

    track: str
    info: TrackRecord | None
    degradation: str
    intensity_convention: str
    scale: tuple[float, ...]
    metrics: list[str]
    #: metric → True (higher is better), False (lower is better) or None (a diagnostic)
    directions: dict[str, bool | None]
    entries: list[Entry]
    subjects: list[str]
    srbench_versions: list[str]
    #: the degradation's options as recorded in the runs' config (``{}``: none)
    degradation_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: the track's noise seed as recorded in the runs' config (None: not recorded)
    degradation_seed: int | None = None

    def ranked(self, metric: str) -> bool:
        """False for a diagnostic column (no better direction: never best, never sorted by)."""
        return self.directions.get(metric) is not None

    @property
    def first_ranked(self) -> str | None:
        """The first metric column with a direction (the one that sorts rows and names a leader)."""
        return next((m for m in self.metrics if self.ranked(m)), None)

    @property
    def diagnostics(self) -> list[str]:
        """The diagnostic columns, in column order."""
        return [m for m in self.metrics if not self.ranked(m)]

    def best(self, metric: str) -> list[Entry]:
        """The entries with the best mean on ``metric`` (ties included; none for a diagnostic)."""
        scored = [e for e in self.entries if metric in e.summaries and not math.isnan(e.summaries[metric].mean)]
        if not scored or not self.ranked(metric):
            return []
        pick = max if self.directions[metric] else min
        target = pick(e.summaries[metric].mean for e in scored)
        return [e for e in scored if e.summaries[metric].mean == target]


@dataclasses.dataclass
class LeaderboardFiles:
    """What :func:`write_leaderboards` wrote."""

    index: Path
    index_markdown: str
    tracks: dict[str, Path]
    figures: dict[str, Path]
    notes: list[str]


# -- metric columns -------------------------------------------------------------------
def declared_directions() -> dict[str, bool | None]:
    """Column → direction (True, False, or None for a diagnostic) as the installed metric
    plugins declare it in their ``outputs``."""
    from srbench.plugins import get_plugin_manager

    declared: dict[str, bool | None] = {}
    for metric in get_plugin_manager().all("metric"):
        declared.update({str(k): None if v is None else bool(v) for k, v in dict(metric.outputs).items()})
    return declared


def column_direction(column: str, declared: Mapping[str, bool | None]) -> bool | None:
    """``column``'s direction from ``declared``, else from :data:`FALLBACK_DIRECTIONS` by its
    first ``_``-separated token (``lpips_axial`` → ``lpips``).

    Raises:
        KeyError: neither knows the column.
    """
    if column in declared:
        return declared[column]
    return FALLBACK_DIRECTIONS[column.split("_")[0]]


def metric_directions(columns: Sequence[str]) -> dict[str, bool | None]:
    """Column → True (higher is better), False (lower is better) or None (a diagnostic),
    from the registered metrics' ``outputs``.

    Columns no registered metric declares fall back to :data:`FALLBACK_DIRECTIONS` by
    their first ``_``-separated token (``lpips_axial`` → ``lpips``).

    Raises:
        InputError: a column whose direction is unknown.
    """
    declared = declared_directions()
    out = {}
    for column in columns:
        try:
            out[column] = column_direction(column, declared)
        except KeyError:
            raise InputError(
                f"metric column '{column}' in the results store is not declared by any installed metric plugin; "
                "install the plugin that computed it"
            ) from None
    return out


def order_metrics(columns: Sequence[str]) -> list[str]:
    """Columns ordered PSNR, SSIM, NRMSE, LPIPS (each followed by its variants), then the rest."""

    def key(column: str) -> tuple[int, int, str]:
        head = column.split("_")[0]
        rank = PREFERRED_ORDER.index(head) if head in PREFERRED_ORDER else len(PREFERRED_ORDER)
        return rank, 0 if column == head else 1, column

    return sorted(set(columns), key=key)


def display_name(column: str) -> str:
    """``lpips_axial`` → ``LPIPS axial``."""
    head, *rest = column.split("_")
    return " ".join([_NAMES.get(head, head), *rest])


# -- building ------------------------------------------------------------------------
def _scale_of(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in json.loads(text))


def _scale_text(scale: Sequence[float]) -> str:
    return " × ".join(f"{s:g}" for s in scale)


def _refuse_mixture(track: str, frame: pd.DataFrame, column: str, what: str) -> str:
    groups = frame.groupby(column)["method"].agg(lambda m: ", ".join(sorted(set(m))))
    if len(groups) > 1:
        (a, ma), (b, mb) = list(groups.items())[:2]
        raise InputError(
            f"track '{track}' mixes {what}s '{a}' ({ma}) and '{b}' ({mb}); one table needs one {what}: "
            f"evaluate each {what} into its own store (--results PATH) and run srbench leaderboard on each"
        )
    return str(groups.index[0])


def build_board(
    track: str,
    rows: pd.DataFrame,
    not_applicable: pd.DataFrame,
    *,
    info: TrackRecord | None = None,
    directions: Mapping[str, bool | None] | None = None,
    run_degradations: Mapping[str, Mapping[str, Any]] | None = None,
    run_folds: Mapping[str, Mapping[str, Any]] | None = None,
) -> TrackBoard:
    """Summarise one track's rows (``ResultsStore.rows(track)``) and not-applicable marks.

    ``run_degradations`` maps a run key to the ``degradation`` entry of its run config
    (``{"name", "options", "seed"}``, see :func:`run_degradations`); runs without one
    (stores written before options existed) count as having no options and no seed.

    ``run_folds`` maps the run key of a cross-validation fold's run to its
    :func:`run_folds` entry; the runs of one method's folds (same ``group``) form one
    row, whose values are each subject's score by the model of its fold (when a subject
    was scored by several runs of the group, the newest run's values count).

    Raises:
        InputError: the rows mix degradations (or degradation options or seeds), scales
            or intensity conventions, or the track has nothing stored.
    """
    rows = rows[rows["track"] == track]
    marks = not_applicable[not_applicable["track"] == track]
    if rows.empty and marks.empty:
        raise InputError(f"track '{track}' has no results in the store")
    both = pd.concat(
        [rows[["method", "degradation", "intensity_convention", "scale"]],
         marks[["method", "degradation", "intensity_convention", "scale"]]]
    )
    degradation = _refuse_mixture(track, both, "degradation", "degradation")
    both_keys = pd.concat([rows["run_key"], marks["run_key"]]).tolist()
    setups = [_degradation_setup((run_degradations or {}).get(key)) for key in both_keys]
    both = both.assign(degradation_options=[json.dumps(o, sort_keys=True) for o, _ in setups])
    options = json.loads(_refuse_mixture(track, both, "degradation_options", "degradation option set"))
    seeds = both.assign(degradation_seed=[seed for _, seed in setups]).dropna(subset=["degradation_seed"])
    seed = int(float(_refuse_mixture(track, seeds, "degradation_seed", "degradation seed"))) if len(seeds) else None
    convention = _refuse_mixture(track, both, "intensity_convention", "intensity convention")
    scale = _scale_of(_refuse_mixture(track, both, "scale", "scale"))

    metrics = order_metrics(rows["metric"].unique().tolist())
    dirs = dict(directions) if directions is not None else metric_directions(metrics)
    missing = [m for m in metrics if m not in dirs]
    if missing:
        raise InputError(f"no direction (higher or lower is better) known for metric column(s) {', '.join(missing)}")

    folds = dict(run_folds or {})
    rows = rows.assign(entry=[folds[k]["group"] if k in folds else k for k in rows["run_key"]])
    marks = marks.assign(entry=[folds[k]["group"] if k in folds else k for k in marks["run_key"]])
    runs_per_method = rows.groupby("method")["entry"].nunique().to_dict()
    for method, count in marks[~marks["entry"].isin(rows["entry"])].groupby("method")["entry"].nunique().items():
        runs_per_method[method] = runs_per_method.get(method, 0) + int(count)

    def label(method: str, run_key: str, checkpoint: Any) -> str:
        if runs_per_method.get(method, 1) <= 1:
            return method
        tag = f"ckpt {checkpoint[:8]}" if isinstance(checkpoint, str) and checkpoint else f"run {run_key[:8]}"
        return f"{method} ({tag})"

    entries: list[Entry] = []
    for (method, key), group in rows.groupby(["method", "entry"], sort=True):
        if group["run_key"].nunique() > 1:  # a fold group: the newest run's values per subject
            order = {k: str(folds[k].get("created_at", "")) for k in group["run_key"].unique()}
            group = group.assign(created=group["run_key"].map(order)).sort_values("created", kind="stable")
            group = group.drop_duplicates(subset=["subject", "metric"], keep="last")
        values = {
            metric: sub.set_index("subject")["value"].astype(float).sort_index()
            for metric, sub in group.groupby("metric")
        }
        subject_folds = {
            str(subject): int(folds[run]["fold"]) for subject, run in zip(group["subject"], group["run_key"], strict=True)
            if run in folds
        }
        fold_runs = {int(folds[run]["fold"]): str(run) for run in group["run_key"].unique() if run in folds}
        entries.append(Entry(label(method, key, group["checkpoint_sha256"].iloc[0]), method, key, values,
                             folds=subject_folds, fold_runs=dict(sorted(fold_runs.items()))))
    with_results = {e.run_key for e in entries}
    for mark in marks.itertuples():
        if mark.entry not in with_results:
            with_results.add(mark.entry)
            entries.append(
                Entry(label(mark.method, mark.entry, mark.checkpoint_sha256), mark.method, mark.entry, {},
                      not_applicable=mark.reason)
            )

    board = TrackBoard(
        track=track, info=info, degradation=degradation, intensity_convention=convention, scale=scale,
        metrics=metrics, directions={m: None if dirs[m] is None else bool(dirs[m]) for m in metrics}, entries=entries,
        subjects=sorted(rows["subject"].unique().tolist()),
        srbench_versions=sorted({str(v) for v in rows["srbench_version"].dropna().unique() if str(v)}),
        degradation_options=options, degradation_seed=seed,
    )
    _summarise(board)
    return board


def _degradation_setup(record: Mapping[str, Any] | None) -> tuple[dict[str, Any], int | None]:
    """``(options, seed)`` of a run config's ``degradation`` entry (``({}, None)`` if absent)."""
    if not isinstance(record, Mapping):
        return {}, None
    options = record.get("options") or {}
    seed = record.get("seed")
    return dict(options), (int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else None)


def run_degradations(store: ResultsStore) -> dict[str, dict[str, Any]]:
    """Run key → the ``degradation`` entry of its config (``{"name", "options", "seed"}``),
    for the runs that recorded one."""
    out: dict[str, dict[str, Any]] = {}
    runs = store.runs()
    for key, text in zip(runs["run_key"], runs["config"], strict=True):
        try:
            entry = json.loads(text).get("degradation") if text else None
        except (ValueError, AttributeError):
            entry = None
        if isinstance(entry, dict):
            out[str(key)] = entry
    return out


def run_folds(store: ResultsStore) -> dict[str, dict[str, Any]]:
    """Run key → ``{"fold", "folds", "held_out", "group", "created_at"}`` for the runs
    evaluated on a cross-validation fold.

    ``group`` identifies one method's set of fold models: the sha256 of the method, the
    training configuration without its ``fold``, the inference settings and the
    degradation, so the folds of one training recipe share it and a retrained recipe
    (another seed, preset or option) does not.
    """
    out: dict[str, dict[str, Any]] = {}
    runs = store.runs()
    for key, method, text, created in zip(runs["run_key"], runs["method"], runs["config"], runs["created_at"], strict=True):
        try:
            config = json.loads(text) if text else {}
            entry = config.get("cross_validation")
        except (ValueError, AttributeError):
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("fold"), int):
            continue
        training = {k: v for k, v in (config.get("training") or {}).items() if k != "fold"}
        recipe = {"method": method, "training": training, "inference": config.get("inference"),
                  "degradation": config.get("degradation")}
        group = "cv-" + sha256_text(json.dumps(recipe, sort_keys=True, separators=(",", ":")))
        out[str(key)] = {**entry, "group": group, "created_at": str(created)}
    return out


def _summarise(board: TrackBoard) -> None:
    for entry in board.entries:
        for metric, values in entry.values.items():
            x = values.to_numpy()
            std = float(np.std(x, ddof=1)) if x.size > 1 and np.isfinite(x).all() else math.nan
            entry.summaries[metric] = MetricSummary(
                n=int(x.size),
                mean=float(np.mean(x)),
                std=std,
                ci=bootstrap_ci(x, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED),
            )
    baselines = [e for e in board.entries if e.method == BASELINE_METHOD and e.values]
    baseline = baselines[0] if baselines else None
    for metric in board.metrics:
        best = board.best(metric)
        reference = best[0] if best else None
        for entry in board.entries:
            if metric not in entry.values:
                continue
            entry.summaries[metric] = dataclasses.replace(
                entry.summaries[metric],
                vs_best=_compare(entry, reference, metric),
                vs_baseline=_compare(entry, baseline, metric),
            )
    first = board.first_ranked

    def sort_key(entry: Entry) -> tuple[int, float, str]:
        if first is None or first not in entry.summaries:
            return (1, 0.0, entry.label)
        mean = entry.summaries[first].mean
        return (0, -mean if board.directions[first] else mean, entry.label)

    board.entries.sort(key=sort_key)


def _compare(entry: Entry, reference: Entry | None, metric: str) -> PairedTest | None:
    if reference is None or reference is entry or metric not in reference.values:
        return None
    a, b = entry.values[metric], reference.values[metric]
    common = a.index.intersection(b.index)
    return paired_test(a.loc[common].to_numpy(), b.loc[common].to_numpy())


# -- rendering -----------------------------------------------------------------------
def format_value(x: float) -> str:
    """3 decimals for |x| ≥ 1, 4 below; ``inf`` / ``—`` for infinite / missing."""
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3f}" if abs(x) >= 1 else f"{x:.4f}"


def format_p(test: PairedTest | None) -> str:
    """``0.031 (W, n=7)``: p-value, test (W Wilcoxon, P exact sign-flip, MC Monte-Carlo), pairs."""
    if test is None:
        return "—"
    if test.n == 0 or math.isnan(test.p_value):
        return "— (no paired subjects)"
    code = {"wilcoxon": "W", "sign-flip": "P", "sign-flip-mc": "MC"}[test.test]
    p = "<0.001" if test.p_value < 0.001 else f"{test.p_value:.3g}"
    return f"{p} ({code}, n={test.n})"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|")

    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_metric(board: TrackBoard, metric: str, x: float, *, spread: bool = False) -> str:
    """A value of column ``metric`` as ``board`` shows it: :func:`format_value` for a ranked
    column; a diagnostic with its sign (``+0.0420``; a ``spread`` such as a standard
    deviation without one), a :data:`PERCENT_COLUMNS` column × 100 with 2 decimals
    (``bias`` 0.042 → ``+4.20``)."""
    if board.ranked(metric):
        return format_value(x)
    if math.isnan(x) or (math.isinf(x) and (spread or x < 0)):
        return format_value(x)
    if math.isinf(x):
        return "+inf"
    sign = "" if spread else "+"
    if metric in PERCENT_COLUMNS:
        return f"{100.0 * x:{sign}.2f}"
    return f"{x:{sign}.3f}" if abs(x) >= 1 else f"{x:{sign}.4f}"


def format_summary(board: TrackBoard, metric: str, summary: MetricSummary) -> str:
    """A main-table cell: ``mean ± std`` (the mean alone when the std is undefined)."""
    text = format_metric(board, metric, summary.mean)
    if not math.isnan(summary.std):
        text += f" ± {format_metric(board, metric, summary.std, spread=True)}"
    return text


def _arrow(board: TrackBoard, metric: str) -> str:
    """A metric column's header: ``PSNR ↑``, ``NRMSE ↓``, or a diagnostic's name without an
    arrow (``Bias %`` for a percent column)."""
    if not board.ranked(metric):
        return display_name(metric) + (" %" if metric in PERCENT_COLUMNS else "")
    return f"{display_name(metric)} {'↑' if board.directions[metric] else '↓'}"


def _column_description(column: str) -> str:
    """The ``description`` of the installed metric that declares ``column`` ('' if none)."""
    try:
        from srbench.plugins import get_plugin_manager

        for metric in get_plugin_manager().all("metric"):
            if column in dict(metric.outputs):
                return str(getattr(metric, "description", "") or "")
    except Exception:  # noqa: BLE001 - the store may hold a column no installed plugin computes
        return ""
    return ""


def diagnostics_legend(board: TrackBoard) -> str:
    """What the table legend says about the board's diagnostic columns ('' when it has none)."""
    if not board.diagnostics:
        return ""
    parts = []
    for metric in board.diagnostics:
        description = _column_description(metric)
        scale = "100 × " if metric in PERCENT_COLUMNS and description else ""
        parts.append(f"{_arrow(board, metric)}: {scale}{description}" if description else _arrow(board, metric))
    return ("Columns without an arrow are signed diagnostics: never ranked, in bold or tested against the best "
            "method. " + ". ".join(parts) + ".")


def _convention_text(name: str) -> str:
    try:
        from srbench.metrics import convention
    except ImportError:
        return name
    if getattr(convention, "CONVENTION_NAME", None) != name:
        return name
    description = getattr(convention, "CONVENTION_DESCRIPTION", None) or (convention.__doc__ or "").strip().split("\n")[0]
    return f"{name}: {description}" if description else name


def _degradation_text(name: str, *, options: Mapping[str, Any] | None = None) -> str:
    """``name — description``, the description of the degradation configured with ``options``."""
    try:
        from srbench.plugins import get_plugin_manager

        degradation = get_plugin_manager().get("degradation", name)
        if options:
            degradation = degradation.with_options(dict(options))
        description = getattr(degradation, "description", "")
    except Exception:  # noqa: BLE001 - the store may name a degradation not installed here
        description = ""
    return f"{name} — {description}" if description else name


def options_text(options: Mapping[str, Any]) -> str:
    """``snr = 20, x = "a"`` (TOML-like), or ``none``."""
    if not options:
        return "none"
    return ", ".join(f"{k} = {json.dumps(v)}" for k, v in sorted(options.items()))


def degradation_setup_text(board: TrackBoard) -> str:
    """The options and seed of a board's degradation, in one line."""
    seed = (
        f"seed {board.degradation_seed} (each subject's noise seed is sha256 of it and the subject id)"
        if board.degradation_seed is not None else "seed not recorded"
    )
    return f"{options_text(board.degradation_options)}; {seed}"


#: a track with fewer subjects gets no CI or p-value tables (nothing can be tested)
MIN_SUBJECTS_FOR_STATISTICS = 3


#: what the test-dataset line adds for a cross-validation track
CROSS_VALIDATION_NOTE = (
    " — leave-one-subject-out cross-validation: fold k holds out the k-th subject (sorted by id) and its "
    "model is trained on all the others, so every subject is scored by a model that never saw it"
)


def headline_metrics(board: TrackBoard) -> list[str]:
    """The board's metrics without their variants (``lpips`` but not ``lpips_axial``)."""
    return [m for m in board.metrics if "_" not in m]


def render_per_subject(board: TrackBoard) -> list[str]:
    """Markdown lines of the per-subject section: for each headline metric, a table of
    subject × method, with the fold that scored each subject."""
    scored = [e for e in board.entries if e.not_applicable is None]
    folds: dict[str, int] = {}
    for entry in scored:
        folds.update(entry.folds)
    lines = ["", "## Per subject", "",
             "Each subject's score by each method (on a cross-validation track, by the method's model of the fold "
             "that held the subject out)."]
    for metric in headline_metrics(board):
        rows = []
        for subject in board.subjects:
            cells = [subject, str(folds.get(subject, "—"))]
            for entry in scored:
                series = entry.values.get(metric)
                cells.append(format_metric(board, metric, float(series[subject])) if series is not None and subject in series.index else "—")
            rows.append(cells)
        lines += ["", f"### {_arrow(board, metric)}", "",
                  _table(["Subject", "Fold", *(e.label for e in scored)], rows, ["l", "r"] + ["r"] * len(scored))]
    return lines


#: sub-folder of a leaderboard folder holding hand-written notes: ``notes/<track>.md`` is
#: shown under that track's table (an explanation with its measurement, e.g. why a method loses)
NOTES_FOLDER = "notes"
#: the largest notes file read (text, not data)
MAX_NOTES_BYTES = 64 * 1024


def read_track_notes(out_dir: Path, track: str) -> str | None:
    """The notes of ``track`` in ``out_dir/notes/`` (None when there are none).

    Raises:
        InputError: the notes path is not a regular file, too large, or not UTF-8 text.
    """
    from srbench.io.paths import regular_file

    path = Path(out_dir) / NOTES_FOLDER / f"{Path(track_filename(track)).stem}.md"
    if not path.exists() and not path.is_symlink():
        return None
    regular_file(path, what="leaderboard notes")
    if path.stat().st_size > MAX_NOTES_BYTES:
        raise file_error(path, f"notes are larger than {MAX_NOTES_BYTES // 1024} KiB")
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except UnicodeDecodeError:
        raise file_error(path, "notes are not UTF-8 text") from None


def render_track(board: TrackBoard, *, today: str, srbench_version: str, figure: str | None = None,
                 notes: str | None = None) -> str:
    """The markdown of one track's leaderboard (``notes``: markdown shown under the tables)."""
    info = board.info
    header = [
        f"# Leaderboard: track `{board.track}`",
        "",
        f"- **Kind:** {info.kind if info else 'unknown'}",
        f"- **Test dataset:** {info.test if info else 'unknown'}"
        + (f" (models trained on {info.train})" if info and info.train else "")
        + (CROSS_VALIDATION_NOTE if info and info.kind == "cv" else ""),
        f"- **Scale:** ×{_scale_text(board.scale)}",
        f"- **Degradation:** {_degradation_text(board.degradation, options=board.degradation_options)}",
        f"- **Degradation options:** {degradation_setup_text(board)}",
        f"- **Intensity convention:** {_convention_text(board.intensity_convention)}",
        f"- **LPIPS planes:** {LPIPS_PLANES}",
        f"- **srbench version:** {srbench_version}"
        + (f" (results computed with {', '.join(board.srbench_versions)})" if board.srbench_versions else ""),
        f"- **Date:** {today} (UTC)",
        f"- **Subjects:** {len(board.subjects)}",
        "",
        "Mean ± sample standard deviation over subjects; ↑ higher is better, ↓ lower is better; "
        "best value in **bold**; n = number of subjects." + (f" {diagnostics_legend(board)}" if board.diagnostics else ""),
        "",
    ]
    best = {m: {e.run_key for e in board.best(m)} for m in board.metrics}
    rows = []
    for entry in board.entries:
        cells = [entry.label, str(entry.n)]
        for metric in board.metrics:
            if entry.not_applicable is not None:
                cells.append("not applicable")
                continue
            summary = entry.summaries.get(metric)
            if summary is None:
                cells.append("—")
                continue
            text = format_summary(board, metric, summary)
            cells.append(f"**{text}**" if entry.run_key in best[metric] else text)
        rows.append(cells)
    body = [_table(["Method", "n", *(_arrow(board, m) for m in board.metrics)], rows, ["l", "r"] + ["r"] * len(board.metrics))]

    if info is not None and info.kind == "cv":
        body += render_per_subject(board)
    absent = [e for e in board.entries if e.not_applicable is not None]
    if absent:
        body += ["", "## Not applicable", ""]
        body += [f"- **{e.label}**: {e.not_applicable}" for e in absent]
    if notes:
        body += ["", "## Notes", "", notes]
    if figure:
        body += ["", "## Figure", "", f"![{board.track}: ground truth, trilinear and each method, with error maps]({figure})"]

    if len(board.subjects) < MIN_SUBJECTS_FOR_STATISTICS:
        body += [
            "",
            "## Statistics",
            "",
            f"No confidence interval or paired test is possible on this track: it has {len(board.subjects)} "
            f"subject{'s' if len(board.subjects) != 1 else ''}, and at least {MIN_SUBJECTS_FOR_STATISTICS} are needed "
            "(with fewer, a bootstrap resamples the same values and the smallest possible p-value of an exact "
            "paired test is 2^(1-n) ≥ 0.5).",
        ]
        return "\n".join(header + body) + "\n"
    body += [
        "",
        "## Statistics",
        "",
        f"95% CI: percentile bootstrap of the mean over subjects ({BOOTSTRAP_RESAMPLES} resamples, seed "
        f"{BOOTSTRAP_SEED}). p: two-sided paired test over the subjects both methods have, against the best "
        f"method of that metric and against {BASELINE_METHOD}: W = Wilcoxon signed-rank (n ≥ 6 pairs), "
        "P = exact sign-flip permutation test of the mean difference (n < 6)."
        + (f" A diagnostic has no best method: it is tested against {BASELINE_METHOD} only." if board.diagnostics else ""),
    ]
    for metric in board.metrics:
        ranked = board.ranked(metric)
        stat_rows = []
        for entry in board.entries:
            summary = entry.summaries.get(metric)
            if summary is None:
                continue
            lo, hi = (format_metric(board, metric, v) for v in summary.ci)
            stat_rows.append([
                entry.label, str(summary.n), format_metric(board, metric, summary.mean),
                format_metric(board, metric, summary.std, spread=True), f"[{lo}, {hi}]",
                *([format_p(summary.vs_best)] if ranked else []), format_p(summary.vs_baseline),
            ])
        headers = ["Method", "n", "mean", "std", "95% CI", *(["p vs best"] if ranked else []), f"p vs {BASELINE_METHOD}"]
        body += [
            "",
            f"### {_arrow(board, metric)}",
            "",
            _table(headers, stat_rows, ["l", "r", "r", "r", "c"] + ["r"] * (len(headers) - 5)),
        ]
    return "\n".join(header + body) + "\n"


def track_filename(track: str) -> str:
    """A safe markdown file name for ``track`` (one path component; never ``index.md``)."""
    from srbench.io.paths import path_component

    name = path_component(track)
    return f"{name}.md" if name != "index" else "track-index.md"


def render_index(boards: Sequence[TrackBoard], *, today: str, srbench_version: str) -> str:
    """The index: one line per track with a link, its set-up and the leader on its first
    ranked metric (never a diagnostic)."""
    rows = []
    for board in boards:
        first = board.first_ranked
        leaders = board.best(first) if first else []
        leader = (
            f"{', '.join(e.label for e in leaders)} ({format_value(leaders[0].summaries[first].mean)} {display_name(first)})"
            if leaders else "—"
        )
        rows.append([
            f"[{board.track}]({track_filename(board.track)})",
            board.info.kind if board.info else "unknown",
            board.info.test if board.info else "unknown",
            board.degradation + (f" ({options_text(board.degradation_options)})" if board.degradation_options else ""),
            f"×{_scale_text(board.scale)}",
            str(len(board.subjects)),
            str(len(board.entries)),
            leader,
        ])
    lines = [
        "# srbench leaderboards",
        "",
        f"srbench {srbench_version}, {today} (UTC). One file per track; each states its degradation, scale, "
        "intensity convention and statistics.",
        "",
        _table(["Track", "Kind", "Test dataset", "Degradation", "Scale", "Subjects", "Methods", "Leader"], rows,
               ["l", "l", "l", "l", "l", "r", "r", "l"]),
    ]
    drops = render_acquisition_drops(boards)
    if drops:
        lines += ["", drops.rstrip("\n")]
    return "\n".join(lines) + "\n"


# -- in-sample → acquisition tracks ----------------------------------------------------
#: the metric columns of the drop table
DROP_METRICS = ("psnr", "lpips")


@dataclasses.dataclass(frozen=True)
class AcquisitionDrop:
    """One method's change from an in-sample track to a track testing the same subjects
    with LR made another way (k-space truncation, noise...).

    Attributes:
        label: the method's leaderboard label (the same on both tracks).
        reference: the in-sample track.
        track: the acquisition track.
        metric: the metric column.
        reference_mean, mean: the means over the subjects both tracks have.
        change: ``mean − reference_mean`` (mean of the paired per-subject differences).
        n: the number of those subjects.
    """

    label: str
    reference: str
    track: str
    metric: str
    reference_mean: float
    mean: float
    change: float
    n: int


def acquisition_pairs(boards: Sequence[TrackBoard]) -> list[tuple[TrackBoard, TrackBoard]]:
    """``(in-sample board, acquisition board)`` pairs: a non-in-sample track with the same
    test dataset and scale as an in-sample track but another degradation or options."""
    pairs = []
    for reference in boards:
        if not reference.info or reference.info.kind != "insample":
            continue
        for board in boards:
            if board is reference or not board.info or board.info.kind == "insample":
                continue
            same_data = board.info.test == reference.info.test and tuple(board.scale) == tuple(reference.scale)
            other_lr = (board.degradation, board.degradation_options) != (reference.degradation, reference.degradation_options)
            if same_data and other_lr:
                pairs.append((reference, board))
    return pairs


def acquisition_drops(boards: Sequence[TrackBoard], *, metrics: Sequence[str] = DROP_METRICS) -> list[AcquisitionDrop]:
    """Per method (matched by label), in-sample track and acquisition track, the change of
    each of ``metrics`` over the subjects both tracks have."""
    drops = []
    for reference, board in acquisition_pairs(boards):
        before = {e.label: e for e in reference.entries if e.values}
        for entry in board.entries:
            base = before.get(entry.label)
            if base is None:
                continue
            for metric in metrics:
                if metric not in entry.values or metric not in base.values:
                    continue
                a, b = base.values[metric], entry.values[metric]
                common = a.index.intersection(b.index)
                if not len(common):
                    continue
                ref_mean, mean = float(a.loc[common].mean()), float(b.loc[common].mean())
                drops.append(AcquisitionDrop(entry.label, reference.track, board.track, metric, ref_mean, mean,
                                             float((b.loc[common] - a.loc[common]).mean()), int(len(common))))
    return drops


def _signed(x: float, *, like: float) -> str:
    """``x`` with its sign, with the decimals :func:`format_value` gives ``like`` (the
    in-sample value), so a column of changes lines up with its reference."""
    if math.isnan(x) or math.isinf(x):
        return format_value(x)
    decimals = 3 if math.isfinite(like) and abs(like) >= 1 else 4
    return f"{x:+.{decimals}f}"


def render_acquisition_drops(boards: Sequence[TrackBoard]) -> str:
    """Markdown: per in-sample track, a table with a row per method giving its in-sample
    PSNR and LPIPS and their change on each acquisition track ('' when there is none)."""
    drops = acquisition_drops(boards)
    if not drops:
        return ""
    sections = [
        "## Drop from in-sample to the acquisition tracks",
        "",
        "The same test subjects with the LR made another way than the box averages the models were trained "
        "on (each track's file states how). Δ = acquisition − in-sample, the mean over the subjects both "
        "tracks have: a negative Δ PSNR (dB) or a positive Δ LPIPS is a loss. A large loss means the method "
        "relies on the box-average assumption.",
    ]
    for reference in dict.fromkeys(d.reference for d in drops):
        mine = [d for d in drops if d.reference == reference]
        tracks = list(dict.fromkeys(d.track for d in mine))
        metrics = [m for m in DROP_METRICS if any(d.metric == m for d in mine)]
        labels = list(dict.fromkeys(d.label for d in mine))
        found = {(d.label, d.track, d.metric): d for d in mine}
        headers = ["Method"]
        for metric in metrics:
            headers.append(f"{display_name(metric)} {reference}")
            headers += [f"Δ {display_name(metric)} {track}" for track in tracks]
        rows = []
        for label in labels:
            cells = [label]
            for metric in metrics:
                base = next((d for d in mine if d.label == label and d.metric == metric), None)
                cells.append(format_value(base.reference_mean) if base else "—")
                for track in tracks:
                    drop = found.get((label, track, metric))
                    cells.append(_signed(drop.change, like=drop.reference_mean) if drop else "—")
            rows.append(cells)
        sections += ["", f"### From `{reference}`", "", _table(headers, rows, ["l"] + ["r"] * (len(headers) - 1))]
    return "\n".join(sections) + "\n"


# -- writing -------------------------------------------------------------------------
def build_boards(store: ResultsStore, *, directions: Mapping[str, bool | None] | None = None,
                 track_info: Mapping[str, TrackRecord] | None = None) -> list[TrackBoard]:
    """A board per track in ``store``, sorted by kind (in-sample first) then name."""
    rows = store.rows()
    marks = store.not_applicable()
    infos = {**dict(track_info or {}), **store.tracks()}
    tracks = sorted(set(rows["track"]) | set(marks["track"]))
    if not tracks:
        raise file_error(store.path, "results store is empty (run 'srbench evaluate' first)")
    if directions is None:
        directions = metric_directions(order_metrics(rows["metric"].unique().tolist()))
    degradations = run_degradations(store)
    folds = run_folds(store)
    boards = [build_board(t, rows, marks, info=infos.get(t), directions=directions, run_degradations=degradations,
                          run_folds=folds)
              for t in tracks]
    return sorted(boards, key=lambda b: (0 if b.info and b.info.kind == "insample" else 1, b.track))


def write_leaderboards(
    store: ResultsStore,
    out_dir: str | Path,
    *,
    figures: bool = False,
    predictions_dir: str | Path | None = None,
    today: str | None = None,
    directions: Mapping[str, bool | None] | None = None,
    track_info: Mapping[str, TrackRecord] | None = None,
) -> LeaderboardFiles:
    """Write ``index.md`` and ``<track>.md`` (and ``figures/<track>.png``) under ``out_dir``.

    Args:
        store: the results to publish.
        out_dir: created when missing (its parent must exist).
        figures: also draw each track's figure from saved predictions
            (:func:`srbench.figures.figure_for_track`); without it, a figure already in
            ``out_dir/figures/`` is linked. Notes in ``out_dir/notes/<track>.md``
            (:func:`read_track_notes`) are shown under the track's tables.
        predictions_dir: where evaluate saved predictions (default: ``predictions/``
            beside the store).
        today: the date to print (default: the UTC date of the newest run in the store, so the
            same rows always render to the same bytes).
        directions: metric column → True (higher is better), False (lower is better) or None (a
            diagnostic) (default: from the metric plugins).
        track_info: track descriptions for tracks the store does not describe itself.
    """
    from srbench import __version__

    out_dir = Path(out_dir)
    check_creatable_dir(out_dir, what="leaderboard folder")
    boards = build_boards(store, directions=directions, track_info=track_info)
    track_notes = {board.track: read_track_notes(out_dir, board.track) for board in boards}  # read all before writing
    if not out_dir.parent.exists():
        raise file_error(out_dir, f"output directory's parent '{out_dir.parent}' does not exist")
    ensure_dir(out_dir, what="leaderboard folder")
    if today is None:
        from srbench.results import results_date

        today = results_date(store)

    figure_paths: dict[str, Path] = {}
    notes: list[str] = []
    if figures:
        from srbench.figures import default_predictions_dir, figure_for_track

        root = Path(predictions_dir) if predictions_dir is not None else default_predictions_dir(store.path)
        ensure_dir(out_dir / "figures", what="figures folder")
        for board in boards:
            target = out_dir / "figures" / f"{Path(track_filename(board.track)).stem}.png"
            result = figure_for_track(store, board.track, predictions_dir=root, out_path=target,
                                      methods=[e.method for e in board.entries if e.not_applicable is None])
            if isinstance(result, str):
                notes.append(f"track '{board.track}': no figure ({result})")
            else:
                figure_paths[board.track] = result.path

    track_paths: dict[str, Path] = {}
    for board in boards:
        path = out_dir / track_filename(board.track)
        figure = figure_paths.get(board.track)
        existing = out_dir / "figures" / f"{Path(track_filename(board.track)).stem}.png"
        if figure is None and not figures and existing.is_file():
            figure = existing  # drawn by an earlier run (e.g. the committed boards rendered --from an export)
        rel = figure.relative_to(out_dir).as_posix() if figure else None
        text = render_track(board, today=today, srbench_version=__version__, figure=rel,
                            notes=track_notes[board.track])
        write_text_atomic(path, text)
        track_paths[board.track] = path
    index_md = render_index(boards, today=today, srbench_version=__version__)
    index = out_dir / "index.md"
    write_text_atomic(index, index_md)
    return LeaderboardFiles(index=index, index_markdown=index_md, tracks=track_paths, figures=figure_paths, notes=notes)
