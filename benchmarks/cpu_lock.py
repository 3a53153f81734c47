"""Exclusive use of a shared machine during each timed measurement.

On a machine shared by several people, ``flock LOCKFILE python benchmarks/...`` keeps
other locked jobs off the CPU for the whole benchmark, which can be an hour. The
benchmarks' ``--lock LOCKFILE`` option instead holds the lock only while one
measurement (the reference, or one configuration's child process) runs, so other
locked jobs can run in between and no timing is disturbed by them.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def held(path: Path | None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the block (no-op when ``path`` is None)."""
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
