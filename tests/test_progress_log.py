"""Progress that shows in logs: with stderr redirected to a file, ``evaluate`` writes one
flushed line per method × subject (count of pairs, elapsed time, ETA) and streams each JSON
row to stdout as soon as it is stored, so a job killed midway leaves a readable log."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib

from srbench.progress import progress_lines
from srbench.testing.synthetic import oblique_affine, smooth_volume

CONFIG = """
[datasets.test]
paths = ["data/s*.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.noise]
kind = "ood"
test = "test"
degradation = "kspace"
"""

LINE = re.compile(r"^noise: 3 subject\(s\) × 1 method\(s\): (\d+)/3 trilinear on (s\d): ok \(\d+\.\d s elapsed(, ETA \d+\.\d s)?\)$")


def test_progress_lines_count_steps_with_elapsed_and_eta(capsys):
    with progress_lines("track", total=2) as advance:
        advance("a on s1: ok")
        advance("a on s2: ok")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "track: started"
    assert re.fullmatch(r"track: 1/2 a on s1: ok \(\d+\.\d s elapsed, ETA \d+\.\d s\)", lines[1])
    assert re.fullmatch(r"track: 2/2 a on s2: ok \(\d+\.\d s elapsed\)", lines[2])


def _bench(root: Path, count: int, shape=(24, 24, 24)) -> Path:
    (root / "data").mkdir(parents=True)
    for k in range(1, count + 1):
        nib.save(nib.Nifti1Image(smooth_volume(shape, seed=k).numpy(), oblique_affine((1.0, 1.0, 1.0))),
                 str(root / "data" / f"s{k}.nii.gz"))
    (root / "datasets.toml").write_text(CONFIG)
    return root / "datasets.toml"


def _command(config: Path, store: Path) -> list[str]:
    return [sys.executable, "-m", "srbench", "evaluate", "--config", str(config), "--track", "noise", "--method",
            "trilinear", "--results", str(store), "--format", "json", "--no-save-predictions"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SRBENCH_")} | {"NO_COLOR": "1"}


def test_evaluate_writes_one_line_per_method_and_subject_to_a_log(tmp_path):
    config = _bench(tmp_path / "bench", 3)
    log, out = tmp_path / "stderr.log", tmp_path / "stdout.jsonl"
    with open(log, "w") as err, open(out, "w") as stdout:
        subprocess.run(_command(config, tmp_path / "r.sqlite"), stdout=stdout, stderr=err, env=_env(), check=True,
                       timeout=300)
    lines = log.read_text().splitlines()
    steps = [LINE.match(line) for line in lines]
    assert [m.group(1) for m in steps if m] == ["1", "2", "3"], lines
    assert [m.group(2) for m in steps if m] == ["s1", "s2", "s3"]
    assert [json.loads(line)["subject"] for line in out.read_text().splitlines()] == ["s1", "s2", "s3"]


def test_a_job_killed_midway_leaves_its_finished_steps_in_the_log(tmp_path):
    config = _bench(tmp_path / "bench", 6, shape=(64, 64, 64))
    log, out = tmp_path / "stderr.log", tmp_path / "stdout.jsonl"
    with open(log, "w") as err, open(out, "w") as stdout:
        process = subprocess.Popen(_command(config, tmp_path / "r.sqlite"), stdout=stdout, stderr=err, env=_env())
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "1/6" not in log.read_text() and process.poll() is None:
            time.sleep(0.1)
        finished = process.poll() is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert not finished, "the evaluation ended before it could be killed midway"
    text = log.read_text()
    assert re.search(r"noise: 6 subject\(s\) × 1 method\(s\): 1/6 trilinear on s1: ok \(\d+\.\d s elapsed, ETA ", text)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and rows[0]["subject"] == "s1" and rows[0]["status"] == "ok"
