"""SIGINT and SIGTERM at any moment of a command: one line on stderr (after the progress lines
of what was finished), exit status 130 or 143, no traceback and no temporary file left
behind (srbench/cli/signals.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

DELAYS = (0.1, 0.6, 1.5, 3.0)


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_at_any_moment_gives_one_line_and_leaves_no_partial_file(tmp_path, signum, code, word):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRBENCH_")} | {"NO_COLOR": "1"}
    stopped = 0
    for delay in DELAYS:
        out = tmp_path / f"boards-{delay}"
        process = subprocess.Popen(
            [sys.executable, "-m", "srbench", "leaderboard", "--from", str(REPO / "leaderboards" / "results.jsonl"),
             "--out", str(out), "--html", str(tmp_path / f"site-{delay}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
        time.sleep(delay)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
        finished = (tmp_path / f"site-{delay}" / "index.html").is_file()
        if process.returncode == 0 or (finished and process.returncode == -signum):
            continue  # finished before the signal (or got it while the interpreter was already exiting)
        stopped += 1
        lines = stderr.decode().strip().splitlines()
        progress = [line for line in lines[:-1] if not line.startswith("wrote ")]  # files finished before the signal
        assert process.returncode == code and lines[-1:] == [word] and not progress, (
            delay, process.returncode, stderr.decode()[-2000:])
        leftovers = [p for p in tmp_path.rglob("*") if ".tmp" in p.name or p.name.startswith(".srbench")]
        assert not leftovers, leftovers
    assert stopped >= 2, "the command finished before most signals: nothing was tested"
