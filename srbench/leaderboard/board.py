"""Leaderboard boards: results-store rows → per-track data with statistics.

Per track a :class:`TrackBoard` has an :class:`Entry` per method (one per run when a
method was evaluated with several checkpoints; one per method's set of fold models on a
cross-validation track) holding each subject's value of every metric column, and per
column the mean, sample standard deviation, 95% Student-t interval of the mean over
subjects, the paired difference to the baseline with its interval, and paired sign-flip
tests against the best method and against the baseline
(:mod:`srbench.statistics`). Methods that could not run on a track get an entry marked
not applicable.

What a column is (its direction, name, group, unit) comes from the metric that computed
it (:class:`~srbench.metric_columns.MetricColumn`): from the store, then the installed
plugins. A column a metric declares a *diagnostic* (direction None) has no better
direction: never best, never used to sort or to name a leader, and its statistics test
only against the baseline.

A board never mixes degradations, scales or intensity conventions: such rows are
refused with an :class:`~srbench.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from srbench import capabilities
from srbench.config.document import configure
from srbench.defaults import BASELINE_METHOD
from srbench.errors import InputError, file_error
from srbench.io.hashing import sha256_text
from srbench.leaderboard.budget import entry_budgets
from srbench.leaderboard.inference import entry_inference
from srbench.metric_columns import HARNESS_COLUMNS, MetricColumn, declared_columns, resolve_columns
from srbench.results.store import EXTERNAL_CONFIG_KEY, METRIC_SELECTION_KEY, ResultsStore, TrackRecord
from srbench.statistics import PairedTest, holm_adjusted, paired_test, t_interval

if TYPE_CHECKING:
    from srbench.plugins import PluginManager

#: family-wise error rate of a board's claims (a value in bold, a leader in the index)
CLAIM_ALPHA = 0.05


#: appended to the label of such a row on every board, with :data:`EXTERNAL_LEGEND` below the table
EXTERNAL_MARK = "†"
EXTERNAL_LEGEND = "† external: scored by srbench from submitted files (srbench score), not re-derivable from weights."
#: the inference line of such a row
EXTERNAL_INFERENCE = "not run by srbench: SR volumes submitted as files and scored as they are (sha256 recorded per subject)"


@dataclasses.dataclass(frozen=True)
class MetricSummary:
    """Statistics of one method on one metric column over subjects.

    Attributes:
        n: subjects with a value.
        mean, std: mean and sample standard deviation (``ddof=1``; NaN when n = 1).
        ci: 95% Student-t interval of the mean (NaN below 2 subjects).
        vs_best, vs_baseline: paired sign-flip tests against the best method and
            trilinear, Holm-adjusted within the table's family (:func:`table_family`;
            None for the method itself or when that method is absent).
        baseline_difference: mean paired difference to trilinear over the subjects both
            have, and its 95% Student-t interval (None as for ``vs_baseline``).
    """

    n: int
    mean: float
    std: float
    ci: tuple[float, float]
    vs_best: PairedTest | None = None
    vs_baseline: PairedTest | None = None
    baseline_difference: tuple[float, float, float] | None = None


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
    #: how its volumes were inferred (:func:`srbench.leaderboard.inference.describe_inference`)
    inference: str = ""
    #: what it was trained with (:func:`srbench.leaderboard.budget.describe_budget`)
    budget: str = ""
    #: the submission (label, description, URL) of a row scored from submitted files; None for a plugin's row
    external: dict[str, Any] | None = None
    #: the metric plugins its run computed when it did not compute all (``evaluate --metric``); None: all
    metric_selection: list[str] | None = None

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
    #: metric column → its declaration, in column order
    columns: dict[str, MetricColumn]
    entries: list[Entry]
    subjects: list[str]
    srbench_versions: list[str]
    #: the degradation's options as recorded in the runs' config (``{}``: none)
    degradation_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: the track's noise seed as recorded in the runs' config (None: not recorded)
    degradation_seed: int | None = None
    #: the installed degradation's one-line description, configured with the options ('' if unknown)
    degradation_description: str = ""
    #: whether the degradation, configured with the options, draws noise (its ``uses_seed``),
    #: so that the seed matters; None: unknown (a degradation neither installed nor built in)
    degradation_draws_noise: bool | None = None
    #: subject → the evaluation mask's voxel fraction (0 to 1); empty for rows scored before masks
    mask_fractions: dict[str, float] = dataclasses.field(default_factory=dict)
    #: row label → its stored subjects left out because not every row has them (see
    #: :func:`shared_subjects`); empty when every row covers the same subjects
    left_out: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        """The metric columns, in column order."""
        return list(self.columns)

    @property
    def directions(self) -> dict[str, bool | None]:
        """Metric column → True (higher is better), False (lower is better) or None (a diagnostic)."""
        return {name: column.direction for name, column in self.columns.items()}

    def ranked(self, metric: str) -> bool:
        """False for a diagnostic column (no better direction: never best, never sorted by)."""
        return self.directions.get(metric) is not None

    @property
    def primary_metric(self) -> str | None:
        """The column that sorts the rows and names a leader: the track's declared primary
        metric when the board has it as a ranked column, else the first ranked column."""
        declared = self.info.primary_metric if self.info is not None else None
        if declared is not None and declared in self.columns and self.ranked(declared):
            return declared
        return next((m for m in self.metrics if self.ranked(m)), None)

    @property
    def diagnostics(self) -> list[str]:
        """The diagnostic columns, in column order."""
        return [m for m in self.metrics if not self.ranked(m)]

    def supported_best(self, metric: str) -> Entry | None:
        """The entry with the best mean on ``metric`` when the rows support the claim: it is
        the only best, and its paired test against every other scored entry rejects at
        :data:`CLAIM_ALPHA` after Holm adjustment over the table's family (every pair of
        rows, see :func:`table_family`), so the family-wise error holds although the best
        was picked from the same data. None otherwise: with one subject nothing is tested,
        and with four the exact sign-flip test cannot go below p = 0.125."""
        best = self.best(metric)
        if len(best) != 1:
            return None
        others = [e for e in self.entries if e is not best[0] and metric in e.summaries]
        tests = [e.summaries[metric].vs_best for e in others]
        if not others or any(t is None or t.adjusted is None for t in tests):
            return None
        return best[0] if all(t.adjusted < CLAIM_ALPHA for t in tests) else None  # type: ignore[union-attr,operator]

    def best(self, metric: str) -> list[Entry]:
        """The entries with the best mean on ``metric`` (ties included; none for a diagnostic)."""
        scored = [e for e in self.entries if metric in e.summaries and not math.isnan(e.summaries[metric].mean)]
        if not scored or not self.ranked(metric):
            return []
        pick = max if self.directions[metric] else min
        target = pick(e.summaries[metric].mean for e in scored)
        return [e for e in scored if e.summaries[metric].mean == target]


# -- metric columns -------------------------------------------------------------------
def board_columns(
    store: ResultsStore,
    names: Sequence[str],
    *,
    pm: PluginManager | None = None,
    directions: Mapping[str, bool | None] | None = None,
) -> dict[str, MetricColumn]:
    """Column → its declaration, in column order: as stored at evaluation, else as the
    metrics installed in ``pm`` declare it; ``directions`` (column → direction), when
    given, replaces every column's direction (a column it leaves out is then an error).

    Raises:
        InputError: a column nothing declares.
    """
    known = {**(declared_columns(pm) if pm is not None else {}), **store.metric_columns()}
    if directions is None:
        return resolve_columns(names, known)
    chosen = {
        name: dataclasses.replace(known.get(name, MetricColumn(name=name)), direction=None if d is None else bool(d))
        for name, d in directions.items()
    }
    return resolve_columns(names, chosen)


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
    columns: Mapping[str, MetricColumn],
    info: TrackRecord | None = None,
    run_degradations: Mapping[str, Mapping[str, Any]] | None = None,
    run_folds: Mapping[str, Mapping[str, Any]] | None = None,
    run_external: Mapping[str, Mapping[str, Any]] | None = None,
    row_labels: Mapping[str, str] | None = None,
) -> TrackBoard:
    """Summarise one track's rows (``ResultsStore.rows(track)``) and not-applicable marks.

    ``columns`` declares every metric column of the rows (:func:`board_columns`).

    ``run_degradations`` maps a run key to the ``degradation`` entry of its run config
    (``{"name", "options", "seed"}``, see :func:`run_degradations`); runs without one
    (stores written before options existed) count as having no options and no seed.

    ``run_folds`` maps the run key of a cross-validation fold's run to its
    :func:`run_folds` entry; the runs of one method's folds (same ``group``) form one
    row, whose values are each subject's score by the model of its fold (when a subject
    was scored by several runs of the group, the newest run's values count).

    ``run_external`` maps the run key of a run scored from submitted files to its
    ``external`` entry (:func:`srbench.external.scoring.external_runs`): its row is
    labelled with :data:`EXTERNAL_MARK` and carries the submission.

    ``row_labels`` maps a run key to its training configuration's ``row_label``
    (:func:`run_row_labels`): the row is called ``method (row_label)``.

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

    harness = rows["metric"].isin(list(HARNESS_COLUMNS))
    fractions = rows[rows["metric"] == "mask_fraction"].drop_duplicates(subset=["subject"])
    mask_fractions = {str(s): float(v) for s, v in sorted(zip(fractions["subject"], fractions["value"], strict=True))}
    rows = rows[~harness]
    present = set(rows["metric"])
    missing = sorted(present - set(columns))
    if missing:
        raise InputError(f"no direction (higher or lower is better) known for metric column(s) {', '.join(missing)}")

    folds = dict(run_folds or {})
    rows = rows.assign(entry=[folds[k]["group"] if k in folds else k for k in rows["run_key"]])
    marks = marks.assign(entry=[folds[k]["group"] if k in folds else k for k in marks["run_key"]])
    runs_per_method = rows.groupby("method")["entry"].nunique().to_dict()
    for method, count in marks[~marks["entry"].isin(rows["entry"])].groupby("method")["entry"].nunique().items():
        runs_per_method[method] = runs_per_method.get(method, 0) + int(count)

    external = dict(run_external or {})

    named = dict(row_labels or {})
    entry_labels = {entry: named[key] for entry, key in zip(pd.concat([rows["entry"], marks["entry"]]),
                                                            pd.concat([rows["run_key"], marks["run_key"]]), strict=True)
                    if named.get(key)}

    def label(method: str, run_key: str, checkpoint: Any) -> str:
        mark = f" {EXTERNAL_MARK}" if run_key in external else ""
        tags = [entry_labels[run_key]] if run_key in entry_labels else []
        if runs_per_method.get(method, 1) > 1:
            tags.append(f"ckpt {checkpoint[:8]}" if isinstance(checkpoint, str) and checkpoint else f"run {run_key[:8]}")
        return f"{method} ({', '.join(tags)}){mark}" if tags else method + mark

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
                             folds=subject_folds, fold_runs=dict(sorted(fold_runs.items())),
                             external=dict(external[key]) if key in external else None))
    with_results = {e.run_key for e in entries}
    for mark in marks.itertuples():
        if mark.entry not in with_results:
            with_results.add(mark.entry)
            entries.append(
                Entry(label(mark.method, mark.entry, mark.checkpoint_sha256), mark.method, mark.entry, {},
                      not_applicable=mark.reason)
            )

    subjects, left_out = shared_subjects(entries)
    board = TrackBoard(
        track=track, info=info, degradation=degradation, intensity_convention=convention, scale=scale,
        columns={name: column for name, column in columns.items() if name in present}, entries=entries,
        subjects=subjects, left_out=left_out,
        srbench_versions=sorted({str(v) for v in rows["srbench_version"].dropna().unique() if str(v)}),
        degradation_options=options, degradation_seed=seed, mask_fractions=mask_fractions,
    )
    summarise(board)
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
    return store.run_config_entries("degradation")


def run_row_labels(store: ResultsStore) -> dict[str, str]:
    """Run key → the ``row_label`` its training configuration declares (runs without one
    are absent): what a board calls the row after the method's name."""
    out = {}
    for key, training in store.run_config_entries("training").items():
        value = training.get("row_label") if isinstance(training, Mapping) else None
        if isinstance(value, str) and value.strip() and value.isprintable():
            out[str(key)] = value.strip()
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


def shared_subjects(entries: Sequence[Entry]) -> tuple[list[str], dict[str, list[str]]]:
    """Restrict every row to the subjects all rows with values have, in place.

    A mean over other subjects than its neighbours' is not comparable (a row scored on one
    more, easier head would lead by that head alone), so a board compares rows over the
    subjects they share. Returns those subjects (sorted) and, per row label, the stored
    subjects left out. When the rows share no subject at all nothing is restricted and
    every subject is returned (each row then shows its own n).
    """
    scored = [e for e in entries if e.values]
    per_entry = {id(e): set().union(*(set(v.index) for v in e.values.values())) for e in scored}
    every = sorted(set().union(*per_entry.values())) if per_entry else []
    shared = set.intersection(*per_entry.values()) if per_entry else set()
    if not shared or all(subjects == shared for subjects in per_entry.values()):
        return every, {}
    left_out: dict[str, list[str]] = {}
    for entry in scored:
        extra = sorted(per_entry[id(entry)] - shared)
        if extra:
            left_out[entry.label] = extra
            entry.values = {metric: values[values.index.isin(shared)] for metric, values in entry.values.items()}
    return sorted(shared), left_out


def summarise(board: TrackBoard) -> None:
    """Fill every entry's :class:`MetricSummary` (mean, sd, t-interval, the paired difference
    to trilinear, the table family's Holm-adjusted tests) and sort the rows by the board's
    primary metric (:attr:`TrackBoard.primary_metric`), in place. Everything a board claims is decided from these summaries."""
    for entry in board.entries:
        for metric, values in entry.values.items():
            x = values.to_numpy()
            std = float(np.std(x, ddof=1)) if x.size > 1 and np.isfinite(x).all() else math.nan
            entry.summaries[metric] = MetricSummary(
                n=int(x.size),
                mean=float(np.mean(x)),
                std=std,
                ci=t_interval(x),
            )
    baselines = [e for e in board.entries if e.method == BASELINE_METHOD and e.values]
    baseline = baselines[0] if baselines else None
    for metric in board.metrics:
        best = board.best(metric)
        reference = best[0] if best else None
        family = table_family(board, metric, baseline)
        for entry in board.entries:
            if metric not in entry.values:
                continue
            entry.summaries[metric] = dataclasses.replace(
                entry.summaries[metric],
                vs_best=family.get(_pair(entry, reference)),
                vs_baseline=family.get(_pair(entry, baseline)),
                baseline_difference=_difference(entry, baseline, metric),
            )
    first = board.primary_metric

    def sort_key(entry: Entry) -> tuple[int, float, str]:
        if first is None or first not in entry.summaries:
            return (1, 0.0, entry.label)
        mean = entry.summaries[first].mean
        return (0, -mean if board.directions[first] else mean, entry.label)

    board.entries.sort(key=sort_key)


def _pair(a: Entry, b: Entry | None) -> frozenset[str] | None:
    """The unordered pair of two different rows (None for a row and itself or no row)."""
    return None if b is None or a is b else frozenset((a.run_key, b.run_key))


def table_family(board: TrackBoard, metric: str, baseline: Entry | None) -> dict[frozenset[str], PairedTest]:
    """The tests of one table (one metric column), Holm-adjusted as one family.

    A ranked column's family is every pair of rows with values: "p vs best" and "p vs
    trilinear" are members of it, so choosing the best row from the same data cannot
    inflate the family-wise error. A diagnostic has no best, and its family is each row
    against ``baseline``. Each test is the paired sign-flip test over the subjects both
    rows have (:func:`srbench.statistics.paired_test`), returned with ``adjusted`` (Holm)
    and ``family`` (the number of tests) set, keyed by the pair of run keys.
    """
    scored = [e for e in board.entries if metric in e.values]
    if board.ranked(metric):
        pairs = [(a, b) for i, a in enumerate(scored) for b in scored[i + 1:]]
    else:
        pairs = [(e, baseline) for e in scored if baseline is not None and e is not baseline and metric in baseline.values]
    tests = []
    for a, b in pairs:
        x, y = a.values[metric], b.values[metric]
        common = x.index.intersection(y.index)
        tests.append(paired_test(x.loc[common].to_numpy(), y.loc[common].to_numpy()))
    adjusted = holm_adjusted([t.p_value for t in tests])
    m = sum(not math.isnan(p) for p in adjusted)
    return {
        _pair(a, b): dataclasses.replace(t, adjusted=None if math.isnan(q) else q, family=m)  # type: ignore[misc]
        for (a, b), t, q in zip(pairs, tests, adjusted, strict=True)
    }


def _difference(entry: Entry, reference: Entry | None, metric: str) -> tuple[float, float, float] | None:
    """Mean of ``entry − reference`` over their shared subjects (finite pairs) and its t-interval."""
    if reference is None or reference is entry or metric not in reference.values:
        return None
    a, b = entry.values[metric], reference.values[metric]
    common = a.index.intersection(b.index)
    d = a.loc[common].to_numpy(dtype=float) - b.loc[common].to_numpy(dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return None
    lo, hi = t_interval(d)
    return float(np.mean(d)), lo, hi


def degradation_description(pm: PluginManager | None, name: str, options: Mapping[str, Any]) -> str:
    """The one-line description of degradation ``name`` configured with ``options``, as
    installed in ``pm`` ('' without ``pm``, or when it is not installed or refuses them)."""
    if pm is None:
        return ""
    try:
        return capabilities.description(configure(pm.get("degradation", name), options))
    except Exception:  # noqa: BLE001 - the store may name a degradation not installed here
        return ""


def degradation_draws_noise(pm: PluginManager | None, name: str, options: Mapping[str, Any]) -> bool | None:
    """Whether degradation ``name`` configured with ``options`` draws noise, so that a track's
    seed changes its LR: the degradation's declared ``uses_seed`` (True when it declares
    nothing). It is looked up in ``pm``, else among srbench's built-in degradations, so a
    store or export of built-in degradations renders the same without plugins; None when
    neither has it, or it refuses the options."""
    from srbench.builtins.degradations import register_degradations

    candidates = []
    if pm is not None:
        try:
            candidates.append(pm.get("degradation", name))
        except Exception:  # noqa: BLE001 - the store may name a degradation not installed here
            pass
    candidates += [d for d in register_degradations() if capabilities.name(d) == name]
    if not candidates:
        return None
    try:
        configured = configure(candidates[0], options)
    except Exception:  # noqa: BLE001 - options this version does not know
        return None
    return capabilities.uses_seed(configured)


def build_boards(
    store: ResultsStore,
    *,
    pm: PluginManager | None = None,
    directions: Mapping[str, bool | None] | None = None,
    track_info: Mapping[str, TrackRecord] | None = None,
) -> list[TrackBoard]:
    """A board per track in ``store``, sorted by kind (in-sample first) then name.

    Args:
        store: the results.
        pm: the installed plugins: they declare the metric columns a store written before
            declarations were stored lacks, and describe the degradations (None: the
            store alone).
        directions: metric column → True (higher is better), False (lower is better) or
            None (a diagnostic), replacing the declared directions.
        track_info: track descriptions for tracks the store does not describe itself.

    Raises:
        InputError: an empty store, a column nothing declares, or a track mixing set-ups.
    """
    rows = store.rows()
    marks = store.not_applicable()
    infos = {**dict(track_info or {}), **store.tracks()}
    tracks = sorted(set(rows["track"]) | set(marks["track"]))
    if not tracks:
        raise file_error(store.path, "results store is empty (run 'srbench evaluate' first)")
    columns = board_columns(store, rows["metric"].unique().tolist(), pm=pm, directions=directions)
    degradations = run_degradations(store)
    folds = run_folds(store)
    external = store.run_config_entries(EXTERNAL_CONFIG_KEY)
    selections = store.run_config_entries(METRIC_SELECTION_KEY)
    labels = run_row_labels(store)
    boards = [build_board(t, rows, marks, columns=columns, info=infos.get(t), run_degradations=degradations,
                          run_folds=folds, run_external=external, row_labels=labels)
              for t in tracks]
    for board in boards:
        board.degradation_description = degradation_description(pm, board.degradation, board.degradation_options)
        board.degradation_draws_noise = degradation_draws_noise(pm, board.degradation, board.degradation_options)
        described = entry_inference(store, {e.run_key: list(e.fold_runs.values()) or [e.run_key] for e in board.entries},
                                    board.track, scale=board.scale)
        budgets = entry_budgets(store, {e.run_key: list(e.fold_runs.values()) or [e.run_key] for e in board.entries})
        for entry in board.entries:
            entry.inference = EXTERNAL_INFERENCE if entry.external is not None else described[entry.run_key]
            entry.budget = "" if entry.external is not None else budgets[entry.run_key]
            chosen = selections.get(entry.run_key, {}).get("metrics")
            entry.metric_selection = [str(m) for m in chosen] if isinstance(chosen, list) else None
    return sorted(boards, key=lambda b: (0 if b.info and b.info.kind == "insample" else 1, b.track))


# -- in-sample → acquisition tracks ----------------------------------------------------
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


def key_columns(boards: Sequence[TrackBoard]) -> list[MetricColumn]:
    """The key columns of ``boards`` (declared with ``key``), in column order."""
    found: dict[str, MetricColumn] = {}
    for board in boards:
        found.update({name: column for name, column in board.columns.items() if column.display.key and name not in found})
    return sorted(found.values(), key=MetricColumn.sort_key)


def acquisition_drops(boards: Sequence[TrackBoard], *, metrics: Sequence[str] | None = None) -> list[AcquisitionDrop]:
    """Per method (matched by label), in-sample track and acquisition track, the change of
    each of ``metrics`` (default: the key columns) over the subjects both tracks have."""
    if metrics is None:
        metrics = [column.name for column in key_columns(boards)]
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
