"""``srbench plugins``: list the installed plugins, and check them with the conformance battery."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from srbench import capabilities
from srbench.cli.common import plugin_manager
from srbench.cli.plugin_checks import run_checks
from srbench.errors import InputError

KIND_LABELS = {"model": "models", "trainer": "trainers", "metric": "metrics", "dataset reader": "datasets", "degradation": "degradations"}


def _registers(info: Any) -> str:
    parts = [f"{KIND_LABELS.get(kind, kind)}: {', '.join(names)}" for kind, names in info.registers.items() if names]
    if capabilities.register_commands_hook(info.module) is not None and info.problem is None:
        parts.append("commands")
    return "; ".join(parts) or "-"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def list_plugins(pm: Any, *, output_format: str) -> None:
    """Print one row per plugin (stdout): name, distribution, version, status, registrations."""
    if output_format == "json":
        for info in pm.plugins:
            click.echo(json.dumps({
                "plugin": info.name, "distribution": info.distribution, "version": info.version,
                "status": info.status, "problem": info.problem, "registers": info.registers,
            }))
        return
    rows = [["PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "REGISTERS"]]
    for info in pm.plugins:
        rows.append([info.name, info.distribution, info.version, info.status, _registers(info)])
    click.echo(_table(rows))
    problems = [info for info in pm.plugins if info.status == "error"]
    for info in problems:
        click.echo(f"problem: plugin '{info.name}' ({info.distribution}): {info.problem}")


@click.command("plugins")
@click.option(
    "--check", "check", is_flag=False, flag_value="all", default=None, metavar="[NAME]",
    help="Run the quick conformance battery on every plugin, or on NAME (plugin, distribution or registered name); exit 1 when a check fails.",
)
@click.option("--full", is_flag=True, help="With --check: also run the slow checks (five one-iteration training runs comparing seeds).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Listing format (json: one object per line).")
@click.pass_context
def command(ctx: click.Context, check: str | None, full: bool, output_format: str) -> None:
    """List every plugin with its distribution, version, status and what it registers.

    \b
    Examples:
      srbench plugins
      srbench plugins --check              # every plugin, quick checks
      srbench plugins --check mymethod     # one plugin (or distribution, or model name)
      srbench plugins --check mymethod --full

    Broken plugins are listed with status 'error' and their problem; --disable-plugin NAME
    (before the command) skips one.
    """
    pm = plugin_manager(ctx)
    if check is None:
        if full:
            raise InputError("option --full: only valid with --check")
        list_plugins(pm, output_format=output_format)
        return
    if not run_checks(pm, check, full=full):
        sys.stdout.flush()
        ctx.exit(1)
