"""The ``srbench`` command line (click). Data goes to stdout, messages to stderr.

Exit status: 0 success, 1 runtime failure, 2 bad usage or input. Every built-in command
lives in its own module of this package and exposes a click command named ``command``;
plugins add theirs through the ``register_commands`` hook.
"""

from __future__ import annotations

import threading

from srbench.cli import signals

if signals.started_as_command() and threading.current_thread() is threading.main_thread():
    signals.exit_quietly_while_starting()  # before the heavy imports below; never for a library import

import importlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import click  # noqa: E402

from srbench import __version__
from srbench.errors import SrbenchError, escape_controls

#: built-in command modules (``srbench.cli.<name>``), each exposing ``command``
BUILTIN_COMMANDS = (
    "plugins_cmd",
    "degrade",
    "predict",
    "evaluate",
    "train",
    "leaderboard_cmd",
    "results_cmd",
    "datasets_cmd",
    "new_plugin",
    "demo",
    "weights_cmd",
    "verify",
    "inputs_cmd",
    "score",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="srbench")
@click.option(
    "--disable-plugin",
    "disabled_plugins",
    multiple=True,
    metavar="NAME",
    help="Skip a plugin (entry-point or distribution name); repeatable. Also SRBENCH_DISABLE_PLUGINS.",
)
@click.pass_context
def cli(ctx: click.Context, disabled_plugins: tuple[str, ...]) -> None:
    """srbench: benchmark 3D MRI super-resolution methods.

    \b
    Typical use:
      srbench evaluate --track insample --method trilinear
      srbench train trigan --preset cpu
      srbench evaluate --track all
      srbench leaderboard --out leaderboards
    """
    ctx.ensure_object(dict)
    ctx.obj["disabled_plugins"] = disabled_plugins
    from_env = tuple(n for n in os.environ.get("SRBENCH_DISABLE_PLUGINS", "").split(",") if n.strip())
    if disabled_plugins or from_env:
        from srbench.plugins import get_plugin_manager

        pm = get_plugin_manager(disabled=disabled_plugins)
        pm.check_disabled(disabled_plugins)
        pm.check_disabled(from_env, source="SRBENCH_DISABLE_PLUGINS")


def _add_builtin_commands() -> None:
    for module_name in BUILTIN_COMMANDS:
        cli.add_command(importlib.import_module(f"srbench.cli.{module_name}").command)


_add_builtin_commands()


def _disabled_in_argv(argv: list[str]) -> tuple[str, ...]:
    """The ``--disable-plugin`` values given before the command name.

    Plugins load before click parses the arguments (their commands must
    exist by then), so the group option is read here as well; otherwise a disabled
    plugin would still be imported and its failure reported or, in strict mode, fatal.
    """
    names: list[str] = []
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        arg = argv[index]
        if arg == "--disable-plugin" and index + 1 < len(argv):
            names.append(argv[index + 1])
            index += 1
        elif arg.startswith("--disable-plugin="):
            names.append(arg.split("=", 1)[1])
        index += 1
    return tuple(names)


def _add_plugin_commands(argv: list[str]) -> None:
    from srbench.plugins import get_plugin_manager

    get_plugin_manager(disabled=_disabled_in_argv(argv)).add_commands(cli)


def quiet_libraries() -> None:
    """Keep library chatter off stderr, where a failure must be exactly one line.

    Python warnings (numpy's RuntimeWarnings, deprecations) and nibabel's log messages
    are silenced; ``SRBENCH_DEBUG=1`` keeps them.
    """
    if os.environ.get("SRBENCH_DEBUG"):
        return
    import logging
    import warnings

    warnings.simplefilter("ignore")
    for name in ("nibabel", "nibabel.global", "torchio", "py.warnings"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``srbench`` script: one-line errors, no tracebacks."""
    quiet_libraries()
    if threading.current_thread() is threading.main_thread():
        signals.raise_while_running()
    try:
        _add_plugin_commands(sys.argv[1:] if argv is None else list(argv))
        code = cli.main(args=argv, prog_name="srbench", standalone_mode=False)
    except SrbenchError as exc:
        click.echo(f"error: {escape_controls(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as abort:
        click.echo("interrupted" if isinstance(abort.__cause__, KeyboardInterrupt) else "aborted", err=True)
        sys.exit(signals.EXIT_INTERRUPTED)
    except click.ClickException as exc:
        click.echo(f"error: {escape_controls(' '.join(exc.format_message().split(chr(10))))}", err=True)
        sys.exit(exc.exit_code)
    except signals.Stopped as stop:
        click.echo(stop.word, err=True)
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(signals.EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, exit 1
        if os.environ.get("SRBENCH_DEBUG"):
            raise
        click.echo(escape_controls(f"error: internal failure: {type(exc).__name__}: {exc} (set SRBENCH_DEBUG=1 for a traceback)"), err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
