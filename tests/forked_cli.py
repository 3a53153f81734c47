"""Run the real ``python -m srbench`` command line many times, cheaply.

Starting Python and importing torch takes seconds per command, which is too slow for a
corpus of dozens of cases on a small shared machine. :class:`ForkedCLI` starts one server
process (this file run as a script) that imports the command line once and then, for
each request, forks a child that runs ``srbench/__main__.py`` exactly as
``python -m srbench ARGS`` would, with its own working directory, environment, stdout
and stderr files and exit status. An exception that escapes the command line prints its
traceback to the child's stderr and exits 1, as the interpreter would.

Each result carries the command's wall time and, from the fork server, the peak resident
memory of its process (``os.wait4``), so that tests can check that a refusal is cheap.

The server never runs a command itself (no torch thread pool exists before the fork).
Anything printed while importing is kept in :attr:`ForkedCLI.import_stderr`, so tests
can check that importing the command line is silent. With ``SRBENCH_TEST_PLAIN_SUBPROCESS=1``
(or where ``os.fork`` does not exist) every case runs in a fresh ``python -m srbench``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class CLIResult:
    """What one command did: exit status, stdout and stderr (decoded as UTF-8), its wall time
    (seconds) and the peak resident memory of its process (KiB; ``None`` where unmeasured)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float = 0.0
    max_rss_kb: int | None = None


def _plain_run(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> CLIResult:
    start = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "srbench", *argv],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return CLIResult(tuple(argv), 124, out, err, time.monotonic() - start)
    return CLIResult(tuple(argv), result.returncode, result.stdout, result.stderr, time.monotonic() - start)


class ForkedCLI:
    """A client of the fork server (see the module docstring). Use as a context manager."""

    def __init__(self, *, base_env: Mapping[str, str] | None = None) -> None:
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.plain = os.environ.get("SRBENCH_TEST_PLAIN_SUBPROCESS") == "1" or not hasattr(os, "fork")
        self.import_stderr = ""
        self._server: subprocess.Popen[str] | None = None
        self._scratch = Path(tempfile.mkdtemp(prefix="srbench-forked-cli-"))

    def __enter__(self) -> ForkedCLI:
        if not self.plain:
            import_log = self._scratch / "import.stderr"
            with open(import_log, "w") as log:
                self._server = subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve())],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    env=self.base_env,
                    cwd=self._scratch,
                )
            ready = self._server.stdout.readline() if self._server.stdout else ""
            self.import_stderr = import_log.read_text()
            if ready.strip() != "ready":
                raise RuntimeError(f"the CLI fork server did not start: {self.import_stderr[-2000:]}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            if self._server.stdin:
                self._server.stdin.close()
            self._server.wait(timeout=30)
            if self._server.stdout:
                self._server.stdout.close()
        for path in self._scratch.iterdir():
            path.unlink()
        self._scratch.rmdir()

    def run(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300) -> CLIResult:
        """Run ``srbench ARGV`` in ``cwd`` with the base environment updated by ``env``."""
        full_env = {**self.base_env, **(env or {})}
        if self.plain or self._server is None:
            return _plain_run(argv, cwd=cwd, env=full_env, timeout=timeout)
        out, err = self._scratch / "stdout", self._scratch / "stderr"
        request = {"argv": list(argv), "cwd": str(cwd), "env": full_env, "stdout": str(out), "stderr": str(err), "timeout": timeout}
        assert self._server.stdin and self._server.stdout
        self._server.stdin.write(json.dumps(request) + "\n")
        self._server.stdin.flush()
        reply = self._server.stdout.readline()
        if not reply:
            raise RuntimeError("the CLI fork server died")
        answer = json.loads(reply)
        return CLIResult(
            tuple(argv), answer["returncode"], out.read_text(errors="replace"), err.read_text(errors="replace"),
            answer["wall_s"], answer["max_rss_kb"],
        )


# -- server side ---------------------------------------------------------------------------
def _child(request: dict) -> None:
    """In the forked child: become ``python -m srbench ARGV`` and exit with its status."""
    import runpy
    import traceback

    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            target = os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        sys.argv = [str(REPO / "srbench" / "__main__.py"), *request["argv"]]
        try:
            runpy.run_module("srbench", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:  # noqa: BLE001 - the interpreter's behaviour for an uncaught exception
            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


#: modules the commands import lazily; importing them once here saves each case the time
PREIMPORTS = (
    "pandas", "safetensors.torch", "srbench.results.export", "srbench.evaluation", "srbench.leaderboard.markdown",
    "srbench.config", "srbench.io.checkpoint", "srbench.models", "srbench.figures",
)


def _preimport() -> None:
    """Import the lazily imported modules and the installed plugins' modules (not run them).

    Importing is all: no plugin manager is created, so each child still discovers and
    registers plugins itself (``--disable-plugin`` included). A module that fails to
    import is left for the child to report, as it would in a fresh process.
    """
    import importlib
    import io
    from contextlib import redirect_stderr, redirect_stdout
    from importlib.metadata import entry_points

    names = [*PREIMPORTS, *(ep.module for ep in entry_points(group="srbench"))]
    for name in names:
        try:
            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
                importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - reported by the child that needs it
            sys.modules.pop(name, None)
            continue


def _serve() -> None:
    import signal

    import srbench.cli  # noqa: F401 - import once, before forking
    import srbench.io.nifti  # noqa: F401

    _preimport()

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        timeout = float(request.get("timeout", 300))
        deadline_hit = False

        def _kill(signum, frame, pid=pid):  # noqa: ARG001
            nonlocal deadline_hit
            deadline_hit = True
            os.kill(pid, signal.SIGKILL)

        signal.signal(signal.SIGALRM, _kill)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        start = time.monotonic()
        while True:
            try:
                _, status, usage = os.wait4(pid, 0)
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
                continue
        wall = time.monotonic() - start
        signal.setitimer(signal.ITIMER_REAL, 0)
        code = os.waitstatus_to_exitcode(status)
        if deadline_hit:
            code = 124
        # ru_maxrss of a forked child starts from the server's own resident size
        reply = {"returncode": code, "wall_s": wall, "max_rss_kb": int(usage.ru_maxrss)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    _serve()
