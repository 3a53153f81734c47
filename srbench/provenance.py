"""Provenance shared by training runs and evaluated results: the git state of the srbench
source tree and the current UTC time, each computed here once."""

from __future__ import annotations

import datetime as _dt
import subprocess
from pathlib import Path
from typing import Any

#: the srbench source tree (the package folder; its git work tree is the checkout)
SOURCE = Path(__file__).resolve().parent


def git_state(directory: Path = SOURCE) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the git work tree holding ``directory`` (tracked
    files only count for ``dirty``), or None outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": status.returncode == 0 and bool(status.stdout.strip())}


def git_commit(directory: Path = SOURCE) -> str | None:
    """:func:`git_state` in one string: the commit, ``+dirty`` when modified (None outside git)."""
    state = git_state(directory)
    if state is None:
        return None
    return f"{state['commit']}+dirty" if state["dirty"] else state["commit"]


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string, to the second (``2026-11-30T05:47:07+00:00``)."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def utc_today() -> str:
    """The current UTC date, ``YYYY-MM-DD``."""
    return _dt.datetime.now(_dt.UTC).date().isoformat()
