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
        for name, table in entries.items():
            lines.append(f"[{_string(top)}.{_string(name)}]")
            if isinstance(table, dict):
                lines.extend(f"{_string(k)} = {_toml_value(v)}" for k, v in table.items())
            else:
                lines[-1] = f"[{_string(top)}]\n{_string(name)} = {_toml_value(table)}"
    return "\n".join(lines) + "\n"


# -- the grammar ------------------------------------------------------------------------------------
_paths = st.one_of(
    st.just([SUBJECT]), st.just(SUBJECT), st.just(["*.nii.gz"]), st.just(["/etc/passwd"]), st.just([]),
    st.just(["missing.nii.gz"]), st.just(["../" * 12 + "etc/hosts"]), st.just(["{subject}/x.nii.gz"]), _value,
)
_scale = st.one_of(
    st.sampled_from([2, 3, 1, 2.0, 1.5, 2.5, [2, 2, 1], [2, 2], [1.5, 2, 2], 0, -2, "2", "two", True]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(2**70), max_value=2**70), _value,
)
_degradation = st.one_of(st.sampled_from(["paper-linear", "kspace", "blur-noise", "paper-linaer", ""]), _value)
_select = st.one_of(st.sampled_from(["0:1", ":1", "1:", "a:b", "0:1:2", "5:9", ":", "-1:"]), _value)


@st.composite
def _dataset(draw) -> dict:
    table: dict = {}
    for key, strategy in (
        ("paths", _paths), ("contrast", st.one_of(st.just("T1w"), _value)), ("anatomy", st.one_of(st.just("brain"), _value)),
        ("select", _select), ("root", st.one_of(st.sampled_from(["config", "data-root", "elsewhere"]), _value)),
        ("description", _value), ("bids", _value), ("reader", st.one_of(st.sampled_from(["nifti", "bids", "niftii"]), _value)),
        ("tset", _value),
    ):
        if draw(st.booleans() if key in ("paths", "contrast", "anatomy") else st.integers(0, 5).map(lambda n: n == 0)):
            table[key] = draw(strategy)
    if draw(st.integers(0, 6)) == 0:
        return draw(_value)
    return table


@st.composite
def _track(draw, dataset_names: list[str]) -> dict:
    reference = st.one_of(st.sampled_from(dataset_names or ["corpus-test"]), _value)
    table: dict = {}
    for key, strategy, usual in (
        ("test", reference, True), ("train", reference, False), ("kind", st.one_of(st.sampled_from(["ood", "insample", "other"]), _value), True),
        ("scale", _scale, False), ("degradation", _degradation, False), ("description", _value, False),
        ("models_from", st.one_of(_bare, _value), False), ("tset", _value, False),
    ):
        if draw(st.booleans() if usual else st.integers(0, 3).map(lambda n: n == 0)):
            table[key] = draw(strategy)
    return table


@st.composite
def documents(draw) -> str:
    dataset_names = draw(st.lists(st.one_of(_bare, _weird_name), min_size=0, max_size=2, unique=True))
    datasets = {name: draw(_dataset()) for name in dataset_names}
    track_names = draw(st.lists(st.one_of(_bare, _weird_name), min_size=0, max_size=2, unique=True))
    tracks = {name: draw(_track(dataset_names)) for name in track_names}
    doc: dict = {}
    if datasets or draw(st.booleans()):
        doc["datasets"] = datasets if draw(st.integers(0, 8)) else draw(_value)
    if tracks or draw(st.booleans()):
        doc["tracks"] = tracks if draw(st.integers(0, 8)) else draw(_value)
    if draw(st.integers(0, 6)) == 0:
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


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=documents())
def test_any_document_is_parsed_or_refused_in_one_line(text, folder, plugins, capfd):
    config = folder / "datasets.toml"
    config.write_text(text, encoding="utf-8")
    capfd.readouterr()
    try:
        parsed = load_config(config)
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
        load_config(config)
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
    parsed = load_config(config)
    assert [t.name for t in parsed.select_tracks("all")] == ["corpus"]
    config.write_text(_document({"datasets": 5, "tracks": {"corpus": {"test": "corpus-test"}}}))
    with pytest.raises(InputError, match="datasets.toml"):
        load_config(config)
