"""One process at a time in a run directory: an exclusive lock held while training runs.

Two ``srbench train`` on the same run directory would interleave their checkpoints and
logs. The first takes an exclusive ``flock`` on ``RUN_DIR/.srbench.lock`` (the file holds its
process id) and keeps it until it ends; the second is refused at once with one line naming
the directory and the holder. The operating system releases the lock when a process dies,
even by ``kill -9``, so ``--resume`` after a crash is never blocked. The lock file is
removed when the holder ends normally; one left by a killed process is taken over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from srbench.errors import InputError, file_error

LOCK_FILE = ".srbench.lock"


@contextlib.contextmanager
def run_directory_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold the run directory (created when missing) for the ``with`` block.

    Raises:
        InputError: another process holds it, or the lock file cannot be created.
    """
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise file_error(run_dir, f"cannot lock the run directory ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise InputError(f"run directory {run_dir} is in use by another srbench process (pid {holder}); "
                             "wait for it to end, or choose another --run-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(run_dir / LOCK_FILE)  # still held: nobody else can have it
    finally:
        os.close(fd)  # closing releases the lock
