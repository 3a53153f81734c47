"""``srbench plugins --check``: run the conformance battery on the selected plugins and print
its report (stdout), the stderr of each case kept aside and shown only when the case fails."""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path
from typing import Any

import click

from srbench.errors import InputError


def _selection(pm: Any, name: str) -> tuple[list[Any], list[str]]:
    """Plugins to check and, when ``name`` is a registered object, that object's name."""
    from srbench.testing.checks import select_plugins

    if name == "all":
        return select_plugins(pm), []
    try:
        return select_plugins(pm, [name]), []
    except InputError:
        owners = [pm.registries[kind][name].plugin for kind in pm.registries if name in pm.registries[kind]]
        if not owners:
            raise
        return list({id(o): o for o in owners}.values()), [name]


def run_checks(pm: Any, name: str, *, full: bool) -> bool:
    """Run the battery for ``name`` and print the report on stdout; True when nothing failed."""
    from srbench.testing.checks import collect_cases, format_outcome, run_case, summary
    from srbench.testing.context import CheckContext

    plugins, targets = _selection(pm, name)
    cases = collect_cases(pm, plugins, quick_only=not full, targets=targets)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="srbench-check-") as workdir:
        ctx = CheckContext(pm=pm, workdir=Path(workdir))
        for case in cases:
            captured = io.StringIO()
            with contextlib.redirect_stderr(captured), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcome = run_case(case, ctx)
            outcomes.append(outcome)
            click.echo(format_outcome(outcome))
            if outcome.status == "failed" and captured.getvalue().strip():
                tail = captured.getvalue().strip().splitlines()[-5:]
                click.echo("\n".join(f"      | {line}" for line in tail))
    failed = [o for o in outcomes if o.status == "failed"]
    click.echo(summary(outcomes))
    if failed:
        click.echo("failed: " + ", ".join(o.case.id for o in failed))
    return not failed
