"""``srbench new-plugin``: write a ready-to-install plugin distribution for a new method."""

from __future__ import annotations

from pathlib import Path

import click

from srbench.cli.common import PathParam, plugin_manager


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", type=PathParam(file_okay=False), default=None,
              help="Directory to create (must not exist). Default: ./srbench-mri-NAME.")
@click.pass_context
def command(ctx: click.Context, name: str, directory: Path | None) -> None:
    """Create a plugin distribution for method NAME: pyproject with the entry point, package
    srbench_NAME with a small residual CNN (trainer with a `cpu` preset, model, hooks),
    tests running the conformance battery, and a README.

    \b
    Then:
      pip install -e DIR
      srbench plugins --check NAME
      srbench train NAME --preset cpu
    The created directory is printed on stdout.
    """
    from srbench.scaffold.render import variables, write_scaffold

    target = directory if directory is not None else Path(variables(name)["distribution"] if _valid(name) else name)
    written = write_scaffold(name, target, pm=plugin_manager(ctx))
    click.echo(str(written))
    click.echo(
        f"created {variables(name)['distribution']} in {written}; next: pip install -e {written} && "
        f"srbench plugins --check {name}",
        err=True,
    )


def _valid(name: str) -> bool:
    from srbench.scaffold.render import NAME_RE

    return bool(NAME_RE.match(name))
