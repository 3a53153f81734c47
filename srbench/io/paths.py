"""Safe paths: names that become file names, files that are read, files that are written.

Every path srbench touches goes through this module:

- :func:`check_name` / :func:`path_component`: a name taken from a configuration, a
  plugin or a subject (track, dataset, method, run, subject) becomes one path component
  and can never leave its root (no ``/``, no ``..``, no control characters).
- :func:`regular_file`: a file srbench reads (volume, checkpoint, configuration, store)
  must be a regular file; FIFOs, devices, sockets and directories are refused without
  opening them, so nothing blocks.
- :func:`OutputGuard`: an output that resolves to one of the command's inputs (the same
  file through ``..``, a symlink or a hard link) is refused before anything is written;
  an output folder that cannot be written is refused with one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from srbench.errors import InputError, file_error, show

#: a name that may be used as a path component as it is
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def is_safe_name(name: str) -> bool:
    """True when ``name`` can be used as one path component unchanged."""
    return isinstance(name, str) and bool(SAFE_NAME.fullmatch(name)) and ".." not in name


def check_name(name: object, *, kind: str, source: str | Path | None = None) -> str:
    """Return ``name`` when it is a safe path component, else raise an InputError.

    Args:
        name: the name (track, dataset, method, run...).
        kind: what it names, for the message.
        source: the file (or option) it comes from, named first in the message.
    """
    if is_safe_name(name):  # type: ignore[arg-type]
        return name  # type: ignore[return-value]
    message = (
        f"{kind} name {show(name)} cannot be used in file names: use letters, digits, '.', '_', '+' "
        "and '-' (starting with a letter or digit, no '..', at most 128 characters)"
    )
    raise file_error(source, message) if source is not None else InputError(message)


#: a dataset or track name: letters and digits of any script, '_', '.', '+' and '-'
CONFIG_NAME = re.compile(r"[^\W_][\w.+-]{0,127}")


def check_config_name(name: object, *, kind: str, source: str | Path | None = None) -> str:
    """Return a dataset or track name when it is valid, else raise an InputError.

    Any script is accepted (a lab names its data in its own words: ``données-тест``,
    ``трек-ü``): letters and digits, then also ``_ . + -``, at most 128 characters, no
    ``..``. Wherever such a name becomes a file or folder name it goes through
    :func:`path_component`, which encodes it.
    """
    if isinstance(name, str) and CONFIG_NAME.fullmatch(name) and ".." not in name:
        return name
    message = (
        f"{kind} name {show(name)} is not valid: use letters and digits (any script), '_', '.', '+' and '-', "
        "starting with a letter or digit, no '..', at most 128 characters"
    )
    raise file_error(source, message) if source is not None else InputError(message)


def path_component(name: str) -> str:
    """``name`` as one path component: unchanged when safe, else percent-encoded.

    The encoding is injective and never yields ``/``, ``.``-only names or control
    characters, so a subject id or a third-party method name cannot leave its folder.
    """
    if is_safe_name(name):
        return name
    encoded = urllib.parse.quote(name, safe="").replace(".", "%2E")
    return f"%{encoded}" if not encoded[:1].isalnum() else encoded


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def regular_file(path: str | Path, *, what: str) -> Path:
    """``path`` when it is an existing, readable regular file; else an InputError.

    Uses ``stat`` only (follows symlinks), so a FIFO or device is refused without being
    opened and nothing blocks.

    Args:
        what: what the file should be ("NIfTI volume", "checkpoint", ...), for the message.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise file_error(path, f"{what} not found") from None
    except NotADirectoryError:
        raise file_error(path, f"{what} not found (a parent is not a directory)") from None
    except PermissionError:
        raise file_error(path, "permission denied") from None
    except OSError as exc:
        raise file_error(path, f"cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise file_error(path, f"is {_kind(mode)}, expected a {what} file")
    if not os.access(path, os.R_OK):
        raise file_error(path, "permission denied (file is not readable)")
    return path


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` are the same file (realpath, symlinks or hard links)."""
    a, b = Path(a), Path(b)
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    ida, idb = _identity(a), _identity(b)
    return ida is not None and ida == idb


def check_output_file(path: str | Path, *, inputs: Iterable[str | Path] = (), what: str = "output") -> Path:
    """Refuse an output file that aliases an input or cannot be written; return it.

    Checks, before anything is created:
    - ``path`` is not one of ``inputs`` (same realpath, or same device and inode);
    - ``path`` is not a directory or a special file;
    - its folder exists, is a directory and is writable.
    """
    path = Path(path)
    for source in inputs:
        if source is not None and same_file(path, source):
            raise file_error(path, f"{what} is the same file as the input {show(source)}; choose another output name")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        raise file_error(path, f"{what} folder {show(path.parent)} is not a directory") from None
    except OSError as exc:
        raise file_error(path, f"cannot use as {what} ({exc.strerror or exc})") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise file_error(path, f"is {_kind(mode)}, expected a file name to write")
    check_writable_dir(path.parent, what=f"{what} folder")
    return path


def check_writable_dir(directory: str | Path, *, what: str = "output folder") -> Path:
    """``directory`` when it exists, is a directory and can be written; else an InputError."""
    directory = Path(directory) if str(directory) else Path(".")
    try:
        mode = os.stat(directory).st_mode
    except FileNotFoundError:
        raise file_error(directory, f"{what} does not exist") from None
    except NotADirectoryError:
        raise file_error(directory, f"{what} is not a directory (a parent is a file)") from None
    except OSError as exc:
        raise file_error(directory, f"{what} cannot be used ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(mode):
        raise file_error(directory, f"{what} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise file_error(directory, f"{what} is not writable (permission denied)")
    _probe_write(directory, what=what)
    return directory


def _probe_write(directory: Path, *, what: str) -> None:
    """Create and remove an empty file in ``directory``: permission bits say nothing for root
    or on read-only and virtual file systems."""
    try:
        fd, name = tempfile.mkstemp(prefix=".srbench-write-probe-", dir=directory)
    except OSError as exc:
        raise file_error(directory, f"{what} is not writable ({exc.strerror or exc})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def ensure_dir(directory: str | Path, *, what: str = "output folder") -> Path:
    """Create ``directory`` (and parents) when missing; an InputError when that is impossible."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise file_error(directory, f"{what} exists and is not a directory") from None
    except NotADirectoryError:
        raise file_error(directory, f"{what} cannot be created (a parent is a file)") from None
    except OSError as exc:
        raise file_error(directory, f"{what} cannot be created ({exc.strerror or exc})") from None
    return check_writable_dir(directory, what=what)


def inside(path: str | Path, root: str | Path) -> bool:
    """True when ``path`` resolves to ``root`` or a location below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def check_creatable_dir(directory: str | Path, *, what: str = "output folder") -> Path:
    """``directory`` when it exists and is writable, or can be created (its nearest existing
    ancestor is a writable directory); else an InputError. Nothing is created."""
    directory = Path(directory)
    probe = directory
    while True:
        try:
            mode = os.stat(probe).st_mode
        except FileNotFoundError:
            if probe.parent == probe:
                raise file_error(directory, f"{what} cannot be created") from None
            probe = probe.parent
            continue
        except NotADirectoryError:
            raise file_error(directory, f"{what} cannot be created (a parent is a file)") from None
        except OSError as exc:
            raise file_error(directory, f"{what} cannot be used ({exc.strerror or exc})") from None
        break
    if not stat.S_ISDIR(mode):
        if probe == directory:
            raise file_error(directory, f"{what} exists and is not a directory")
        raise file_error(directory, f"{what} cannot be created ({show(probe)} is not a directory)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise file_error(directory, f"{what} is not writable (permission denied on {show(probe)})")
    _probe_write(probe, what=what)
    return directory


def portable_path(path: str | Path) -> str:
    """A recorded path fit to publish: relative to the working directory when it lies below
    it (the repository, for committed rows and shipped manifests); an absolute path
    elsewhere is redacted to ``outside-<12 hex digits>/<file name>``, the digits being the
    sha256 of its folder, so no machine's folder layout (a home folder, a patient's folder
    name) is published while files of different folders stay apart. Relative paths are
    kept as given. Files are matched by sha256, not path."""
    candidate = Path(path)
    if candidate.is_absolute():
        with contextlib.suppress(ValueError):
            return candidate.relative_to(Path.cwd().resolve()).as_posix()
        folder = hashlib.sha256(str(candidate.parent).encode("utf-8", "surrogateescape")).hexdigest()[:12]
        return f"outside-{folder}/{candidate.name}"
    return str(path)
