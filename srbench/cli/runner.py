"""Run the ``srbench`` command line inside the test process.

:func:`run_cli` runs ``srbench ARGS`` the way the console script does
(:func:`srbench.cli.main`: plugin commands, one-line errors, the exit status) without
starting Python and importing torch again, which costs seconds per command. Use a real
subprocess only where a separate process is the point of the test: entry points of
distributions installed for the test, a kill, a process's memory or its import time.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class CLIResult:
    """What one command did: its arguments, exit status, and stdout and stderr as text."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, env: Mapping[str, str | None] | None = None,
            check: bool = False) -> CLIResult:
    """Run ``srbench ARGS`` in this process and return what it did.

    Args:
        args: the command line after ``srbench``.
        cwd: the working directory of the command (restored afterwards).
        env: environment variables to set (``None`` removes one) while it runs; the
            plugins are then loaded afresh, as a new process would under that environment.
        check: raise an AssertionError, with the command's stderr, when it exits non-zero.
    """
    from click.testing import CliRunner

    from srbench import plugins
    from srbench.cli import main

    saved_manager, saved_cwd = plugins._MANAGER, os.getcwd()
    try:
        if env:
            plugins._MANAGER = None
        with CliRunner().isolation(env=dict(env or {})) as (stdout, stderr, _):
            if cwd is not None:
                os.chdir(cwd)
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            result = CLIResult(tuple(args), code, stdout.getvalue().decode(errors="replace"),
                               stderr.getvalue().decode(errors="replace"))
    finally:
        os.chdir(saved_cwd)
        plugins._MANAGER = saved_manager
    if check and result.returncode != 0:
        raise AssertionError(f"srbench {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result
