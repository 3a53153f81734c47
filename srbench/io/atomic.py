"""Crash-safe file writing: write to a temporary file beside the target, flush, rename.

A reader (or a crash at any moment) sees either the old complete file or the new
complete file, never a half-written one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srbench.errors import file_error


def ensure_parent_exists(path: Path) -> None:
    """Raise an :class:`~srbench.errors.InputError` when ``path``'s directory is missing."""
    parent = path.parent
    if path.is_dir():
        raise file_error(path, "is a directory, expected a file name to write")
    if not parent.exists():
        raise file_error(path, f"output directory '{parent}' does not exist")
    if not parent.is_dir():
        raise file_error(path, f"'{parent}' is not a directory")


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


#: the characters ``tempfile.mkstemp`` adds between a prefix and a suffix
_RANDOM_CHARACTERS = 8


def _name_max(directory: Path) -> int:
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def temporary_prefix(path: Path, *, suffix: str) -> str:
    """``.<name>.`` for a temporary file beside ``path``, shortened (whole UTF-8 characters)
    so that prefix, random part and ``suffix`` stay within the folder's file-name limit:
    a legal 250-byte output name must still get a temporary name."""
    budget = _name_max(path.parent) - _RANDOM_CHARACTERS - len(suffix.encode("utf-8", "surrogateescape")) - 2
    name = path.name
    while name and len(name.encode("utf-8", "surrogateescape")) > budget:
        name = name[:-1]
    return f".{name}."


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; on success rename it onto ``path``.

    The temporary name keeps ``suffix`` (default: the target's full suffix, e.g.
    ``.nii.gz``) so that writers that infer the format from the name still work.
    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    ensure_parent_exists(path)
    if suffix is None:
        suffix = "".join(path.suffixes)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(path, suffix=f".tmp{suffix}"), suffix=f".tmp{suffix}",
                                        dir=path.parent)
    except OSError as exc:
        raise file_error(path, f"cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp creates 0600; give the file normal permissions
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_directory(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def current_umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Atomically replace ``path`` with ``data`` as indented JSON, keys sorted, one final newline."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
