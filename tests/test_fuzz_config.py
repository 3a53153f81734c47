"""Fuzzing the datasets.toml schema with hypothesis.

Random TOML documents are built from a grammar of plausible and wrong values (every key
the schema knows, some it does not, values of every TOML type, names with path
separators and control characters) and written to a file. Loading one must either give
a parsed configuration whose subjects can be listed, or raise
:class:`srbench.errors.InputError` whose message is one line naming the file: never any
other exception, and never output on stderr.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srbench.config import load_config
from srbench.plugins import get_plugin_manager
from srbench.errors import InputError

#: a valid subject the generated configurations may point at (relative to the config)
SUBJECT = "sub-01.nii.gz"

# -- TOML values and a small writer (tomllib reads, nothing in the stdlib writes) ----------------
_bare = st.sampled_from(["corpus", "corpus-test", "corpus-train", "ood", "insample", "all", "a", "T1w"])
_weird_name = st.sampled_from(
    ["", "../../escaped", "/abs/track", "a/b", "a\nb", "tab\there", "nul\x00", "..", ".", "ünïcode", "x" * 300, "a b", "\x1b[2J"]
)
_name = st.one_of(_bare, _weird_name, st.text(min_size=0, max_size=12))
_scalar = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
    _name,
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_name, inner, max_size=3)),
    max_leaves=6,
)


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _document(tables: dict) -> str:
    """``{"datasets": {name: {key: value}}, "tracks": {...}, extra top-level keys...}`` as TOML text."""
    lines = [f"{_string(k)} = {_toml_value(v)}" for k, v in tables.items() if not isinstance(v, dict)]
    for top, entries in tables.items():
        if not isinstance(entries, dict):
            continue
        loose = {name: table for name, table in entries.items() if not isinstance(table, dict)}
        if loose:
            lines.append(f"[{_string(top)}]")
            lines.extend(f"{_string(name)} = {_toml_value(value)}" for name, value in loose.items())
        for name, table in entries.items():
            if isinstance(table, dict):
                lines.append(f"[{_string(top)}.{_string(name)}]")
                lines.extend(f"{_string(k)} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def _mostly(good, bad, *, one_in: int = 5):
    """``good`` usually, ``bad`` about once in ``one_in`` draws."""
    return st.integers(0, one_in - 1).flatmap(lambda n: bad if n == one_in - 1 else good)


def _rarely(n: int):
    """True about once in ``n`` draws (hypothesis favours 0, so the rare case is the last value)."""
    return st.integers(0, n - 1).map(lambda k: k == n - 1)


# -- the grammar: plausible documents, each part wrong now and then --------------------------------
_paths = _mostly(
    st.sampled_from([[SUBJECT], SUBJECT, ["*.nii.gz"], ["sub-*.nii.gz"]]),
    st.one_of(st.sampled_from([["/etc/passwd"], [], ["missing.nii.gz"], ["../" * 12 + "etc/hosts"], ["{subject}/x.nii.gz"], ["*.toml"]]), _value),
)
_scale = _mostly(
    st.sampled_from([2, 3, 2.0, [2, 2, 1], [2, 2, 2]]),
    st.one_of(st.sampled_from([1.5, 2.5, [1.5, 2, 2], [2, 2], 0, -2, "2", "two", True, 1]), st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(2**70), max_value=2**70), _value),
)
_degradation = _mostly(st.sampled_from(["paper-linear", "kspace", "blur-noise"]), st.one_of(st.sampled_from(["paper-linaer", ""]), _value))
_select = _mostly(st.sampled_from(["0:1", ":1", "0:", ":"]), st.one_of(st.sampled_from(["a:b", "0:1:2", "5:9", "-1:", "1"]), _value))
_dataset_name = _mostly(st.sampled_from(["corpus-test", "corpus-train", "d1"]), _weird_name, one_in=8)
_track_name = _mostly(st.sampled_from(["corpus", "t1", "other"]), st.one_of(_weird_name, st.sampled_from(["all", "ood", "insample"])), one_in=8)


@st.composite
def _dataset(draw) -> dict:
    table: dict = {
        "paths": draw(_paths),
        "contrast": draw(_mostly(st.just("T1w"), _value, one_in=10)),
        "anatomy": draw(_mostly(st.just("brain"), _value, one_in=10)),
    }
    for key in ("paths", "contrast", "anatomy"):
        if draw(_rarely(12)):
            del table[key]
    for key, strategy in (
        ("select", _select), ("root", _mostly(st.just("config"), st.one_of(st.sampled_from(["data-root", "elsewhere"]), _value))),
        ("description", _mostly(st.text(max_size=20), _value)), ("bids", _value),
        ("reader", _mostly(st.just("nifti"), st.one_of(st.sampled_from(["bids", "niftii"]), _value))), ("tset", _value),
    ):
        if draw(_rarely(8)):
            table[key] = draw(strategy)
    if draw(_rarely(16)):
        return draw(_value)
    return table


@st.composite
def _track(draw, dataset_names: list[str]) -> dict:
    reference = _mostly(st.sampled_from(dataset_names or ["corpus-test"]), _value, one_in=8)
    table: dict = {"test": draw(reference), "kind": draw(_mostly(st.just("ood"), st.one_of(st.just("other"), _value), one_in=8))}
    if draw(_rarely(12)):
        del table["test"]
    for key, strategy in (
        ("train", reference), ("kind", st.just("insample")), ("scale", _scale), ("degradation", _degradation),
        ("description", _mostly(st.text(max_size=20), _value)), ("models_from", _mostly(_track_name, _value)), ("tset", _value),
    ):
        if draw(_rarely(5 if key in ("scale", "degradation") else 8)):
            table[key] = draw(strategy)
    return table


@st.composite
def documents(draw) -> str:
    dataset_names = draw(st.lists(_dataset_name, min_size=1, max_size=2, unique=True))
    datasets = {name: draw(_dataset()) for name in dataset_names}
    track_names = draw(st.lists(_track_name, min_size=1, max_size=2, unique=True))
    tracks = {name: draw(_track(dataset_names)) for name in track_names}
    doc: dict = {"datasets": draw(_value) if draw(_rarely(16)) else datasets}
    doc["tracks"] = draw(_value) if draw(_rarely(16)) else tracks
    for key in ("datasets", "tracks"):
        if draw(_rarely(20)):
            del doc[key]
    if draw(_rarely(16)):
        doc[draw(_name)] = draw(_value)
    return _document(doc)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="srbench-fuzz-config-") as name:
        path = Path(name)
        grids = np.meshgrid(*[np.linspace(-1, 1, 12)] * 3, indexing="ij")
        volume = (100 * np.exp(-sum(g**2 for g in grids))).astype(np.float32)
        nib.save(nib.Nifti1Image(volume, np.diag([1.0, 1.0, 1.0, 1.0])), str(path / SUBJECT))
        yield path


@pytest.fixture(scope="module")
def plugins():
    from srbench.plugins import PluginManager

    return PluginManager()


def _check_error(exc: InputError, config: Path) -> None:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, f"a multi-line message: {message!r}"
    assert config.name in message, f"the message does not name the file {config.name}: {message!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=documents())
def test_any_document_is_parsed_or_refused_in_one_line(text, folder, plugins, capfd):
    config = folder / "datasets.toml"
    config.write_text(text, encoding="utf-8")
    capfd.readouterr()
    try:
        parsed = load_config(config, pm=get_plugin_manager())
    except InputError as exc:
        _check_error(exc, config)
    else:
        # a parsed document's subjects can be listed, or it is refused the same way
        for track in parsed.select_tracks("all"):
            try:
                subjects = parsed.subjects(track.test, plugins)
            except InputError as exc:
                assert "\n" not in str(exc), f"a multi-line message: {exc}"
            else:
                assert all(Path(s.path).is_file() for s in subjects)
    captured = capfd.readouterr()
    assert captured.err == "", f"loading printed on stderr:\n{captured.err}\nfor:\n{text}"
    assert sorted(p.name for p in folder.iterdir()) == ["datasets.toml", SUBJECT], "loading a config wrote files"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_are_parsed_or_refused_in_one_line(data, folder, capfd):
    config = folder / "datasets.toml"
    config.write_bytes(data)
    capfd.readouterr()
    try:
        load_config(config, pm=get_plugin_manager())
    except InputError as exc:
        _check_error(exc, config)
    assert capfd.readouterr().err == ""


def test_the_grammar_reaches_both_outcomes(folder):
    """The valid corner of the grammar parses (so the fuzz test is not only refusals)."""
    config = folder / "datasets.toml"
    config.write_text(_document({
        "datasets": {"corpus-test": {"paths": [SUBJECT], "contrast": "T1w", "anatomy": "brain"}},
        "tracks": {"corpus": {"test": "corpus-test", "kind": "ood", "scale": 2}},
    }))
    parsed = load_config(config, pm=get_plugin_manager())
    assert [t.name for t in parsed.select_tracks("all")] == ["corpus"]
    config.write_text(_document({"datasets": 5, "tracks": {"corpus": {"test": "corpus-test"}}}))
    with pytest.raises(InputError, match="datasets.toml"):
        load_config(config, pm=get_plugin_manager())
