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

    kind: str  # "startup", "training", "write" or "final"
    target: int | None  # iteration whose loss row arms the kill (training and write kills)
    killed: bool = False
    during_write: bool = False  # the kill left a temporary file of an atomic write behind
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
    from srbench.io.checkpoint import load_checkpoint

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


def attempt_with_kill(
    command: list[str], attempt: Attempt, *, env: dict[str, str], run_dir: Path, delay: float, timeout: float, checkpoint_every: int
) -> str:
    """Start the run and SIGKILL its process group at the planned moment; returns its stderr.

    ``startup``: ``delay`` seconds after the start. ``training``: ``delay`` seconds after
    the loss row of ``target`` appears. ``write``: as soon as a temporary file of an
    atomic write appears once ``target`` is logged (a checkpoint being written), or
    ``2 × checkpoint_every`` iterations later if none was caught.
    """
    before = set(leftover_temporaries(run_dir))
    with tempfile.TemporaryFile(mode="w+") as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        started = time.perf_counter()
        fire_at: float | None = started + delay if attempt.kind == "startup" else None
        armed = False
        while process.poll() is None:
            now = time.perf_counter()
            if now - started > timeout:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                attempt.problems.append(f"timed out after {timeout:.0f} s")
                break
            if attempt.kind != "startup" and not armed:
                done = logged_iterations(run_dir)
                armed = bool(done) and max(done) >= (attempt.target or 0)
                if armed and attempt.kind == "training":
                    fire_at = now + delay
            if attempt.kind == "write" and armed:
                done = logged_iterations(run_dir)
                writing = set(leftover_temporaries(run_dir)) - before
                if writing or (done and max(done) >= (attempt.target or 0) + 2 * checkpoint_every):
                    fire_at = now
            if fire_at is not None and now >= fire_at:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                attempt.killed = True
                done = logged_iterations(run_dir)
                attempt.at_iteration = max(done) if done else None
                break
            time.sleep(0.0005 if attempt.kind == "write" and armed else 0.005)
        attempt.returncode = process.returncode
        attempt.during_write = bool(set(leftover_temporaries(run_dir)) - before)
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
    """K kills in a seeded random order: a share at start-up, a share aimed at checkpoint
    writes, the rest at a random moment of a random iteration.

    Targets of the kills after start-up increase by at least 2 iterations, so each one
    lies beyond the checkpoint the run resumes from (see :func:`next_target`).
    """
    n_startup = round(args.kills * args.startup_share)
    n_write = round(args.kills * args.write_share)
    kinds = ["startup"] * n_startup + ["write"] * n_write + ["training"] * (args.kills - n_startup - n_write)
    rng.shuffle(kinds)
    m = len(kinds) - n_startup
    last = args.iterations - 2
    if m and last - (m - 1) < 0:
        raise SystemExit(f"--iterations {args.iterations} is too small for {m} kills after start-up")
    spaced = iter(s + i for i, s in enumerate(sorted(rng.sample(range(0, last - (m - 1) + 1), m))))
    return [Attempt(kind=k, target=None if k == "startup" else next(spaced)) for k in kinds]


def next_target(planned: int | None, *, last_logged: int | None, iterations: int) -> int | None:
    """The planned target, moved beyond the last kill's iteration by 2 when needed (the run
    resumes at most one iteration after its last logged one); ``None`` when the run is too
    close to its end for another kill after start-up."""
    if planned is None:
        return None
    target = planned if last_logged is None else max(planned, last_logged + 2)
    return target if target <= iterations - 2 else None


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
    parser.add_argument("--startup-share", type=float, default=0.2, help="share of kills aimed at start-up (default 0.2)")
    parser.add_argument("--write-share", type=float, default=0.3, help="share of kills aimed at checkpoint writes (default 0.3)")
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
    last_logged: int | None = None
    for number, attempt in enumerate(attempts, 1):
        if attempt.kind != "startup":
            attempt.target = next_target(attempt.target, last_logged=last_logged, iterations=args.iterations)
            if attempt.target is None:
                attempt.kind = "startup"
        delay = rng.uniform(0.0, startup) if attempt.kind == "startup" else rng.uniform(0.0, _step_estimate(reference))
        stderr = attempt_with_kill(
            command, attempt, env=env, run_dir=killed, delay=delay, timeout=args.timeout, checkpoint_every=args.checkpoint_every
        )
        if not attempt.killed:
            if attempt.returncode == 0:
                attempt.problems.append("the run finished before the kill")
            else:
                attempt.problems.append(f"the run failed with status {attempt.returncode}: {stderr.strip()[-500:]}")
        attempt.problems += check_run_dir(killed, method=args.method)
        if attempt.at_iteration is not None:
            last_logged = attempt.at_iteration
        if attempt.kind == "startup":
            where = "during start-up"
        else:
            where = f"after iteration {attempt.at_iteration}" if attempt.at_iteration is not None else "before the first iteration"
        what = f"{attempt.kind}" + (f", target {attempt.target}" if attempt.target is not None else f", +{delay:.2f} s")
        _log(
            f"kill {number}/{len(attempts)} ({what}): {where}"
            + (" while a file was being written" if attempt.during_write else "")
            + (f" PROBLEMS: {attempt.problems}" if attempt.problems else "")
        )

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
    during_writes = sum(a.during_write for a in attempts)
    _log(f"kills that interrupted an atomic write: {during_writes}")
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
