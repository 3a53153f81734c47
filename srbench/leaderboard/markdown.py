"""Leaderboard markdown: one file per track plus an index (``srbench leaderboard``).

Per track the main table has a row per board entry: the number of subjects and the mean
± sample standard deviation of every metric column, an arrow in each column header for
the better direction and the best value in bold where the rows support it; a diagnostic column is shown signed
(a percent column in percent), without an arrow and never in bold. A statistics section
per metric adds the 95% t-interval, the paired difference to trilinear and the paired tests (:mod:`srbench.leaderboard.board`).
The index lists the tracks with their leader and compares each in-sample track with its
acquisition tracks on the key columns.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from srbench.config import DEV_KIND
from srbench.defaults import BASELINE_METHOD
from srbench.errors import file_error
from srbench.io.atomic import write_text_atomic
from srbench.folds import LEAVE_ONE_OUT, describe_scheme
from srbench.io.paths import check_creatable_dir, ensure_dir, path_component, regular_file
from srbench.leaderboard.board import (
    EXTERNAL_LEGEND,
    Entry,
    TrackBoard,
    acquisition_drops,
    build_boards,
    key_columns,
)
from srbench.leaderboard.text import (
    BOLD_LEGEND,
    claimed_best,
    column_header,
    column_setups,
    convention_text,
    degradation_setup_text,
    degradation_text,
    diagnostics_legend,
    escape_markdown,
    format_difference,
    format_metric,
    format_p,
    format_summary,
    format_value,
    leader_text,
    left_out_text,
    mask_text,
    options_text,
    primary_metric_text,
    safe_url,
    scale_text,
    statistics_text,
)
from srbench.results.store import ResultsStore, TrackRecord

if TYPE_CHECKING:
    from srbench.plugins import PluginManager


@dataclasses.dataclass
class LeaderboardFiles:
    """What :func:`write_leaderboards` wrote."""

    index: Path
    index_markdown: str
    tracks: dict[str, Path]
    figures: dict[str, Path]
    notes: list[str]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    def esc(cell: str) -> str:
        # a cell may hold a name from a file (a subject id): one line, no column break, no HTML
        text = " ".join(str(cell).split())
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")

    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


#: a track with fewer subjects gets no CI or p-value tables (nothing can be tested)
MIN_SUBJECTS_FOR_STATISTICS = 3


#: what the kind line of a development track's board adds
DEVELOPMENT_NOTE = (" — a development split for tuning presets: its rows are not benchmark results, and the index "
                    "does not list it")


def cross_validation_note(board: TrackBoard) -> str:
    """What the test-dataset line adds for a cross-validation track: its fold scheme, read
    from the folds its rows were scored by (more subjects than folds: grouped folds)."""
    folds: dict[str, int] = {}
    for entry in board.entries:
        folds.update(entry.folds)
    count = len(set(folds.values()))
    scheme = count if 0 < count < len(folds) else LEAVE_ONE_OUT
    return f" — {describe_scheme(scheme)}, so every subject is scored by a model that never saw it"


def headline_metrics(board: TrackBoard) -> list[str]:
    """The board's headline columns (none of the detail columns grouped under them)."""
    return [name for name, column in board.columns.items() if column.is_headline]


def metric_selection_text(board: TrackBoard) -> str:
    """Which rows computed only some metrics (``evaluate --metric``/``--skip-metric``): '' when all did."""
    partial = [e for e in board.entries if e.metric_selection is not None]
    return "; ".join(f"{escape_markdown(e.label)} computed only {', '.join(e.metric_selection or [])} "
                     "(its other columns show —)" for e in partial)


def render_submission(entry: Entry) -> str:
    """One markdown line: an external row's label, its description and URL (escaped: they come from the store)."""
    submission = entry.external or {}
    description = escape_markdown(str(submission.get("description") or "")) or "no description given"
    url = safe_url(submission.get("url"))
    return f"- **{escape_markdown(entry.label)}**: {description}" + (f" — <{url}>" if url else "")


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
        lines += ["", f"### {column_header(board, metric)}", "",
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
        f"- **Kind:** {info.kind if info else 'unknown'}"
        + (DEVELOPMENT_NOTE if info and info.kind == DEV_KIND else ""),
        f"- **Test dataset:** {info.test if info else 'unknown'}"
        + (f" (models trained on {info.train})" if info and info.train else "")
        + (cross_validation_note(board) if info and info.kind == "cv" else ""),
        f"- **Scale:** ×{scale_text(board.scale)}",
        f"- **Degradation:** {degradation_text(board)}",
        f"- **Degradation options:** {degradation_setup_text(board)}",
        f"- **Intensity convention:** {convention_text(board.intensity_convention)}",
        *([f"- **Evaluation mask:** {mask_text(board)}"] if mask_text(board) else []),
        *(f"- **{label}:** {text}" for label, text in column_setups(board)),
        f"- **srbench version:** {srbench_version}"
        + (f" (results computed with {', '.join(board.srbench_versions)})" if board.srbench_versions else ""),
        f"- **Date:** {today} (UTC)",
        f"- **Subjects:** {len(board.subjects)}" + (f" ({left_out_text(board)})" if board.left_out else ""),
        *([f"- **Metric selection:** {metric_selection_text(board)}"] if metric_selection_text(board) else []),
        *([f"- **Primary metric:** {escape_markdown(primary_metric_text(board))}"] if primary_metric_text(board) else []),
        "",
        "Mean ± sample standard deviation over subjects; ↑ higher is better, ↓ lower is better; "
        f"{BOLD_LEGEND}; n = number of subjects." + (f" {diagnostics_legend(board)}" if board.diagnostics else ""),
        "",
    ]
    best = {m: claimed_best(board, m) for m in board.metrics}
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
            cells.append(f"**{text}**" if entry.run_key == best[metric] else text)
        rows.append(cells)
    body = [_table(["Method", "n", *(column_header(board, m) for m in board.metrics)], rows, ["l", "r"] + ["r"] * len(board.metrics))]
    submitted = [e for e in board.entries if e.external is not None]
    if submitted:
        body += ["", EXTERNAL_LEGEND, "", "## External submissions", ""]
        body += [render_submission(e) for e in submitted]

    if info is not None and info.kind == "cv":
        body += render_per_subject(board)
    absent = [e for e in board.entries if e.not_applicable is not None]
    if absent:
        body += ["", "## Not applicable", ""]
        body += [f"- **{e.label}**: {e.not_applicable}" for e in absent]
    inferred = [e for e in board.entries if e.inference and e.not_applicable is None]
    if inferred:
        body += ["", "## Inference", ""]
        body += [f"- **{e.label}**: {e.inference}" for e in inferred]
    trained = [e for e in board.entries if e.budget and e.not_applicable is None]
    if trained:
        body += ["", "## Training budgets", "",
                 "Rows compare trained presets: each row's budget and weights, from its stored configuration.", ""]
        body += [f"- **{e.label}**: {e.budget}" for e in trained]
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
            "(below that a t-interval is undefined or spans tens of standard deviations, and the smallest possible "
            "p-value of an exact paired test is 2^(1-n) ≥ 0.5).",
        ]
        return "\n".join(header + body) + "\n"
    body += [
        "",
        "## Statistics",
        "",
        statistics_text(board, baseline=BASELINE_METHOD)
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
                format_difference(board, metric, summary.baseline_difference),
                *([format_p(summary.vs_best)] if ranked else []), format_p(summary.vs_baseline),
            ])
        headers = ["Method", "n", "mean", "std", "95% CI", f"Δ {BASELINE_METHOD} [95% CI]",
                   *(["p vs best"] if ranked else []), f"p vs {BASELINE_METHOD}"]
        body += [
            "",
            f"### {column_header(board, metric)}",
            "",
            _table(headers, stat_rows, ["l", "r", "r", "r", "c", "c"] + ["r"] * (len(headers) - 6)),
        ]
    return "\n".join(header + body) + "\n"


def track_filename(track: str) -> str:
    """A safe markdown file name for ``track`` (one path component; never ``index.md``)."""
    name = path_component(track)
    return f"{name}.md" if name != "index" else "track-index.md"


def render_index(boards: Sequence[TrackBoard], *, today: str, srbench_version: str) -> str:
    """The index: one line per track with a link, its set-up and the leader on its first
    ranked metric (never a diagnostic)."""
    rows = []
    for board in boards:
        if board.info is not None and board.info.kind == DEV_KIND:
            continue  # tuning data, not a benchmark result: its board says so and the index leaves it out
        leader = leader_text(board)
        rows.append([
            f"[{board.track}]({track_filename(board.track)})",
            board.info.kind if board.info else "unknown",
            board.info.test if board.info else "unknown",
            board.degradation + (f" ({options_text(board.degradation_options)})" if board.degradation_options else ""),
            f"×{scale_text(board.scale)}",
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


def _signed(x: float, *, like: float) -> str:
    """``x`` with its sign, with the decimals :func:`format_value` gives ``like`` (the
    in-sample value), so a column of changes lines up with its reference."""
    if math.isnan(x) or math.isinf(x):
        return format_value(x)
    decimals = 3 if math.isfinite(like) and abs(like) >= 1 else 4
    return f"{x:+.{decimals}f}"


def render_acquisition_drops(boards: Sequence[TrackBoard]) -> str:
    """Markdown: per in-sample track, a table with a row per method giving its in-sample
    value of each key column and its change on each acquisition track ('' when there is none)."""
    drops = acquisition_drops(boards)
    if not drops:
        return ""
    keys = [column for column in key_columns(boards) if any(d.metric == column.name for d in drops)]
    losses = " or ".join(
        f"a {'negative' if column.direction else 'positive'} Δ {column.label}"
        + (f" ({column.display.unit})" if column.display.unit else "")
        for column in keys if column.direction is not None
    )
    sections = [
        "## Drop from in-sample to the acquisition tracks",
        "",
        "The same test subjects with the LR made another way than the box averages the models were trained "
        "on (each track's file states how). Δ = acquisition − in-sample, the mean over the subjects both "
        "tracks have: " + losses + " is a loss. These are differences of means, untested and without "
        "the seed spread of the trained methods: they describe the rows, they do not say why a method "
        "changes.",
    ]
    for reference in dict.fromkeys(d.reference for d in drops):
        mine = [d for d in drops if d.reference == reference]
        tracks = list(dict.fromkeys(d.track for d in mine))
        metrics = [column for column in keys if any(d.metric == column.name for d in mine)]
        labels = list(dict.fromkeys(d.label for d in mine))
        found = {(d.label, d.track, d.metric): d for d in mine}
        headers = ["Method"]
        for column in metrics:
            headers.append(f"{column.label} {reference}")
            headers += [f"Δ {column.label} {track}" for track in tracks]
        rows = []
        for label in labels:
            cells = [label]
            for metric in (column.name for column in metrics):
                base = next((d for d in mine if d.label == label and d.metric == metric), None)
                cells.append(format_value(base.reference_mean) if base else "—")
                for track in tracks:
                    drop = found.get((label, track, metric))
                    cells.append(_signed(drop.change, like=drop.reference_mean) if drop else "—")
            rows.append(cells)
        sections += ["", f"### From `{reference}`", "", _table(headers, rows, ["l"] + ["r"] * (len(headers) - 1))]
    return "\n".join(sections) + "\n"


def write_leaderboards(
    store: ResultsStore,
    out_dir: str | Path,
    *,
    figures: bool = False,
    predictions_dir: str | Path | None = None,
    today: str | None = None,
    pm: PluginManager | None = None,
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
        pm: the installed plugins (see :func:`~srbench.leaderboard.board.build_boards`).
        directions: metric column → True (higher is better), False (lower is better) or None (a
            diagnostic) (default: as the metrics declare it).
        track_info: track descriptions for tracks the store does not describe itself.
    """
    from srbench import __version__

    out_dir = Path(out_dir)
    check_creatable_dir(out_dir, what="leaderboard folder")
    boards = build_boards(store, pm=pm, directions=directions, track_info=track_info)
    track_notes = {board.track: read_track_notes(out_dir, board.track) for board in boards}  # read all before writing
    if not out_dir.parent.exists():
        raise file_error(out_dir, f"output directory's parent '{out_dir.parent}' does not exist")
    ensure_dir(out_dir, what="leaderboard folder")
    if today is None:
        from srbench.results.store import results_date

        today = results_date(store)

    figure_paths: dict[str, Path] = {}
    notes: list[str] = []
    if figures:
        from srbench.figures import figure_for_track
        from srbench.predictions import default_predictions_dir

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
