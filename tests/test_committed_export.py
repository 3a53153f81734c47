"""The committed leaderboard is reproducible from what the repository ships: the markdown
in leaderboards/ is exactly what `srbench leaderboard --from leaderboards/results.jsonl`
renders, `srbench verify` re-derives the rows of one track from the shipped weights
(CI runs this), and `srbench demo` writes its boards elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from srbench.cli.runner import CLIResult, run_cli

REPO = Path(__file__).resolve().parents[1]
EXPORT = REPO / "leaderboards" / "results.jsonl"
#: the track CI verifies (the smallest demo volume: 256 × 256 × 24 knee, in-plane ×2)
CI_TRACK = "knee"


def srbench(*args: str, cwd: Path) -> CLIResult:
    """``srbench ARGS`` as a user runs it: without the test run's ``SRBENCH_`` settings."""
    return run_cli(*args, cwd=cwd, env={key: None for key in os.environ if key.startswith("SRBENCH_")})


def test_the_export_renders_the_committed_markdown_byte_for_byte(tmp_path):
    assert EXPORT.is_file(), "commit the rows: srbench results export --results STORE --out leaderboards/results.jsonl"
    out = tmp_path / "boards"
    out.mkdir()
    for folder in ("figures", "notes"):  # figures are drawn from predictions and notes written by hand, not rows
        if (REPO / "leaderboards" / folder).is_dir():
            shutil.copytree(REPO / "leaderboards" / folder, out / folder)
    result = srbench("leaderboard", "--from", str(EXPORT), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    committed = sorted(p.name for p in (REPO / "leaderboards").glob("*.md"))
    assert committed == sorted(p.name for p in out.glob("*.md"))
    for name in committed:
        assert (out / name).read_bytes() == (REPO / "leaderboards" / name).read_bytes(), name


@pytest.mark.slow
def test_verify_reproduces_the_committed_rows_of_one_track(tmp_path):
    result = srbench("verify", "--from", str(EXPORT), "--track", CI_TRACK, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.stdout.strip() and all(line.startswith("REPRODUCED") for line in result.stdout.splitlines())


def test_demo_writes_its_boards_to_an_ignored_folder():
    from srbench.cli.demo import command

    out = next(p for p in command.params if p.name == "out_dir").default
    assert Path(out) != Path("leaderboards") and not Path(out).is_absolute()
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", str(Path(out) / "index.md")])
    assert ignored.returncode == 0, f"{out} must be git-ignored so that `srbench demo` leaves the tree clean"


def test_leaderboard_writes_to_an_ignored_folder_unless_told_otherwise():
    """Run from a checkout, ``srbench leaderboard`` without --out must never replace the
    committed boards with the rows of whatever store it reads."""
    from srbench.cli.leaderboard_cmd import command

    out = next(p for p in command.params if p.name == "out_dir").default
    assert Path(out) != Path("leaderboards") and not Path(out).is_absolute()
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", str(Path(out) / "index.md")])
    assert ignored.returncode == 0
