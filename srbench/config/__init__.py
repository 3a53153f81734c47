"""datasets.toml: the datasets and tracks of the benchmark, parsed and validated.

Lookup order for the file: ``--config PATH``, then ``$SRBENCH_CONFIG``, then
``./datasets.toml``, then the demo configuration shipped in the package. Paths in a
dataset are relative to the toml file, or to ``$SRBENCH_DATA_ROOT`` when the dataset says
``root = "data-root"``. Files are parsed with :mod:`tomllib` (never evaluated).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench.defaults import DEFAULT_DEGRADATION, DEFAULT_PRIMARY_METRIC
from srbench.errors import InputError, file_error, show, unknown_name
from srbench.interfaces import Scale, SubjectFile

if TYPE_CHECKING:
    from srbench.plugins import PluginManager

DATA_ROOT_ENV = "SRBENCH_DATA_ROOT"
#: ``insample``: trains on ``train``, tests on ``test``; ``ood``: tests another track's models;
#: ``cv``: cross-validation over the subjects of ``test`` (see :mod:`srbench.folds`);
#: ``dev``: a development split to tune presets on (trains on ``train``, tests on ``test``, whose
#: subjects must be in no other track's test data); never part of ``--track all`` nor of the index
TRACK_KINDS = ("insample", "ood", "cv", "dev")
#: the kind of a development track
DEV_KIND = "dev"
#: how a ``cv`` track splits its dataset: ``folds = "subject"`` (one fold per subject) or
#: ``folds = K`` (an integer: K subject-disjoint groups), see :mod:`srbench.folds`
FOLD_SCHEMES = ("subject",)
#: the largest datasets.toml read (a configuration, not data)
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class DataUnavailable(InputError):
    """A declared dataset's files are not on this machine (e.g. SRBENCH_DATA_ROOT unset)."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One ``[datasets.NAME]`` table.

    Attributes:
        name: the dataset's name.
        table: the raw table (reader options included).
        contrast: e.g. ``"T1w"``.
        anatomy: e.g. ``"brain"``.
        uses_data_root: paths are under ``$SRBENCH_DATA_ROOT`` rather than the toml's folder.
        select: optional ``"start:stop"`` slice of the sorted subjects (the paper's 20/7 split).
    """

    name: str
    table: Mapping[str, Any]
    contrast: str
    anatomy: str
    uses_data_root: bool = False
    select: str | None = None


@dataclasses.dataclass(frozen=True)
class TrackSpec:
    """One ``[tracks.NAME]`` table: train on ``train`` (optional), test on ``test``.

    A cross-validation track (``kind = "cv"``) has no ``train``: each fold of
    :func:`srbench.folds.subject_folds` trains on the subjects of ``test`` it does not hold
    out and tests on those it does (``folds = "subject"``: one subject per fold; ``folds =
    K``: K groups of consecutive subjects sorted by id).
    """

    name: str
    kind: str
    test: str
    train: str | None = None
    degradation: str = DEFAULT_DEGRADATION
    scale: Scale = (2.0, 2.0, 2.0)
    description: str = ""
    models_from: str | None = None
    #: options of the degradation (``degradation_options = {snr = 20}``), validated by it
    degradation_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: seed of the degradation's noise (each subject's seed is derived from it)
    seed: int = 0
    #: how a ``cv`` track splits its ``test`` dataset into folds: ``"subject"`` or a number
    #: of subject groups (None for other kinds)
    folds: str | int | None = None
    #: the ranked metric column that sorts the track's board and names its leader
    primary_metric: str = DEFAULT_PRIMARY_METRIC

    @property
    def cross_validated(self) -> bool:
        """True for a ``cv`` track: one model per fold, each tested on its held-out subject."""
        return self.kind == "cv"

    @property
    def training_dataset(self) -> str | None:
        """The dataset training reads: ``train``, or for a ``cv`` track ``test`` (minus each fold's subject)."""
        return self.test if self.cross_validated else self.train

    def training_track(self, config: BenchmarkConfig) -> str:
        """The track whose trained models this track evaluates: its own when it trains,
        else ``models_from``, else the first in-sample track of the configuration."""
        if self.train is not None or self.cross_validated:
            return self.name
        if self.models_from is not None:
            return self.models_from
        insample = [t.name for t in config.tracks.values() if t.kind == "insample" and t.train]
        return insample[0] if insample else self.name


@dataclasses.dataclass
class BenchmarkConfig:
    """A parsed datasets.toml."""

    path: Path
    datasets: dict[str, DatasetSpec]
    tracks: dict[str, TrackSpec]

    @property
    def base(self) -> Path:
        return self.path.parent

    def select_tracks(self, name: str) -> list[TrackSpec]:
        """``NAME`` → that track; ``ood`` / ``insample`` / ``cv`` / ``dev`` → every track of that kind;
        ``all`` → every benchmark track (development tracks only by their name or ``dev``)."""
        if name == "all":
            return [t for t in self.tracks.values() if t.kind != DEV_KIND]
        if name in self.tracks:
            return [self.tracks[name]]
        if name in TRACK_KINDS:
            return [t for t in self.tracks.values() if t.kind == name]
        raise unknown_name("track", name, [*self.tracks, "all", *TRACK_KINDS])

    def dataset(self, name: str) -> DatasetSpec:
        if name not in self.datasets:
            raise unknown_name("dataset", name, self.datasets)
        return self.datasets[name]

    def subjects(self, dataset_name: str, pm: PluginManager) -> list[SubjectFile]:
        """The dataset's subjects, sorted by id (after ``select``).

        Raises:
            DataUnavailable: the dataset lives under ``$SRBENCH_DATA_ROOT`` and that is
                unset or lacks the files.
            InputError: anything else wrong (empty glob, unknown reader...).
        """
        spec = self.dataset(dataset_name)
        base = self.base
        if spec.uses_data_root:
            root = os.environ.get(DATA_ROOT_ENV)
            if not root:
                raise DataUnavailable(f"dataset '{spec.name}' needs its data: set {DATA_ROOT_ENV} to the folder holding it")
            base = Path(root)
            if not base.is_dir():
                raise DataUnavailable(f"{show(base)}: {DATA_ROOT_ENV} is not a directory (dataset '{spec.name}')")
        subjects = self._read(spec, base, pm)
        if not subjects:
            raise file_error(self.path, f"dataset '{spec.name}' has no subject (no NIfTI file found)")
        if spec.select:
            start, _, stop = spec.select.partition(":")
            subjects = subjects[int(start) if start else None : int(stop) if stop else None]
            if not subjects:
                raise file_error(self.path, f"dataset '{spec.name}' select = \"{spec.select}\" leaves no subject")
        return subjects

    def _read(self, spec: DatasetSpec, base: Path, pm: PluginManager) -> list[SubjectFile]:
        readers = {r.name: r for r in pm.all("dataset reader")}
        if "reader" in spec.table:
            chosen = [pm.get("dataset reader", spec.table["reader"])]
        else:
            chosen = [r for r in readers.values() if r.key in spec.table]
        if not chosen:
            keys = sorted(r.key for r in readers.values())
            raise file_error(self.path, f"dataset '{spec.name}' needs one of the keys {', '.join(keys)}")
        problems: list[InputError] = []
        for reader in chosen:  # several layouts declared: the first one present wins
            try:
                return reader.subjects(spec.table, base=base, dataset=spec.name)
            except InputError as exc:
                problems.append(exc)
        error_type = DataUnavailable if spec.uses_data_root else InputError
        raise error_type("; ".join(str(p) for p in problems))


def default_config_path() -> Path:
    """Where the configuration is read from when ``--config`` is not given."""
    env = os.environ.get("SRBENCH_CONFIG")
    if env:
        return Path(env)
    local = Path("datasets.toml")
    if local.exists() or local.is_symlink():
        return local  # a folder or a broken link there is an error naming it (load_config), never a fallback
    return Path(str(resources.files("srbench.demo") / "datasets.toml"))


def load_config(path: Path | str | None = None, *, pm: PluginManager) -> BenchmarkConfig:
    """Read and validate a datasets.toml (see module docstring for the lookup order).

    Everything is checked here, before a command creates or writes anything: the types
    of every key, dataset and track names (they become file names), readers, degradation
    names and options, scales. ``pm`` is the plugin manager that supplies readers and
    degradations.
    """
    from srbench.io.paths import regular_file

    path = Path(path) if path is not None else default_config_path()
    regular_file(path, what="configuration (datasets.toml)")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise file_error(path, f"configuration is larger than {MAX_CONFIG_BYTES // 2**20} MiB; is it a datasets.toml?")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise file_error(path, f"malformed TOML: {exc}") from None
    except UnicodeDecodeError:
        raise file_error(path, "configuration is not UTF-8 text") from None
    except RecursionError:
        raise file_error(path, "malformed TOML: values are nested too deeply") from None
    except OSError as exc:
        raise file_error(path, f"cannot read configuration ({exc.strerror or exc})") from None
    from srbench.config.document import parse_document

    return parse_document(raw, path=path.resolve(), pm=pm)
