"""A parsed datasets.toml document → a validated :class:`~srbench.config.BenchmarkConfig`.

All validation happens here, once, before any command creates a file: key types (through
:class:`~srbench.config.schema.Table`), names that become file names, dataset readers
and their keys (each reader owns its keys), degradation names and options, scales and
the references between tracks and datasets.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srbench import capabilities
from srbench.config import DEFAULT_DEGRADATION, DEV_KIND, FOLD_SCHEMES, TRACK_KINDS, BenchmarkConfig, DatasetSpec, TrackSpec
from srbench.config.schema import Table, check_top_level
from srbench.defaults import DEFAULT_PRIMARY_METRIC
from srbench.errors import InputError, did_you_mean, file_error, quoted
from srbench.grid import integer_scale, parse_scale
from srbench.io.paths import check_config_name

if TYPE_CHECKING:
    from srbench.plugins import PluginManager

TOP_LEVEL_KEYS = ("datasets", "tracks")
COMMON_DATASET_KEYS = ("reader", "root", "contrast", "anatomy", "select", "description")
TRACK_KEYS = (
    "test", "train", "kind", "degradation", "degradation_options", "seed", "scale", "description", "models_from",
    "folds", "primary_metric",
)
#: names that select several tracks on the command line, so no track may use them
RESERVED_TRACK_NAMES = ("all", "ood", "cv")


def parse_document(raw: Mapping[str, Any], *, path: Path, pm: PluginManager) -> BenchmarkConfig:
    """Validate a parsed TOML document into a :class:`BenchmarkConfig` (InputError naming ``path``)."""
    document = check_top_level(raw, source=path, allowed=TOP_LEVEL_KEYS)
    datasets_table = document.table("datasets")
    datasets = {
        name: _dataset(datasets_table.table(name), name=name, path=path, pm=pm)
        for name in list(datasets_table.data)
    }
    tracks_table = document.table("tracks")
    tracks = {
        name: _track(tracks_table.table(name), name=name, path=path, datasets=datasets, pm=pm)
        for name in list(tracks_table.data)
    }
    for track in tracks.values():
        if track.models_from is not None and track.models_from not in tracks:
            raise file_error(
                path,
                f"[tracks.{track.name}] models_from: {quoted(track.models_from)} is not a declared track"
                f"{did_you_mean(track.models_from, tracks)}",
            )
        if track.models_from is not None and tracks[track.models_from].cross_validated:
            raise file_error(
                path,
                f"[tracks.{track.name}] models_from: track {quoted(track.models_from)} is a cross-validation track "
                "(one model per fold, each for its own held-out subject); name a track with one trained model",
            )
    tested = {t.test: t.name for t in tracks.values() if t.kind != DEV_KIND}
    for track in tracks.values():
        if track.kind == DEV_KIND and track.test in tested:
            raise file_error(
                path,
                f"[tracks.{track.name}] test: a development track tunes on data no benchmark track tests on, but "
                f"{quoted(track.test)} is the test dataset of track {quoted(tested[track.test])}",
            )
    if not tracks:
        raise file_error(path, "declares no [tracks.NAME]")
    return BenchmarkConfig(path=path, datasets=datasets, tracks=tracks)


def _dataset(table: Table, *, name: str, path: Path, pm: PluginManager) -> DatasetSpec:
    check_config_name(name, kind="dataset", source=path)
    readers = {reader.name: reader for reader in pm.all("dataset reader")}
    reader_keys = {reader.key: reader for reader in readers.values()}
    allowed = (*COMMON_DATASET_KEYS, *reader_keys, *(o for r in readers.values() for o in capabilities.reader_options(r)))
    table.only(allowed)
    contrast = table.string("contrast")
    anatomy = table.string("anatomy")
    for key, value in (("contrast", contrast), ("anatomy", anatomy)):
        if not value:
            raise table.error_here(f"is missing {quoted(key)} (a string, e.g. \"T1w\" / \"brain\")")
    table.string("description", default="")
    root = table.string("root", default="config", choices=("config", "data-root"))
    select = table.string("select")
    if select is not None:
        _check_select(table, select)
    chosen_name = table.string("reader")
    if chosen_name is not None:
        if chosen_name not in readers:
            raise table.error("reader", f"unknown dataset reader {quoted(chosen_name)}{did_you_mean(chosen_name, readers)}")
        chosen = [readers[chosen_name]]
        table.require(chosen[0].key, f"reader '{chosen_name}' reads its files from it")
    else:
        chosen = [reader for key, reader in reader_keys.items() if key in table]
    if not chosen:
        keys = " or ".join(quoted(k) for k in sorted(reader_keys))
        raise table.error_here(f"needs {keys} to say where its files are")
    for reader in chosen:
        validate_table = capabilities.validate_table_method(reader)
        if validate_table is not None:
            try:
                validate_table(table)
            except InputError:
                raise
            except Exception as exc:  # noqa: BLE001 - a reader's own bug must still give one line
                raise table.error_here(f"cannot be checked by reader '{reader.name}' ({type(exc).__name__}: {exc})") from None
        else:
            _generic_reader_values(table, reader)
    return DatasetSpec(
        name=name,
        table=dict(table.data),
        contrast=str(contrast),
        anatomy=str(anatomy),
        uses_data_root=root == "data-root",
        select=select,
    )


def _generic_reader_values(table: Table, reader: Any) -> None:
    """A reader that does not validate its own keys gets strings or lists of strings."""
    for key in (reader.key, *capabilities.reader_options(reader)):
        if key in table and not isinstance(table.data[key], str):
            table.strings(key)


def _check_select(table: Table, select: str) -> None:
    start, colon, stop = select.partition(":")
    try:
        if not colon:
            raise ValueError
        for part in (start, stop):
            if part.strip():
                int(part)
    except ValueError:
        raise table.error("select", f"expected \"start:stop\" with integers (e.g. \"0:20\"), got {quoted(select)}") from None


def _track(table: Table, *, name: str, path: Path, datasets: Mapping[str, DatasetSpec], pm: PluginManager) -> TrackSpec:
    check_config_name(name, kind="track", source=path)
    if name in RESERVED_TRACK_NAMES:
        raise table.error_here(f"uses the name '{name}', which is reserved for selecting several tracks")
    table.only(TRACK_KEYS)
    table.require("test", "the name of the dataset to test on")
    roles: dict[str, str | None] = {}
    for role in ("test", "train"):
        value = table.string(role)
        if value is not None and value not in datasets:
            raise table.error(role, f"{quoted(value)} is not a declared dataset{did_you_mean(value, datasets)}")
        roles[role] = value
    kind = table.string("kind", default="insample" if roles["train"] else "ood", choices=TRACK_KINDS)
    if kind in ("insample", DEV_KIND) and roles["train"] is None:
        raise table.error_here(f"is kind {quoted(str(kind))} but has no 'train' dataset")
    folds = _fold_scheme(table, kind=str(kind))
    if kind == "cv":
        if roles["train"] is not None:
            raise table.error(
                "train", "a cv track trains each fold on the other subjects of its 'test' dataset; remove 'train'"
            )
        if "models_from" in table:
            raise table.error("models_from", "a cv track trains its own model for each fold; remove 'models_from'")
    elif folds is not None:
        raise table.error("folds", f"only a track of kind \"cv\" has folds (this one is {quoted(kind)})")
    scale_value = table.data.get("scale", 2)
    wanted = "an integer factor from 1 to 16 or a list of 3 of them"
    items = scale_value if isinstance(scale_value, list) else [scale_value]
    if not items or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in items):
        raise table.expected("scale", wanted, scale_value)
    try:
        scale = parse_scale(scale_value, source="scale")
        integer_scale(scale, source="scale")
    except InputError:
        raise table.expected("scale", f"{wanted} (degradations work on whole blocks of HR voxels)", scale_value) from None
    degradation = table.string("degradation", default=DEFAULT_DEGRADATION)
    options = table.scalars("degradation_options")
    seed = table.integer("seed", default=0, minimum=0)
    _check_degradation(table, degradation=degradation, options=options, pm=pm)
    primary_metric = _primary_metric(table, pm=pm)
    return TrackSpec(
        name=name,
        kind=str(kind),
        test=str(roles["test"]),
        train=roles["train"],
        degradation=str(degradation),
        degradation_options=options,
        seed=int(seed),
        scale=scale,
        description=str(table.string("description", default="")),
        models_from=table.string("models_from"),
        folds=folds,
        primary_metric=primary_metric,
    )


def _fold_scheme(table: Table, *, kind: str) -> str | int | None:
    """``folds``: ``"subject"`` (the default of a cv track) or a number of subject groups >= 2."""
    if isinstance(table.data.get("folds"), int) and not isinstance(table.data.get("folds"), bool):
        return table.integer("folds", minimum=2)
    if "folds" in table.data and not isinstance(table.data["folds"], str):
        raise table.expected("folds", '"subject" or a number of subject groups (an integer >= 2)', table.data["folds"])
    return table.string("folds", default="subject" if kind == "cv" else None, choices=FOLD_SCHEMES)


def _primary_metric(table: Table, *, pm: PluginManager) -> str:
    """The track's ``primary_metric``: a ranked column (one with a better direction) that an
    installed metric declares; :data:`~srbench.defaults.DEFAULT_PRIMARY_METRIC` when absent."""
    from srbench.metric_columns import declared_columns

    name = table.string("primary_metric", default=DEFAULT_PRIMARY_METRIC)
    ranked = {column.name for column in declared_columns(pm).values() if column.direction is not None}
    if name not in ranked:
        raise table.error("primary_metric", f"{quoted(name)} is not a ranked column of an installed metric"
                                            f"{did_you_mean(str(name), ranked)}")
    return str(name)


def _check_degradation(table: Table, *, degradation: str, options: Mapping[str, Any], pm: PluginManager) -> None:
    names = pm.names("degradation")
    if degradation not in names:
        raise table.error("degradation", f"unknown degradation {quoted(degradation)}{did_you_mean(degradation, names)}")
    configure(pm.get("degradation", degradation), options, table=table)


def configure(degradation: Any, options: Mapping[str, Any], *, table: Table | None = None) -> Any:
    """``degradation`` configured with ``options`` (through its optional ``with_options``).

    Raises an InputError naming the table's ``degradation_options`` when the options do
    not fit (a degradation without ``with_options`` takes none).
    """
    if not options:
        return degradation
    with_options = capabilities.with_options_method(degradation)
    try:
        if with_options is None:
            raise InputError(f"degradation '{degradation.name}' takes no options")
        return with_options(dict(options))
    except InputError as exc:
        if table is None:
            raise
        raise table.error("degradation_options", str(exc)) from None
    except (TypeError, ValueError) as exc:
        problem = f"degradation '{degradation.name}' refused its options ({exc})"
        raise (table.error("degradation_options", problem) if table is not None else InputError(problem)) from None
