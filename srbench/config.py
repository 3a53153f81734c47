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
from typing import Any

from srbench.errors import InputError, did_you_mean, file_error, unknown_name
from srbench.grid import parse_scale
from srbench.interfaces import Scale, SubjectFile

DATA_ROOT_ENV = "SRBENCH_DATA_ROOT"
TOP_LEVEL_KEYS = ("datasets", "tracks")
DATASET_KEYS = ("paths", "bids", "reader", "root", "contrast", "anatomy", "select", "description")
TRACK_KEYS = ("test", "train", "kind", "degradation", "scale", "description", "models_from")
TRACK_KINDS = ("insample", "ood")
DEFAULT_DEGRADATION = "paper-linear"


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
    """One ``[tracks.NAME]`` table: train on ``train`` (optional), test on ``test``."""

    name: str
    kind: str
    test: str
    train: str | None = None
    degradation: str = DEFAULT_DEGRADATION
    scale: Scale = (2.0, 2.0, 2.0)
    description: str = ""
    models_from: str | None = None

    def training_track(self, config: BenchmarkConfig) -> str:
        """The track whose trained models this track evaluates: its own when it trains,
        else ``models_from``, else the first in-sample track of the configuration."""
        if self.train is not None:
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
        """``NAME`` → that track; ``ood`` / ``insample`` → every track of that kind; ``all`` → every track."""
        if name == "all":
            return list(self.tracks.values())
        if name in self.tracks:
            return [self.tracks[name]]
        if name in TRACK_KINDS:
            return [t for t in self.tracks.values() if t.kind == name]
        raise unknown_name("track", name, [*self.tracks, "all", *TRACK_KINDS])

    def dataset(self, name: str) -> DatasetSpec:
        if name not in self.datasets:
            raise unknown_name("dataset", name, self.datasets)
        return self.datasets[name]

    def subjects(self, dataset_name: str, pm: Any) -> list[SubjectFile]:
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
                raise DataUnavailable(f"{base}: {DATA_ROOT_ENV} is not a directory (dataset '{spec.name}')")
        subjects = self._read(spec, base, pm)
        if spec.select:
            start, _, stop = spec.select.partition(":")
            subjects = subjects[int(start) if start else None : int(stop) if stop else None]
            if not subjects:
                raise InputError(f"{self.path}: dataset '{spec.name}' select = \"{spec.select}\" leaves no subject")
        return subjects

    def _read(self, spec: DatasetSpec, base: Path, pm: Any) -> list[SubjectFile]:
        readers = {r.name: r for r in pm.all("dataset reader")}
        if "reader" in spec.table:
            chosen = [pm.get("dataset reader", spec.table["reader"])]
        else:
            chosen = [r for r in readers.values() if r.key in spec.table]
        if not chosen:
            keys = sorted(r.key for r in readers.values())
            raise InputError(f"{self.path}: dataset '{spec.name}' needs one of the keys {', '.join(keys)}")
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
    if local.is_file():
        return local
    return Path(str(resources.files("srbench.demo") / "datasets.toml"))


def load_config(path: Path | str | None = None) -> BenchmarkConfig:
    """Read and validate a datasets.toml (see module docstring for the lookup order)."""
    path = Path(path) if path is not None else default_config_path()
    if not path.exists():
        raise file_error(path, "configuration file not found")
    if path.is_dir():
        raise file_error(path, "is a directory, expected a datasets.toml file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise file_error(path, f"malformed TOML: {exc}") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise file_error(path, f"cannot read configuration: {exc}") from None
    from srbench.plugins import get_plugin_manager

    reader_keys = tuple(opt for r in get_plugin_manager().all("dataset reader") for opt in (r.key, *r.options))
    return parse_config(raw, path=path.resolve(), extra_dataset_keys=reader_keys)


def _check_keys(path: Path, where: str, table: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(table, dict):
        raise file_error(path, f"{where} must be a table")
    for key in table:
        if key not in allowed:
            raise file_error(path, f"unknown key '{key}' in {where}{did_you_mean(key, allowed)}")


def parse_config(raw: Mapping[str, Any], *, path: Path, extra_dataset_keys: tuple[str, ...] = ()) -> BenchmarkConfig:
    """Validate a parsed TOML document into a :class:`BenchmarkConfig`."""
    _check_keys(path, "the top level", raw, TOP_LEVEL_KEYS)
    from srbench.builtins.datasets import BIDS_FILTERS

    dataset_keys = DATASET_KEYS + tuple(BIDS_FILTERS) + ("datatype",) + extra_dataset_keys
    datasets: dict[str, DatasetSpec] = {}
    for name, table in raw.get("datasets", {}).items():
        _check_keys(path, f"[datasets.{name}]", table, dataset_keys)
        for required in ("contrast", "anatomy"):
            if required not in table:
                raise file_error(path, f"[datasets.{name}] is missing '{required}'")
        reader_keys = {"paths", "bids", "reader", *extra_dataset_keys}
        if not reader_keys & set(table):
            raise file_error(path, f"[datasets.{name}] needs 'paths' (files or globs) or 'bids' (a BIDS folder)")
        root = table.get("root", "config")
        if root not in ("config", "data-root"):
            raise file_error(path, f"[datasets.{name}] root must be \"config\" or \"data-root\", got {root!r}")
        select = table.get("select")
        if select is not None and (not isinstance(select, str) or ":" not in select):
            raise file_error(path, f"[datasets.{name}] select must be a \"start:stop\" string, got {select!r}")
        datasets[name] = DatasetSpec(
            name=name,
            table=table,
            contrast=str(table["contrast"]),
            anatomy=str(table["anatomy"]),
            uses_data_root=root == "data-root",
            select=select,
        )
    tracks: dict[str, TrackSpec] = {}
    for name, table in raw.get("tracks", {}).items():
        _check_keys(path, f"[tracks.{name}]", table, TRACK_KEYS)
        if "test" not in table:
            raise file_error(path, f"[tracks.{name}] is missing 'test' (a dataset name)")
        for role in ("test", "train"):
            if role in table and table[role] not in datasets:
                raise file_error(path, f"[tracks.{name}] {role} = '{table[role]}' is not a declared dataset{did_you_mean(str(table[role]), datasets)}")
        kind = table.get("kind", "insample" if "train" in table else "ood")
        if kind not in TRACK_KINDS:
            raise file_error(path, f"[tracks.{name}] kind must be one of {', '.join(TRACK_KINDS)}, got '{kind}'{did_you_mean(str(kind), TRACK_KINDS)}")
        if name in ("all", "ood"):
            raise file_error(path, f"[tracks.{name}]: '{name}' is reserved for selecting several tracks")
        try:
            scale = parse_scale(table.get("scale", 2), source=f"[tracks.{name}] scale")
        except InputError as exc:
            raise file_error(path, str(exc)) from None
        tracks[name] = TrackSpec(
            name=name,
            kind=kind,
            test=table["test"],
            train=table.get("train"),
            degradation=table.get("degradation", DEFAULT_DEGRADATION),
            scale=scale,
            description=table.get("description", ""),
            models_from=table.get("models_from"),
        )
    for track in tracks.values():
        if track.models_from is not None and track.models_from not in tracks:
            raise file_error(path, f"[tracks.{track.name}] models_from = '{track.models_from}' is not a declared track{did_you_mean(track.models_from, tracks)}")
    if not tracks:
        raise file_error(path, "declares no [tracks.NAME]")
    return BenchmarkConfig(path=path, datasets=datasets, tracks=tracks)
