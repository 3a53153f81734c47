"""Re-derive committed leaderboard rows from their recorded provenance and the shipped weights.

For every run of a results export (:func:`srbench.results.export.read_export`) on the selected
tracks, :func:`verify_export` finds the weights whose sha256 the run recorded among the
weights the plugins ship (:mod:`srbench.weights`), rebuilds each subject's LR volume
with the recorded degradation, options, seed and scale from the test file (whose sha256
must match the recorded one), predicts with the recorded inference settings, computes
the metrics and compares every value with the stored one.

A value is reproduced when ``|recomputed - stored| <= tolerance · max(1, |stored|)``
(both infinite and equal also counts). :data:`DEFAULT_TOLERANCE` comes from measured
CPU-to-CPU differences; see ``srbench verify --help``.

Only stored values are compared: a column the installed metrics compute that an export
does not hold (e.g. ``bias`` in rows evaluated before that metric existed) is computed
and left out, and :func:`unstored_columns` names it; a stored column no installed metric
computes is ``unverifiable``. Signed columns compare like any other (the tolerance is
relative to ``max(1, |stored|)``, so for a bias it is absolute).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from srbench.results.store import EXTERNAL_CONFIG_KEY

#: relative tolerance of a reproduced value. Measured (benchmarks/verify_tolerance.py, DCSRN
#: ``cpu`` weights, demo in-sample track, 2-core AVX-512 CPU): 1 vs 2 torch threads and
#: contiguous vs channels-last inference moved PSNR by at most 3.7e-8 dB and every metric by
#: at most 2.5e-9 relative; 1e-5 leaves a factor 4,000 for other CPUs' kernels (not measured).
DEFAULT_TOLERANCE = 1e-5


@dataclasses.dataclass(frozen=True)
class RowCheck:
    """The verdict on one stored value.

    Attributes:
        track, method, subject, metric: which value.
        stored: the value in the export.
        recomputed: the value computed now (None when it could not be computed).
        status: ``reproduced``, ``differs``, ``unverifiable``, or ``external`` (a row
            scored from submitted files that are not here: checked by its recorded hash only).
        detail: why a value is unverifiable (empty otherwise).
    """

    track: str
    method: str
    subject: str
    metric: str
    stored: float
    recomputed: float | None
    status: str
    detail: str = ""

    @property
    def difference(self) -> float | None:
        """``recomputed - stored`` (0 for equal infinities; None when not recomputed)."""
        if self.recomputed is None:
            return None
        if self.recomputed == self.stored:
            return 0.0
        return self.recomputed - self.stored


def within(recomputed: float, stored: float, *, tolerance: float) -> bool:
    """True when ``recomputed`` reproduces ``stored``: equal (infinities included) or within
    ``tolerance · max(1, |stored|)``."""
    if recomputed == stored:
        return True
    if not (math.isfinite(recomputed) and math.isfinite(stored)):
        return False
    return abs(recomputed - stored) <= tolerance * max(1.0, abs(stored))


def _grouped(records: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [r for r in records if r["record"] == kind]


def verify_export(
    records: Sequence[Mapping[str, Any]],
    *,
    pm: Any,
    config: Any,
    tracks: Iterable[str] = ("all",),
    tolerance: float = DEFAULT_TOLERANCE,
    device: str = "cpu",
    on_row: Callable[[RowCheck], None] = lambda row: None,
) -> list[RowCheck]:
    """Re-evaluate the rows of ``records`` on ``tracks`` (``all`` = every track in them).

    Args:
        records: from :func:`srbench.results.export.read_export`.
        pm: the plugin manager (models, degradations, metrics, shipped weights).
        config: the :class:`srbench.config.BenchmarkConfig` that locates each track's test files.
        tracks: track names, or ``all``.
        tolerance: relative tolerance of a reproduced value.
        on_row: called with each verdict as soon as it is known.

    Returns:
        One :class:`RowCheck` per stored value of the selected tracks, in the export's order.

    Raises:
        InputError: a selected track has no rows in the export.
    """
    from srbench.errors import InputError

    wanted = [t for t in tracks if t != "all"]
    present = sorted({r["track"] for r in _grouped(records, "result")})
    for name in wanted:
        if name not in present:
            from srbench.errors import unknown_name

            raise unknown_name("track with rows in the export", name, present)
    selected = set(wanted) if wanted else set(present)
    runs = {r["run_key"]: r for r in _grouped(records, "run")}
    values: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    for r in _grouped(records, "result"):
        if r["track"] in selected:
            values[(r["run_key"], r["track"], r["subject"])][r["metric"]] = float(r["value"])
    inputs: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    for r in _grouped(records, "input"):
        inputs[(r["run_key"], r["track"], r["subject"])][r["path"]] = r["sha256"]

    checks: list[RowCheck] = []
    lr_cache: dict[tuple[Any, ...], Any] = {}
    predictors: dict[tuple[str, str | None], Any] = {}
    ordered = sorted(values, key=lambda k: (k[1], k[2], runs[k[0]]["method"], k[0]))  # one subject at a time
    for run_key, track, subject in ordered:
        run = runs[run_key]
        stored = values[(run_key, track, subject)]
        try:
            recomputed = _recompute(run, track, subject, inputs[(run_key, track, subject)], pm=pm, config=config,
                                    device=device, lr_cache=lr_cache, predictors=predictors)
        except (InputError, HashOnly) as exc:
            status = "external" if isinstance(exc, HashOnly) else "unverifiable"
            for metric in sorted(stored):
                row = RowCheck(track, run["method"], subject, metric, stored[metric], None, status, str(exc))
                checks.append(row)
                on_row(row)
            continue
        for metric in sorted(stored):
            new = recomputed.get(metric)
            if new is None:
                row = RowCheck(track, run["method"], subject, metric, stored[metric], None, "unverifiable",
                               f"metric '{metric}' is not computed by the installed metric plugins")
            else:
                status = "reproduced" if within(new, stored[metric], tolerance=tolerance) else "differs"
                row = RowCheck(track, run["method"], subject, metric, stored[metric], new, status)
            checks.append(row)
            on_row(row)
    return checks


def _recompute(run: Mapping[str, Any], track: str, subject: str, recorded_inputs: Mapping[str, str], *, pm: Any,
               config: Any, device: str, lr_cache: dict, predictors: dict) -> dict[str, float]:
    """The metric values of one run × subject computed now (InputError when it cannot be)."""
    import json

    from srbench.data.pairs import make_pair
    from srbench.errors import InputError
    from srbench.measurement import compute_metrics
    from srbench.interfaces import InferenceSettings
    from srbench.io.hashing import sha256_file
    from srbench.models import load_predictor, predict_checked
    from srbench.weights import find_shipped

    method = run["method"]
    spec = config.tracks.get(track)
    if spec is None:
        raise InputError(f"track '{track}' is not defined in {config.path}")
    subjects = {s.subject: s for s in config.subjects(spec.test, pm)}
    if subject not in subjects:
        raise InputError(f"subject '{subject}' is not in dataset '{spec.test}' of {config.path}")
    path = subjects[subject].path
    digest = sha256_file(path)
    if recorded_inputs and digest not in set(recorded_inputs.values()):
        raise InputError(f"{path}: sha256 {digest[:12]} is not the recorded input's ({', '.join(v[:12] for v in recorded_inputs.values())})")

    recorded = run["config"]
    degradation_record = recorded.get("degradation", {"name": run["degradation"], "options": {}, "seed": spec.seed})
    options = dict(degradation_record.get("options") or {})
    seed = int(degradation_record.get("seed", spec.seed))
    scale = tuple(float(s) for s in run["scale"])
    recorded_track = dataclasses.replace(spec, degradation=run["degradation"], degradation_options=options,
                                         seed=seed, scale=scale)
    if isinstance(recorded.get(EXTERNAL_CONFIG_KEY), dict):
        return _rescore_external(recorded_track, subjects[subject], recorded_inputs, hr_sha256=digest, pm=pm)

    sha = run.get("checkpoint_sha256")
    weights = None
    if sha is not None:
        shipped = find_shipped(pm, method, sha256=sha)
        if shipped is None:
            raise InputError(f"no installed plugin ships weights of '{method}' with sha256 {sha[:12]} (srbench weights lists them)")
        if not shipped.intact:
            raise InputError(f"{shipped.path}: modified since it was shipped (sha256 differs from the recorded one)")
        weights = shipped.path
    if (method, str(weights)) not in predictors:
        predictors[(method, str(weights))] = load_predictor(pm.get("model", method), checkpoint=weights, device=device)
    predictor = predictors[(method, str(weights))]

    key = (track, subject, digest, run["degradation"], json.dumps(options, sort_keys=True), seed, scale)
    if key not in lr_cache:
        pair = make_pair(recorded_track, subjects[subject], pm=pm)
        lr_cache.clear()  # one subject's volumes at a time
        lr_cache[key] = (pair.hr, pair.lr)
    hr, lr = lr_cache[key]
    settings = InferenceSettings(**{**dict(recorded.get("inference", {})), "device": device})
    sr = predict_checked(predictor, lr, scale=scale, settings=settings, method=method, checkpoint=weights,
                         subject=f"subject '{subject}' ({path})")
    return compute_metrics(pm, sr=sr.data, hr=hr.data, affine=hr.affine)


class HashOnly(Exception):
    """An external row whose submitted file is not here: only its recorded sha256 stands for it."""


def _rescore_external(track: Any, subject: Any, recorded_inputs: Mapping[str, str], *, hr_sha256: str,
                      pm: Any) -> dict[str, float]:
    """Score again, from the submitted file, a subject of a run scored by ``srbench score``.

    The submitted file is the recorded input whose sha256 is not the HR file's; a relative
    recorded path is read from the working directory (as exports write it).

    Raises:
        HashOnly: the file is not here (the row stands by its recorded hash only).
        InputError: the file is here but changed, or no longer fits the subject's grid.
    """
    from srbench.errors import InputError, file_error
    from srbench.external.inputs import expected_subject
    from srbench.external.predictions import check_prediction
    from srbench.external.scoring import score_prediction
    from srbench.io.hashing import sha256_file

    submitted = {path: sha for path, sha in recorded_inputs.items() if sha != hr_sha256}
    if len(submitted) != 1:
        raise InputError(f"subject '{subject.subject}': an external row must record exactly one submitted file, found {len(submitted)}")
    recorded_path, sha = next(iter(submitted.items()))
    path = Path(recorded_path)
    if not path.is_file():
        raise HashOnly(f"external: checked by file hash only (submitted file {recorded_path} is not here to re-score; "
                       f"sha256 {sha[:12]} recorded)")
    if sha256_file(path) != sha:
        raise file_error(path, f"submitted file changed since it was scored (sha256 {sha[:12]} recorded)")
    expected = expected_subject(subject, track)
    prediction = check_prediction(path, expected, references={hr_sha256: subject.subject})
    values, _ = score_prediction(track, prediction, pm=pm)
    return values


def unstored_columns(records: Sequence[Mapping[str, Any]], computed: Iterable[str]) -> list[str]:
    """The columns of ``computed`` (what the installed metrics compute) that no result
    record stores, sorted: recomputed by :func:`verify_export` but not compared."""
    stored = {r["metric"] for r in _grouped(records, "result")}
    return sorted(set(computed) - stored)


def summary(checks: Sequence[RowCheck], *, tolerance: float) -> str:
    """One line: how many values were reproduced, the largest difference, what failed."""
    counts = {s: sum(c.status == s for c in checks) for s in ("reproduced", "differs", "unverifiable", "external")}
    differences = [abs(c.difference) for c in checks if c.difference is not None and math.isfinite(c.difference)]
    largest = max(differences, default=0.0)
    external = (f"; {counts['external']} external value(s) checked by file hash only (their files are not here)"
                if counts["external"] else "")
    return (
        f"{counts['reproduced']} of {len(checks)} value(s) reproduced within {tolerance:g} (relative); "
        f"{counts['differs']} differ, {counts['unverifiable']} could not be recomputed; "
        f"largest difference {largest:.3g}{external}"
    )


def failed(checks: Sequence[RowCheck]) -> bool:
    """True when a value differs or could not be recomputed (external rows whose files are
    absent stand by their hash and do not fail a verification)."""
    return any(c.status in ("differs", "unverifiable") for c in checks)
