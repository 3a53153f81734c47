"""Crash-safety stress test: kill a tiny training run with SIGKILL, resume, compare weights.

1. Train a tiny run (default: DCSRN, cpu preset shrunk to 40 iterations of 16³ patches on
   two generated 24³ volumes) without interruption.
2. Train the same run again, killing it with SIGKILL ``--kills`` times at random moments
   (seeded): during start-up, in the middle of an optimisation step, or while a
   checkpoint is being written. After each kill the run directory is checked (every file
   present is complete: checkpoints load, JSON files parse) and the run is continued
   with ``srbench train ... --resume``.
3. Compare the two final ``model.safetensors`` (and ``checkpoint.safetensors``, optimiser
   state included) tensor by tensor, bitwise, and the logged losses.

Prints ``kills survived: k/K, identical weights: yes|no`` on stdout and exits 0 only when
every kill was survived and the weights are identical. Usage::

    python tests/stress/kill_resume.py --kills 10
    python tests/stress/kill_resume.py --kills 2 --method dcsrn --iterations 24

Runs ``python -m srbench`` in subprocesses (one torch thread each by default), in a
temporary folder unless ``--workdir`` is given.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: configuration overrides that make each method's network tiny (``--set KEY=VALUE``)
TINY_SETTINGS: dict[str, tuple[str, ...]] = {
    "dcsrn": ("first_channels=8", "growth=4", "units=2"),
}
#: losses.csv columns that measure time, not training (they legitimately differ)
TIMING_COLUMNS = {"elapsed_s", "step_s", "data_wait_s"}


@dataclasses.dataclass
class Attempt:
    """One start of the interrupted run."""

    kind: str  # "startup", "training" or "final"
    target: int | None  # iteration whose loss row triggers the kill (training kills)
    killed: bool = False
    returncode: int | None = None
    at_iteration: int | None = None  # last logged iteration when killed
    problems: list[str] = dataclasses.field(default_factory=list)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_dataset(folder: Path, *, seed: int) -> Path:
    """Two smooth random 24³ training volumes and one test volume; returns datasets.toml."""
    import nibabel as nib

    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0.0, 1.0, 24)] * 3, indexing="ij")
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for name in ("train-a", "train-b", "test-a"):
        volume = np.zeros((24, 24, 24))
        for _ in range(5):
            centre = rng.uniform(0.2, 0.8, 3)
            width = rng.uniform(0.1, 0.3)
            volume += rng.uniform(50, 200) * np.exp(-sum((g - c) ** 2 for g, c in zip(grids, centre)) / (2 * width**2))
        nib.save(nib.Nifti1Image(volume.astype(np.float32), np.diag([1.0, 1.0, 1.0, 1.0])), str(folder / "data" / f"{name}.nii.gz"))
    config = folder / "datasets.toml"
    config.write_text(
        "[datasets.stress-train]\n"
        'paths = ["data/train-a.nii.gz", "data/train-b.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n\n'
        "[datasets.stress-test]\n"
        'paths = ["data/test-a.nii.gz"]\ncontrast = "T1w"\nanatomy = "brain"\n\n'
        '[tracks.stress]\nkind = "insample"\ntrain = "stress-train"\ntest = "stress-test"\n'
    )
    return config


def train_command(args: argparse.Namespace, *, config: Path, run_dir: Path, resume: bool) -> list[str]:
    command = [
        sys.executable, "-m", "srbench", "train", args.method,
        "--preset", args.preset, "--config", str(config), "--track", "stress",
        "--run-dir", str(run_dir), "--iterations", str(args.iterations),
        "--patch-size", str(args.patch_size), "--batch-size", str(args.batch_size),
        "--seed", str(args.seed), "--no-progress", "--device", "cpu",
        "--set", f"checkpoint_every={args.checkpoint_every}", "--set", "log_every=1",
    ]
    for item in (*TINY_SETTINGS.get(args.method, ()), *args.set):
        command += ["--set", item]
    if resume:
        command.append("--resume")
    return command


def child_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRBENCH_")}
    threads = str(args.threads)
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, NO_COLOR="1")
    return env


def logged_iterations(run_dir: Path) -> list[int]:
    """Iterations that have a complete row in losses.csv (empty when there is none yet)."""
    path = run_dir / "losses.csv"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text)))
    return [int(row[0]) for row in rows[1:] if row and row[0].isdigit()]


def check_run_dir(run_dir: Path, *, method: str) -> list[str]:
    """Problems found in a run directory after a kill (every file present must be complete)."""
    from srbench.errors import InputError
    from srbench.training.checkpoint import load_checkpoint

    problems = []
    if not run_dir.exists():
        return problems
    for name in ("checkpoint.safetensors", "model.safetensors"):
        path = run_dir / name
        if path.exists():
            try:
                load_checkpoint(path, method=method)
            except InputError as exc:
                problems.append(f"{name} is damaged: {exc}")
    for name in ("config.json", "manifest.json"):
        path = run_dir / name
        if path.exists():
            try:
                json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                problems.append(f"{name} is damaged: {exc}")
    return problems


def leftover_temporaries(run_dir: Path) -> list[str]:
    """Temporary files of interrupted atomic writes (``.NAME.*.tmp*``) still in the folder."""
    return sorted(p.name for p in run_dir.rglob(".*.tmp*")) if run_dir.exists() else []


def run_to_end(command: list[str], *, env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return result.returncode, result.stderr, time.perf_counter() - start


def attempt_with_kill(command: list[str], attempt: Attempt, *, env: dict[str, str], run_dir: Path, delay: float, timeout: float) -> str:
    """Start the run and SIGKILL its process group at the planned moment; returns its stderr."""
    with tempfile.TemporaryFile(mode="w+") as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        started = time.perf_counter()
        fire_at: float | None = started + delay if attempt.kind == "startup" else None
        while process.poll() is None:
            now = time.perf_counter()
            if now - started > timeout:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                attempt.problems.append(f"timed out after {timeout:.0f} s")
                break
            if fire_at is None:
                done = logged_iterations(run_dir)
                if done and max(done) >= (attempt.target or 0):
                    fire_at = now + delay
            if fire_at is not None and now >= fire_at:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                attempt.killed = True
                done = logged_iterations(run_dir)
                attempt.at_iteration = max(done) if done else None
                break
            time.sleep(0.005)
        attempt.returncode = process.returncode
        err.seek(0)
        return err.read()


def compare_tensors(a: Path, b: Path) -> list[str]:
    """Keys whose tensors differ bitwise between two safetensors files (or are missing)."""
    from safetensors.numpy import load_file

    left, right = load_file(str(a)), load_file(str(b))
    differ = sorted(set(left) ^ set(right))
    for key in sorted(set(left) & set(right)):
        x, y = left[key], right[key]
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            differ.append(key)
    return differ


def loss_table(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "losses.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(handle)]


def plan_attempts(args: argparse.Namespace, rng: random.Random) -> list[Attempt]:
    """K kills: about one in five during start-up, the others after a random logged iteration."""
    kinds = ["startup" if rng.random() < args.startup_share else "training" for _ in range(args.kills)]
    n_training = kinds.count("training")
    if n_training > args.iterations - 1:
        raise SystemExit(f"--iterations {args.iterations} is too small for {n_training} kills during training")
    targets = iter(sorted(rng.sample(range(0, args.iterations - 1), n_training)))
    return [Attempt(kind=k, target=next(targets) if k == "training" else None) for k in kinds]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10, help="number of SIGKILLs (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training run and of the kill moments")
    parser.add_argument("--method", default="dcsrn", help="trainer to use (default dcsrn)")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--patch-size", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--checkpoint-every", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra configuration override")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    parser.add_argument("--startup-share", type=float, default=0.2, help="share of kills aimed at start-up")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per start of the run")
    parser.add_argument("--workdir", type=Path, default=None, help="keep everything in this folder (default: a temporary one)")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="srbench-kill-resume-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> int:
    rng = random.Random(args.seed)
    env = child_env(args)
    config = write_dataset(workdir, seed=args.seed)
    reference, killed = workdir / "reference", workdir / "killed"

    code, stderr, wall = run_to_end(train_command(args, config=config, run_dir=reference, resume=False), env=env, timeout=args.timeout)
    if code != 0:
        _log(f"the uninterrupted run failed ({code}):\n{stderr[-3000:]}")
        print(f"kills survived: 0/{args.kills}, identical weights: no")
        return 1
    _log(f"uninterrupted run: {args.iterations} iterations in {wall:.1f} s")
    startup = _startup_estimate(wall, args.iterations, reference)

    attempts = plan_attempts(args, rng)
    command = train_command(args, config=config, run_dir=killed, resume=True)
    for number, attempt in enumerate(attempts, 1):
        delay = rng.uniform(0.0, startup) if attempt.kind == "startup" else rng.uniform(0.0, _step_estimate(reference))
        stderr = attempt_with_kill(command, attempt, env=env, run_dir=killed, delay=delay, timeout=args.timeout)
        if not attempt.killed:
            if attempt.returncode == 0:
                attempt.problems.append("the run finished before the kill")
            else:
                attempt.problems.append(f"the run failed with status {attempt.returncode}: {stderr.strip()[-500:]}")
        attempt.problems += check_run_dir(killed, method=args.method)
        where = f"after iteration {attempt.at_iteration}" if attempt.at_iteration is not None else "before the first iteration"
        _log(f"kill {number}/{len(attempts)} ({attempt.kind}, +{delay:.2f} s): {where}" + (f" PROBLEMS: {attempt.problems}" if attempt.problems else ""))

    final = Attempt(kind="final", target=None)
    code, stderr, _ = run_to_end(command, env=env, timeout=args.timeout)
    final.returncode = code
    if code != 0:
        final.problems.append(f"the final resume failed ({code}): {stderr.strip()[-1000:]}")
    # a kill is survived when it left a sound run directory and the next start continued
    # from it (the next start was killed by us too, or the final resume finished)
    starts = [*attempts, final]
    survived = sum(
        1
        for attempt, following in zip(attempts, starts[1:])
        if attempt.killed and not attempt.problems and (following.killed or following.returncode == 0)
    )
    identical = False
    if not final.problems:
        differ = compare_tensors(reference / "model.safetensors", killed / "model.safetensors")
        differ_ckpt = compare_tensors(reference / "checkpoint.safetensors", killed / "checkpoint.safetensors")
        same_losses = loss_table(reference) == loss_table(killed)
        identical = not differ and not differ_ckpt and same_losses
        if differ or differ_ckpt:
            _log(f"tensors that differ: {(differ + differ_ckpt)[:10]}")
        if not same_losses:
            _log("losses.csv differs from the uninterrupted run")
    for problem in final.problems:
        _log(problem)
    leftovers = leftover_temporaries(killed)
    if leftovers:
        _log(f"note: {len(leftovers)} temporary file(s) of interrupted writes left in the run directory: {leftovers[:5]}")
    print(f"kills survived: {survived}/{args.kills}, identical weights: {'yes' if identical else 'no'}", flush=True)
    return 0 if survived == args.kills and identical else 1


def _startup_estimate(wall: float, iterations: int, reference: Path) -> float:
    """Seconds before the first iteration: the run's wall time minus its training time."""
    with open(reference / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    trained = float(rows[-1]["elapsed_s"]) if rows else 0.0
    return max(0.2, wall - trained)


def _step_estimate(reference: Path) -> float:
    """Mean seconds per iteration of the uninterrupted run (checkpoint writes included)."""
    with open(reference / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) < 2:
        return 0.1
    return max(0.01, float(rows[-1]["elapsed_s"]) / len(rows))


if __name__ == "__main__":
    sys.exit(main())
