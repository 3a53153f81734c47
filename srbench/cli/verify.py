"""``srbench verify``: re-evaluate committed leaderboard rows from the shipped weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from srbench.cli.common import PathParam, config_option, plugin_manager
from srbench.io.json_numbers import json_number
from srbench.verify import DEFAULT_TOLERANCE

#: the committed export of the reference rows, relative to a checkout's root
DEFAULT_EXPORT = Path("leaderboards") / "results.jsonl"


def committed_export() -> Path:
    """The committed export: ``leaderboards/results.jsonl`` of the working directory, else of
    the source checkout srbench runs from (an editable install), so ``verify`` works from
    any folder.

    Raises:
        InputError: neither exists.
    """
    from srbench.errors import InputError

    checkout = Path(__file__).resolve().parents[2] / DEFAULT_EXPORT
    for candidate in (DEFAULT_EXPORT, checkout):
        if candidate.is_file():
            return candidate
    raise InputError(f"results export not found: neither ./{DEFAULT_EXPORT} nor {checkout} exists; give --from FILE")


def packaged_config() -> Path:
    """The demo configuration shipped in the package: it defines every committed track."""
    from importlib import resources

    return Path(str(resources.files("srbench.demo") / "datasets.toml"))


def _number(value: float | None) -> str:
    """A value in the text table: 6 significant digits, ``inf``/``-inf``/``nan`` spelt out."""
    if value is None:
        return "-"
    return str(json_number(value)) if not math.isfinite(value) else f"{value:.6g}"


@click.command("verify")
@click.option("--from", "export_path", type=PathParam(dir_okay=False), default=None,
              help="Results export whose rows are re-evaluated (default: the committed leaderboards/results.jsonl, "
                   "found from any folder, checked against the shipped demo configuration unless --config is given).")
@click.option("--track", "tracks", multiple=True, default=("all",), show_default=True, metavar="NAME|all",
              help="Track to verify (repeatable, or comma-separated); all = every track of the export.")
@click.option("--tolerance", type=click.FloatRange(min=0.0), default=DEFAULT_TOLERANCE, show_default=True,
              help="Relative tolerance: a value is reproduced when |recomputed - stored| <= X * max(1, |stored|).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@config_option
@click.pass_context
def command(ctx: click.Context, export_path: Path, tracks: tuple[str, ...], tolerance: float, output_format: str,
            config_path: Path | None) -> None:
    """Re-evaluate the committed leaderboard rows from the weights the plugins ship and the
    provenance each row records (degradation, its options and seed, scale, inference
    settings, input-file sha256), on the CPU, without training anything.

    \b
    Prints one line per stored value (track, method, subject, metric, stored, recomputed,
    difference, verdict) on stdout and a summary on stderr; exits 1 when a value differs
    beyond the tolerance or cannot be recomputed (weights not shipped, input file changed).
    Rows scored from submitted files (srbench score) are re-scored from those files when
    they are here; otherwise they are reported as external, checked by file hash only.

    \b
    Tolerance: the default 1e-5 (relative to max(1, |value|)) comes from the CPU-to-CPU
    differences measured by benchmarks/verify_tolerance.py (figures and the margin in
    srbench/verify.py and benchmarks/README.md).

    \b
    Examples:
      srbench verify --track all
      srbench verify --track insample --track knee --format json
    """
    from srbench.config import load_config
    from srbench.measurement import result_columns
    from srbench.results.export import read_export
    from srbench.verify import failed, summary, unstored_columns, verify_export

    names = [n.strip() for value in tracks for n in value.split(",") if n.strip()] or ["all"]
    pm = plugin_manager(ctx)
    committed = export_path is None
    export_path = committed_export() if committed else export_path
    records = read_export(export_path)
    config = load_config(config_path if config_path is not None or not committed else packaged_config(), pm=pm)
    click.echo(f"verifying {export_path} with the tracks of {config.path}", err=True)

    def show(row) -> None:
        if output_format == "json":
            click.echo(json.dumps({
                "track": row.track, "method": row.method, "subject": row.subject, "metric": row.metric,
                "stored": json_number(row.stored), "recomputed": json_number(row.recomputed),
                "difference": json_number(row.difference),
                "status": row.status, "detail": row.detail,
            }))
            return
        line = (f"{row.status.upper():<12} {row.track:<12} {row.method:<12} {row.subject:<20} {row.metric:<10} "
                f"stored {_number(row.stored):>10}  now {_number(row.recomputed):>10}  diff {_number(row.difference)}")
        click.echo(line + (f"  ({row.detail})" if row.detail else ""))

    checks = verify_export(records, pm=pm, config=config, tracks=names, tolerance=tolerance, on_row=show)
    click.echo(summary(checks, tolerance=tolerance), err=True)
    missing = unstored_columns(records, result_columns(pm))
    if missing and checks:
        click.echo(f"note: {export_path} stores no {', '.join(missing)} values (evaluated before the metric existed?): "
                   "computed but not compared; re-evaluate and export to add them", err=True)
    if failed(checks):
        ctx.exit(1)
