"""The leaderboards as a static web site (``srbench leaderboard --html DIR``).

Built from the same boards as the markdown (:func:`srbench.leaderboard.board.build_boards`):
``index.html`` lists the tracks; ``<track>.html`` has the main table (mean ± std, best in
bold; a diagnostic column signed and never highlighted), the 95% t-interval, the paired difference to trilinear and paired-test p-values of every metric, one row per subject
× method, each run's provenance (checkpoint sha256, versions, git commit, degradation,
scale, intensity convention, inference settings) in a ``<details>`` element one click
away, the comparison figure when one was drawn, and links to the row export
(``rows.csv``: every stored value with its run, for spreadsheets; ``results.jsonl``: the results export).

Every page is self-contained: its CSS and the table-sorting script (plain JS, no library)
are inline, links are relative, nothing is fetched from the network, so the folder works
from ``file://`` and from any static host. Clicking a column header sorts the table by
that column (numbers numerically, missing values last); clicking again reverses it.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench.defaults import BASELINE_METHOD
from srbench.errors import file_error
from srbench.io.atomic import write_text_atomic
from srbench.io.paths import ensure_dir, portable_path
from srbench.leaderboard.board import (
    EXTERNAL_LEGEND,
    Entry,
    TrackBoard,
    build_boards,
)
from srbench.leaderboard.markdown import MIN_SUBJECTS_FOR_STATISTICS, track_filename
from srbench.leaderboard.text import (
    claimed_best,
    column_header,
    column_setups,
    convention_text,
    degradation_text,
    diagnostics_legend,
    format_difference,
    format_metric,
    format_p,
    format_summary,
    leader_text,
    left_out_text,
    mask_text,
    primary_metric_text,
    safe_url,
    scale_text,
    statistics_text,
)
from srbench.provenance import utc_today
from srbench.results.export import spreadsheet_csv, value_table, write_export
from srbench.results.store import EXTERNAL_CONFIG_KEY, ResultsStore, TrackRecord

if TYPE_CHECKING:
    from srbench.plugins import PluginManager

#: the row export written next to the pages
ROWS_CSV = "rows.csv"
#: the canonical results export (:func:`srbench.results.export.write_export`): re-importable and verifiable
ROWS_JSONL = "results.jsonl"

_CSS = """
:root{--fg:#1d2329;--muted:#5b6670;--line:#d5dbe1;--head:#eef2f6;--best:#e6f4ea;--link:#0b5cad}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;max-width:1200px;padding:1.2rem 1.5rem 3rem}
a{color:var(--link)}
h1{font-size:1.6rem;margin:.4rem 0 1rem}h2{font-size:1.25rem;margin:2rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0 0 1rem}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.note{color:var(--muted);font-size:.9rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:.3rem .55rem;text-align:right;vertical-align:top}
th{background:var(--head);white-space:nowrap}
td{white-space:nowrap}td.l,th.l{text-align:left;white-space:normal}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th::after{content:" \\21C5";color:#9aa5b1;font-size:.8em}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2";color:var(--fg)}
table.sortable th[aria-sort=descending]::after{content:" \\25BC";color:var(--fg)}
td.best{background:var(--best);font-weight:700}
td.na{color:var(--muted);font-style:italic}
details summary{cursor:pointer;color:var(--link);white-space:nowrap}
details[open]{min-width:28rem}
details dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;text-align:left;margin:.4rem 0;font-size:.85rem}
details dt{font-weight:600}details dd{margin:0;word-break:break-all}
code{font-size:.85em}
img.figure{max-width:100%;border:1px solid var(--line)}
nav{font-size:.9rem;margin-bottom:.5rem}
""".strip()

# Sorting: a header click sorts the table body by that column; numbers use the cell's
# data-sort value (missing values last in either direction), text sorts by locale.
_JS = """
(function(){
function key(row,i){var c=row.cells[i];if(!c)return null;var v=c.getAttribute('data-sort');
if(v===null)v=c.textContent.trim();if(v===''||v==='\\u2014')return null;var n=Number(v);return isNaN(n)?v.toLowerCase():n;}
function sortBy(table,i,th){var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
var asc=th.getAttribute('aria-sort')!=='ascending';
rows.sort(function(a,b){var x=key(a,i),y=key(b,i);if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
var r=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y),undefined,{numeric:true});return asc?r:-r;});
rows.forEach(function(r){body.appendChild(r);});
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');}
document.addEventListener('DOMContentLoaded',function(){
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(table){
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
th.setAttribute('title','sort by this column');th.addEventListener('click',function(){sortBy(table,i,th);});});});});
})();
""".strip()


@dataclasses.dataclass
class HtmlSite:
    """What :func:`write_html_site` wrote (paths inside the site folder)."""

    index: Path
    tracks: dict[str, Path]
    figures: dict[str, Path]
    exports: list[Path]


# -- small HTML helpers ----------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page_name(track: str) -> str:
    """``track``'s page: the markdown file's name (:func:`srbench.leaderboard.markdown.track_filename`,
    never ``index``) with ``.html``."""
    return Path(track_filename(track)).stem + ".html"


def _page(title: str, body: Sequence[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        f"<script>\n{_JS}\n</script>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ])


def _cell(text: str, *, sort: Any = None, cls: str = "") -> str:
    attrs = ""
    if sort is not None:
        attrs += f' data-sort="{_e(sort)}"'
    if cls:
        attrs += f' class="{cls}"'
    return f"<td{attrs}>{text}</td>"


def _sort_number(x: float | None) -> str:
    """A ``data-sort`` value: the number, or empty (sorted last) for missing / NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if math.isinf(x):
        return "1e308" if x > 0 else "-1e308"
    return repr(float(x))


def _table(headers: Sequence[tuple[str, str]], rows: Sequence[str], *, table_id: str, sortable: bool = True) -> str:
    """``headers``: (label, css class); ``rows``: the ``<tr>`` strings."""
    head = "".join(f'<th class="{cls}" scope="col">{label}</th>' if cls else f'<th scope="col">{label}</th>' for label, cls in headers)
    klass = ' class="sortable"' if sortable else ""
    return (
        f'<div class="scroll"><table id="{_e(table_id)}"{klass}><thead><tr>{head}</tr></thead>'
        f"<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>"
    )


def _arrow(board: TrackBoard, metric: str) -> str:
    return _e(column_header(board, metric))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


# -- provenance ---------------------------------------------------------------------------
def _runs_by_key(store: ResultsStore) -> dict[str, dict[str, Any]]:
    runs = store.runs()
    return {str(r["run_key"]): r for r in runs.to_dict(orient="records")}


def _json_field(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


def provenance_html(entry: Entry, run: Mapping[str, Any] | None, *, run_key: str | None = None, caption: str = "") -> str:
    """A ``<details>`` element with the run record behind ``entry`` (closed by default); a
    cross-validation row has one per fold (``run_key`` and ``caption`` name the fold's run)."""
    run_key = run_key or entry.run_key
    fields: list[tuple[str, str]] = [("run key", f"<code>{_e(run_key)}</code>")]
    if run is not None:
        config = _json_field(run.get("config"))
        plugins = _json_field(run.get("plugin_versions"))
        sha = run.get("checkpoint_sha256")
        fields += [
            ("checkpoint sha256", f"<code>{_e(sha)}</code>" if sha else "none (no weights)"),
            ("checkpoint", _e(portable_path(path) if isinstance(path := run.get("checkpoint_path"), str) and path else "—")),
            ("srbench version", _e(run.get("srbench_version") or "—")),
            ("plugin versions", _e(", ".join(f"{k} {v}" for k, v in sorted(plugins.items())) if isinstance(plugins, dict) and plugins else "—")),
            ("git commit", f"<code>{_e(run.get('git_commit'))}</code>" if run.get("git_commit") else "— (not a git checkout)"),
            ("degradation", _e(run.get("degradation"))),
            ("scale", "×" + _e(scale_text(json.loads(run["scale"])) if isinstance(run.get("scale"), str) else run.get("scale"))),
            ("intensity convention", _e(run.get("intensity_convention"))),
        ]
        if isinstance(config, dict):
            submission = config.get(EXTERNAL_CONFIG_KEY)
            if isinstance(submission, dict):
                url = safe_url(submission.get("url"))
                fields += [
                    ("origin", _e(EXTERNAL_LEGEND)),
                    ("description", _e(submission.get("description") or "—")),
                    ("url", f'<a href="{_e(url)}" rel="nofollow noopener noreferrer">{_e(url)}</a>' if url else "—"),
                ]
            if config.get("inference"):
                fields.append(("inference settings", f"<code>{_e(json.dumps(config['inference'], sort_keys=True))}</code>"))
        if entry.inference:
            fields.append(("inference", _e(entry.inference)))
        if entry.budget:
            fields.append(("training budget", _e(entry.budget)))
        if isinstance(config, dict):
            if config.get("degradation"):
                fields.append(("degradation set-up", f"<code>{_e(json.dumps(config['degradation'], sort_keys=True))}</code>"))
            if config.get("cross_validation"):
                fields.append(("cross-validation", f"<code>{_e(json.dumps(config['cross_validation'], sort_keys=True))}</code>"))
            training = config.get("training")
            if isinstance(training, dict) and training:
                keys = ("preset", "iterations", "track", "fold", "seed", "variant")
                brief = {k: training[k] for k in keys if k in training}
                fields.append(("training", f"<code>{_e(json.dumps(brief or training, sort_keys=True))}</code>"))
        fields.append(("evaluated", _e(run.get("created_at") or "—")))
    else:
        fields.append(("record", "not in the store"))
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in fields)
    label = f"{caption}: run {run_key[:8]}" if caption else f"run {run_key[:8]}"
    return f'<details class="provenance"><summary>{_e(label)}</summary><dl>{items}</dl></details>'


# -- pages --------------------------------------------------------------------------------
def _main_table(board: TrackBoard, runs: Mapping[str, Mapping[str, Any]]) -> str:
    best = {m: claimed_best(board, m) for m in board.metrics}
    headers = [("Method", "l"), ("n", "")] + [(_arrow(board, m), "") for m in board.metrics] + [("Provenance", "l")]
    rows = []
    for entry in board.entries:
        cells = [_cell(_e(entry.label), cls="l"), _cell(str(entry.n), sort=entry.n)]
        for metric in board.metrics:
            if entry.not_applicable is not None:
                cells.append(_cell("not applicable", sort="", cls="na"))
                continue
            summary = entry.summaries.get(metric)
            if summary is None:
                cells.append(_cell("—", sort=""))
                continue
            text = format_summary(board, metric, summary)
            cells.append(_cell(_e(text), sort=_sort_number(summary.mean), cls="best" if entry.run_key == best[metric] else ""))
        records = [(f"fold {k}", runs.get(run), run) for k, run in entry.fold_runs.items()] or [("", runs.get(entry.run_key), entry.run_key)]
        provenance = "".join(provenance_html(entry, run, run_key=key, caption=caption) for caption, run, key in records)
        cells.append(_cell(provenance, sort=entry.run_key, cls="l"))
        rows.append(f'<tr data-method="{_e(entry.method)}" data-run="{_e(entry.run_key)}">' + "".join(cells) + "</tr>")
    return _table(headers, rows, table_id="main")


def _statistics_table(board: TrackBoard, metric: str) -> str:
    ranked = board.ranked(metric)  # a diagnostic has no best method to test against
    headers = [("Method", "l"), ("n", ""), ("mean", ""), ("std", ""), ("95% CI", ""),
               (f"Δ {_e(BASELINE_METHOD)} [95% CI]", ""),
               *([("p vs best", "")] if ranked else []), (f"p vs {_e(BASELINE_METHOD)}", "")]
    rows = []
    for entry in board.entries:
        summary = entry.summaries.get(metric)
        if summary is None:
            continue
        lo, hi = summary.ci

        def p_sort(test: Any) -> str:
            return _sort_number(test.reported_p) if test is not None and test.n else ""

        def shown(x: float, *, spread: bool = False) -> str:
            return _e(format_metric(board, metric, x, spread=spread))

        rows.append("<tr>" + "".join([
            _cell(_e(entry.label), cls="l"),
            _cell(str(summary.n), sort=summary.n),
            _cell(shown(summary.mean), sort=_sort_number(summary.mean)),
            _cell(shown(summary.std, spread=True), sort=_sort_number(summary.std)),
            _cell(f"[{shown(lo)}, {shown(hi)}]", sort=_sort_number(lo)),
            _cell(_e(format_difference(board, metric, summary.baseline_difference)),
                  sort=_sort_number(summary.baseline_difference[0]) if summary.baseline_difference else ""),
            *([_cell(_e(format_p(summary.vs_best)), sort=p_sort(summary.vs_best))] if ranked else []),
            _cell(_e(format_p(summary.vs_baseline)), sort=p_sort(summary.vs_baseline)),
        ]) + "</tr>")
    return _table(headers, rows, table_id=f"stats-{_slug(metric)}")


def _subject_table(board: TrackBoard) -> str:
    with_folds = any(entry.folds for entry in board.entries)
    headers = [("Subject", "l"), ("Method", "l")] + ([("Fold", "")] if with_folds else [])
    headers += [(_arrow(board, m), "") for m in board.metrics]
    rows = []
    for subject in board.subjects:
        for entry in board.entries:
            if entry.not_applicable is not None or not any(subject in v.index for v in entry.values.values()):
                continue
            cells = [_cell(_e(subject), cls="l"), _cell(_e(entry.label), cls="l")]
            if with_folds:
                fold = entry.folds.get(subject)
                cells.append(_cell(str(fold) if fold else "—", sort=fold or 0))
            for metric in board.metrics:
                series = entry.values.get(metric)
                if series is None or subject not in series.index:
                    cells.append(_cell("—", sort=""))
                    continue
                value = float(series.loc[subject])
                cells.append(_cell(_e(format_metric(board, metric, value)), sort=_sort_number(value)))
            rows.append(f'<tr data-subject="{_e(subject)}">' + "".join(cells) + "</tr>")
    return _table(headers, rows, table_id="subjects")


def render_track_page(
    board: TrackBoard,
    runs: Mapping[str, Mapping[str, Any]],
    *,
    today: str,
    srbench_version: str,
    figure: str | None = None,
    export: str | None = None,
) -> str:
    """The HTML page of one track (``figure``, ``export``: relative links, when present)."""
    info = board.info
    meta = [
        ("Kind", _e(info.kind if info else "unknown")),
        ("Test dataset", _e(info.test if info else "unknown") + (f" (models trained on {_e(info.train)})" if info and info.train else "")),
        ("Degradation", _e(degradation_text(board))),
        ("Scale", "×" + _e(scale_text(board.scale))),
        ("Intensity convention", _e(convention_text(board.intensity_convention))),
        *([("Evaluation mask", _e(mask_text(board)))] if mask_text(board) else []),
        *((_e(label), _e(text)) for label, text in column_setups(board)),
        ("srbench version", _e(srbench_version) + (f" (results computed with {_e(', '.join(board.srbench_versions))})" if board.srbench_versions else "")),
        ("Date", f"{_e(today)} (UTC)"),
        ("Subjects", str(len(board.subjects)) + (f" ({_e(left_out_text(board))})" if board.left_out else "")),
        *([("Primary metric", _e(primary_metric_text(board)))] if primary_metric_text(board) else []),
    ]
    options = getattr(board, "degradation_options", None)
    if options:
        meta.insert(3, ("Degradation options", f"<code>{_e(json.dumps(options, sort_keys=True))}</code>"))
    body = [
        '<nav><a href="index.html">← all tracks</a></nav>',
        f"<h1>Leaderboard: track <code>{_e(board.track)}</code></h1>",
        '<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta) + "</dl>",
        '<p class="note">Mean ± sample standard deviation over subjects; ↑ higher is better, ↓ lower is better; '
        "a value is highlighted only when its row is the best and better than every other row in a paired test "
        "(Holm-adjusted over every pair of rows of its table, p < 0.05; values equal at the displayed precision are ties); n = number of subjects. Click a column header to sort; click a run for its provenance."
        + (f" {_e(diagnostics_legend(board))}" if board.diagnostics else "") + "</p>",
        _main_table(board, runs),
        *([f'<p class="note">{_e(EXTERNAL_LEGEND)}</p>'] if any(e.external is not None for e in board.entries) else []),
    ]
    absent = [e for e in board.entries if e.not_applicable is not None]
    if absent:
        body += ["<h2>Not applicable</h2>", "<ul>" + "".join(f"<li><b>{_e(e.label)}</b>: {_e(e.not_applicable)}</li>" for e in absent) + "</ul>"]
    if figure:
        body += [
            "<h2>Figure</h2>",
            f'<p><a href="{_e(figure)}"><img class="figure" src="{_e(figure)}" '
            f'alt="{_e(board.track)}: ground truth, trilinear and each method, with error maps"></a></p>',
        ]
    minimum = MIN_SUBJECTS_FOR_STATISTICS
    if len(board.subjects) < minimum:  # as the markdown: nothing can be tested
        body += [
            "<h2>Statistics</h2>",
            f"<p>No confidence interval or paired test is possible on this track: it has {len(board.subjects)} "
            f"subject{'s' if len(board.subjects) != 1 else ''}, and at least {minimum} are needed.</p>",
        ]
    else:
        body += _statistics_section(board)
    body += ["<h2>Per subject</h2>", _subject_table(board)]
    downloads = [f'<a href="{_e(export)}" download>{_e(export)}</a> (this track)'] if export else []
    downloads += [f'<a href="{ROWS_CSV}" download>{ROWS_CSV}</a>', f'<a href="{ROWS_JSONL}" download>{ROWS_JSONL}</a> (every track)']
    body += ["<h2>Download</h2>", "<p>Every stored value with its run: " + " · ".join(downloads) + "</p>"]
    return _page(f"srbench: {board.track}", body)


def _statistics_section(board: TrackBoard) -> list[str]:
    """The CI and p-value tables of every metric, with how they were computed."""
    body = [
        "<h2>Statistics</h2>",
        f'<p class="note">{_e(statistics_text(board, baseline=BASELINE_METHOD))}'
        + (f" A diagnostic has no best method: it is tested against {_e(BASELINE_METHOD)} only." if board.diagnostics else "")
        + "</p>",
    ]
    for metric in board.metrics:
        body += [f'<h3 id="stat-{_slug(metric)}">{_arrow(board, metric)}</h3>', _statistics_table(board, metric)]
    return body


def render_index_page(boards: Sequence[TrackBoard], *, today: str, srbench_version: str) -> str:
    """The index: one row per track with a link, its set-up and the leader on its first
    ranked metric (never a diagnostic)."""
    rows = []
    for board in boards:
        leader = _e(leader_text(board))
        rows.append("<tr>" + "".join([
            _cell(f'<a href="{_e(page_name(board.track))}">{_e(board.track)}</a>', sort=board.track, cls="l"),
            _cell(_e(board.info.kind if board.info else "unknown"), cls="l"),
            _cell(_e(board.info.test if board.info else "unknown"), cls="l"),
            _cell(_e(board.degradation), cls="l"),
            _cell("×" + _e(scale_text(board.scale)), cls="l"),
            _cell(str(len(board.subjects)), sort=len(board.subjects)),
            _cell(str(len(board.entries)), sort=len(board.entries)),
            _cell(leader, cls="l"),
        ]) + "</tr>")
    headers = [("Track", "l"), ("Kind", "l"), ("Test dataset", "l"), ("Degradation", "l"), ("Scale", "l"),
               ("Subjects", ""), ("Methods", ""), ("Leader", "l")]
    body = [
        "<h1>srbench leaderboards</h1>",
        f'<p class="note">srbench {_e(srbench_version)}, {_e(today)} (UTC). One page per track; each states its '
        "degradation, scale, intensity convention and statistics.</p>",
        _table(headers, rows, table_id="tracks"),
        f'<p>Download every stored value with its run: <a href="{ROWS_CSV}" download>{ROWS_CSV}</a> · '
        f'<a href="{ROWS_JSONL}" download>{ROWS_JSONL}</a></p>',
    ]
    return _page("srbench leaderboards", body)


# -- export and writing -------------------------------------------------------------------
def write_html_site(
    store: ResultsStore,
    out_dir: str | Path,
    *,
    figures: Mapping[str, str | Path] | None = None,
    today: str | None = None,
    pm: PluginManager | None = None,
    directions: Mapping[str, bool | None] | None = None,
    track_info: Mapping[str, TrackRecord] | None = None,
) -> HtmlSite:
    """Write the site into ``out_dir`` (created when missing; its parent must exist).

    Args:
        store: the results to publish.
        out_dir: the site folder.
        figures: track → a PNG to show on its page (copied to ``out_dir/figures/``).
        today: the date to print (default: today, UTC).
        pm: the installed plugins (see :func:`~srbench.leaderboard.board.build_boards`).
        directions: metric column → True (higher is better), False (lower is better) or None (a
            diagnostic) (default: as the metrics declare it).
        track_info: track descriptions for tracks the store does not describe itself.
    """
    from srbench import __version__

    out_dir = Path(out_dir)
    boards = build_boards(store, pm=pm, directions=directions, track_info=track_info)
    if not out_dir.parent.exists():
        raise file_error(out_dir, f"output directory's parent '{out_dir.parent}' does not exist")
    ensure_dir(out_dir, what="site folder")
    today = today or utc_today()
    runs = _runs_by_key(store)

    copied: dict[str, Path] = {}
    for track, source in (figures or {}).items():
        source = Path(source)
        if not source.is_file():
            continue
        ensure_dir(out_dir / "figures", what="figures folder")
        target = out_dir / "figures" / (Path(page_name(track)).stem + ".png")
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        copied[track] = target

    exports: list[Path] = []
    every = value_table(store)
    write_text_atomic(out_dir / ROWS_CSV, spreadsheet_csv(every))
    write_export(store, out_dir / ROWS_JSONL)
    exports += [out_dir / ROWS_CSV, out_dir / ROWS_JSONL]
    pages: dict[str, Path] = {}
    for board in boards:
        stem = Path(page_name(board.track)).stem
        export_name = f"{stem}.rows.csv"
        write_text_atomic(out_dir / export_name, spreadsheet_csv(every[every["track"] == board.track]))
        exports.append(out_dir / export_name)
        figure = copied.get(board.track)
        page = out_dir / page_name(board.track)
        write_text_atomic(page, render_track_page(
            board, runs, today=today, srbench_version=__version__,
            figure=figure.relative_to(out_dir).as_posix() if figure else None, export=export_name,
        ))
        pages[board.track] = page
    index = out_dir / "index.html"
    write_text_atomic(index, render_index_page(boards, today=today, srbench_version=__version__))
    return HtmlSite(index=index, tracks=pages, figures=copied, exports=exports)
