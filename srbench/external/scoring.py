"""Score a folder of submitted SR volumes with the protocol of plugin rows (``srbench score``).

The steps, each finished for every file before the next starts, so a bad submission
stores nothing:

1. find the track's subjects and their SR grids (HR headers), match the folder's files
   to them and check each header, grid and hash (:mod:`srbench.external.predictions`);
2. for each file: make the subject's HR reference exactly as evaluation does
   (:func:`srbench.data.pairs.make_pair`), read the prediction through the NIfTI gate
   (non-finite voxels refused), refuse one whose voxels equal the reference, and compute
   every metric through the same intensity convention (:func:`srbench.measurement.compute_metrics`);
3. store every subject in one transaction, as a run whose config has an ``external``
   entry (label, description, URL), with the sha256 of the HR file and of the prediction
   among each subject's inputs;
4. keep the figure subject's volumes and write BIDS derivatives when asked.

Rows are keyed like any run (method = the submission's label): scoring the same files
again stores nothing new; a subject scored before from a different file is an error
unless ``force``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench.errors import InputError, file_error, quoted
from srbench.external.inputs import ExpectedSubject, expected_subjects, single_track
from srbench.external.predictions import Prediction, check_prediction, match_files, refuse_reference_voxels
from srbench.io.hashing import sha256_file
from srbench.results.store import EXTERNAL_CONFIG_KEY
from srbench.stage_times import StageTimes

if TYPE_CHECKING:
    from srbench.config import BenchmarkConfig, TrackSpec
    from srbench.data.pairs import SubjectPair
    from srbench.evaluation import SubjectOutcome
    from srbench.plugins import PluginManager
    from srbench.results.store import ResultsStore

#: the run-config entry that marks a run scored from submitted files (boards read it)
EXTERNAL_KEY = EXTERNAL_CONFIG_KEY
MAX_LABEL = 64
MAX_DESCRIPTION = 300
#: characters a label may hold besides letters and digits of any script
_LABEL_PUNCTUATION = set(" ._+-()")


@dataclasses.dataclass(frozen=True)
class Submission:
    """Who submitted the files: the board label, a one-line description and a URL."""

    label: str
    description: str = ""
    url: str | None = None

    def record(self) -> dict[str, Any]:
        """The ``external`` entry of the run config (``origin`` says what the row is)."""
        return {"origin": "external", "label": self.label, "description": self.description, "url": self.url}


def check_submission(label: str, *, description: str = "", url: str | None = None, pm: PluginManager) -> Submission:
    """A :class:`Submission` with every field checked where it enters.

    The label becomes a row label, a file name component and a table cell: letters and
    digits of any script, spaces and ``. _ + - ( )``, starting with a letter or digit, at
    most 64 characters, and not the name of an installed method. The description is one
    line of printable text (at most 300 characters); the URL is http(s) with a host.
    """
    if not isinstance(label, str) or not label or len(label) > MAX_LABEL or not label[0].isalnum() or label != label.strip():
        raise InputError(f"--name {quoted(label)}: a label is 1 to {MAX_LABEL} characters, starting with a letter or digit")
    odd = sorted({ch for ch in label if not (ch.isalnum() or ch in _LABEL_PUNCTUATION)})
    if odd:
        raise InputError(f"--name {quoted(label)}: characters {quoted(''.join(odd))} are not allowed "
                         "(letters and digits of any script, spaces and . _ + - ( ) are)")
    installed = {name.casefold(): name for name in pm.names("model")}
    if label.casefold() in installed:
        raise InputError(f"--name {quoted(label)}: '{installed[label.casefold()]}' is an installed method; "
                         f"give the submission a label of its own (e.g. '{label}-mylab')")
    if len(description) > MAX_DESCRIPTION or not description.isprintable() or description != description.strip():
        raise InputError(f"--description: one line of printable text, at most {MAX_DESCRIPTION} characters")
    if url is not None:
        from srbench.leaderboard.text import safe_url

        if safe_url(url) is None:
            raise InputError(f"--url {quoted(url)}: expected an http:// or https:// address without spaces, quotes, "
                             "brackets or '|'")
    return Submission(label=label, description=description, url=url)


def external_runs(store: ResultsStore) -> dict[str, dict[str, Any]]:
    """Run key → the ``external`` entry of every run scored from submitted files."""
    return store.run_config_entries(EXTERNAL_KEY)


@dataclasses.dataclass
class ScoringPlan:
    """A submission matched and checked, before anything is scored or stored.

    Attributes:
        track: the track.
        submission: the label, description and URL.
        predictions: one checked file per scored subject, in subject order.
        missing: subjects without a file (only with ``allow_missing``).
        expected: every subject of the track.
        contrast: the test dataset's contrast (the BIDS suffix of derivatives).
    """

    track: TrackSpec
    submission: Submission
    predictions: list[Prediction]
    missing: list[str]
    expected: list[ExpectedSubject]
    contrast: str = ""

    def inputs(self) -> list[Path]:
        """Every file scoring reads (HR files and predictions): outputs must not be one of them."""
        return [p.expected.subject.path for p in self.predictions] + [p.path for p in self.predictions]


def plan_scoring(*, config: BenchmarkConfig, pm: PluginManager, track_name: str, predictions_dir: str | Path,
                 submission: Submission, allow_missing: bool = False) -> ScoringPlan:
    """Match and check every submitted file (names, headers, grids, hashes); nothing is scored yet.

    Raises:
        InputError: one line naming the first file (or folder) that is wrong.
    """
    if not pm.all("metric"):
        raise InputError("no metric is enabled (all metric plugins are disabled): nothing could be scored")
    track = single_track(track_name, config)
    expected = expected_subjects(config, track, pm=pm)
    files, missing = match_files(predictions_dir, expected, track=track.name, allow_missing=allow_missing)
    references = {sha256_file(subject.subject.path): subject.id for subject in expected}
    predictions = [check_prediction(files[subject.id], subject, references=references)
                   for subject in expected if subject.id in files]
    return ScoringPlan(track=track, submission=submission, predictions=predictions, missing=missing, expected=expected,
                       contrast=config.dataset(track.test).contrast)


def run_record(plan: ScoringPlan, *, pm: PluginManager) -> Any:
    """The :class:`~srbench.results.store.RunRecord` of a submission on its track."""
    from srbench.metrics.convention import CONVENTION_NAME
    from srbench.results.store import RunRecord

    track = plan.track
    return RunRecord.create(
        method=plan.submission.label, degradation=track.degradation, intensity_convention=CONVENTION_NAME,
        scale=track.scale, plugin_versions=pm.versions(),
        config={EXTERNAL_KEY: plan.submission.record(),
                "degradation": {"name": track.degradation, "options": dict(track.degradation_options), "seed": track.seed}},
    )


def _refuse_relabel(store: ResultsStore, record: Any, *, track: str) -> None:
    """Refuse a label already scored on ``track`` under another description or URL (two rows of
    one label would be told apart by a run hash only)."""
    runs = external_runs(store)
    if not runs:
        return
    frame = store.rows(track)
    for run_key in sorted(set(frame["run_key"][frame["method"] == record.method])):
        if run_key in runs and run_key != record.run_key:
            raise InputError(f"--name {quoted(record.method)} is already on track '{track}' with another description or "
                             f"URL (run {run_key[:8]} in {store.path}); give the same ones, or another label")


def _stored_files(store: ResultsStore, run_key: str, track: str) -> dict[str, set[str]]:
    """Subject → the sha256 of every input recorded for it under ``run_key`` on ``track``."""
    frame = store.inputs(track=track)
    frame = frame[frame["run_key"] == run_key]
    out: dict[str, set[str]] = {}
    for subject, digest in zip(frame["subject"], frame["sha256"], strict=True):
        out.setdefault(str(subject), set()).add(str(digest))
    return out


@dataclasses.dataclass
class _Scored:
    prediction: Prediction
    hr_sha256: str
    values: dict[str, float]
    seconds: dict[str, float]


def _intensity_note(prediction: Prediction, sr_max: float, lr_max: float) -> str | None:
    """A note when a prediction's maximum is far from its LR input's (another intensity unit?)."""
    if lr_max > 0 and math.isfinite(sr_max) and not 0.2 <= sr_max / lr_max <= 5.0:
        return (f"{prediction.path}: its maximum {sr_max:.4g} is {sr_max / lr_max:.3g}× its LR input's ({lr_max:.4g}); "
                "predictions are scored in the LR file's intensity units")
    return None


def score_prediction(track: TrackSpec, prediction: Prediction, *, pm: PluginManager, times: StageTimes | None = None,
                     on_note: Callable[[str], None] = lambda note: None) -> tuple[dict[str, float], SubjectPair]:
    """Score one checked file against its subject's HR reference, made as evaluation makes it.

    Returns:
        The metric values and the subject's pair (HR reference, LR input, HR sha256).

    Raises:
        InputError: the file's voxels are not finite, or equal the HR reference's.
    """
    from srbench.data.pairs import make_pair
    from srbench.measurement import compute_metrics
    from srbench.io.nifti import load_volume

    times = times if times is not None else StageTimes()
    pair = make_pair(track, prediction.expected.subject, pm=pm, times=times)
    with times.stage("load"):
        sr = load_volume(prediction.path)
    refuse_reference_voxels(prediction, sr.data, pair.hr.data)
    note = _intensity_note(prediction, float(sr.data.max()), float(pair.lr.data.max()))
    if note:
        on_note(note)
    return compute_metrics(pm, sr=sr.data, hr=pair.hr.data, affine=pair.hr.affine, times=times), pair


def run_scoring(
    plan: ScoringPlan,
    *,
    pm: PluginManager,
    store: ResultsStore,
    force: bool = False,
    predictions_dir: Path | None = None,
    figure_subject: str | None = None,
    derivatives: Path | None = None,
    on_note: Callable[[str], None] = lambda note: None,
    on_outcome: Callable[[SubjectOutcome], None] = lambda outcome: None,
) -> list[SubjectOutcome]:
    """Score every file of ``plan`` and store the rows (one transaction); return one outcome per subject.

    Args:
        plan: from :func:`plan_scoring`.
        store: the results store written to.
        force: replace a subject already scored under this label from another file.
        predictions_dir: where to keep the figure subject's SR and HR volumes (None: nowhere).
        figure_subject: that subject (default: the first scored).
        derivatives: write every scored volume as BIDS derivatives there (None: not at all).
        on_note: gets one-line notes (intensity units far from the input's).
        on_outcome: gets each outcome once every subject is stored.

    Raises:
        InputError: a subject was scored under this label from another file (without
            ``force``), or a file fails the voxel checks; nothing is stored then.
    """
    from srbench.evaluation import SubjectOutcome
    from srbench.measurement import result_columns
    from srbench.metric_columns import declared_columns
    from srbench.results.store import SubjectRows, TrackRecord

    track, label = plan.track, plan.submission.label
    record = run_record(plan, pm=pm)
    run_key = record.run_key
    columns = result_columns(pm)
    _refuse_relabel(store, record, track=track.name)
    stored = _stored_files(store, run_key, track.name)
    outcomes: list[SubjectOutcome] = []
    pending: list[Prediction] = []
    for prediction in plan.predictions:
        subject = prediction.expected.id
        if not force and store.has_subject(run_key, track.name, subject, columns):
            if prediction.sha256 not in stored.get(subject, set()):
                raise file_error(prediction.path, f"subject '{subject}' of track '{track.name}' was scored as {quoted(label)} "
                                                  "from another file; --force replaces its rows")
            outcomes.append(SubjectOutcome(label, track.name, subject, "skipped",
                                           store.subject_values(run_key, track.name, subject), "already stored"))
            continue
        pending.append(prediction)

    scored: list[_Scored] = []
    for prediction in pending:
        times = StageTimes()
        values, pair = score_prediction(track, prediction, pm=pm, times=times, on_note=on_note)
        scored.append(_Scored(prediction, pair.sha256, values, times.seconds))

    if scored:
        store.register_columns(declared_columns(pm).values())
        store.register_track(TrackRecord(name=track.name, kind=track.kind, test=track.test, train=track.train,
                                         primary_metric=track.primary_metric))
        store.register_run(record)
        rows = [SubjectRows(s.prediction.expected.id, s.values,
                            {str(s.prediction.expected.subject.path): s.hr_sha256, str(s.prediction.path): s.prediction.sha256})
                for s in scored]
        store.add_subjects(run_key, track.name, rows, force=force)
    outcomes += [SubjectOutcome(label, track.name, s.prediction.expected.id, "ok", s.values, seconds=s.seconds) for s in scored]
    order = {subject.id: k for k, subject in enumerate(plan.expected)}
    outcomes.sort(key=lambda outcome: order[outcome.subject])
    _keep_volumes(plan, scored, pm=pm, predictions_dir=predictions_dir, figure_subject=figure_subject,
                  derivatives=derivatives)
    for outcome in outcomes:
        on_outcome(outcome)
    return outcomes


def _keep_volumes(plan: ScoringPlan, scored: list[_Scored], *, pm: PluginManager, predictions_dir: Path | None,
                  figure_subject: str | None, derivatives: Path | None) -> None:
    """After storing: the figure subject's volumes and the BIDS derivatives (read again from the files)."""
    from srbench.data.pairs import make_pair
    from srbench.evaluation import save_prediction
    from srbench.io.nifti import load_volume

    if not scored or (predictions_dir is None and derivatives is None):
        return
    track, label = plan.track, plan.submission.label
    figure = figure_subject if figure_subject is not None else scored[0].prediction.expected.id
    for item in scored:
        subject = item.prediction.expected
        keep_figure = predictions_dir is not None and subject.id == figure
        if not keep_figure and derivatives is None:
            continue
        sr = load_volume(item.prediction.path)
        sr = sr.with_data(sr.data, affine=subject.sr_affine)
        if keep_figure:
            pair = make_pair(track, subject.subject, pm=pm)
            save_prediction(predictions_dir, track=track.name, subject=subject.id, method=label, sr=sr, hr=pair.hr)
        if derivatives is not None:
            from srbench.derivatives import track_provenance, write_derivative

            write_derivative(derivatives, method=label, track=track.name, subject=subject.id, contrast=plan.contrast,
                             volume=sr, provenance=track_provenance(track, origin=EXTERNAL_KEY, source_sha256=item.hr_sha256,
                                                                    prediction_sha256=item.prediction.sha256))
