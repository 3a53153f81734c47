"""CI version of the crash-safety stress test: two SIGKILLs, then bitwise-identical weights.

Runs ``tests/stress/kill_resume.py --kills 2`` (a tiny DCSRN run of 24 iterations) and
checks its verdict line. The full version (10 kills) is run by hand:
``python tests/stress/kill_resume.py --kills 10``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

#: the crash-safety stress test: a real training run killed twice
pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent / "stress" / "kill_resume.py"
METHOD = "dcsrn"


def test_two_kills_are_survived_with_identical_weights(tmp_path):
    from srbench.plugins import PluginManager

    if METHOD not in PluginManager().names("trainer"):
        pytest.skip(f"the {METHOD} trainer is not installed")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--kills", "2", "--iterations", "24", "--seed", "1", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    verdict = re.search(r"kills survived: (\d+)/(\d+), identical weights: (yes|no)", result.stdout)
    assert verdict, f"no verdict line:\n{result.stdout}\n{result.stderr[-3000:]}"
    assert verdict.groups() == ("2", "2", "yes"), f"{verdict.group(0)}\n{result.stderr[-3000:]}"
    assert result.returncode == 0
    # the killed run ended as a finished run, with a model and a finished manifest
    assert (tmp_path / "killed" / "model.safetensors").is_file()
    assert '"status": "finished"' in (tmp_path / "killed" / "manifest.json").read_text()
