"""Safe loading: no file given to srbench can make it run code.

- Checkpoints are read only from safetensors; pickles (``torch.save`` files, under any
  name) are refused with one line, and their payload never runs.
- Any other use of ``torch.load`` in srbench or a plugin passes ``weights_only=True``;
  nothing calls ``pickle.load``, ``eval``, ``exec`` and the like (checked on the source).
- Configuration files are parsed with ``tomllib`` and their strings stay strings.
- ``SRBENCH_PLUGINS_ALLOW`` limits which plugins are imported at all.
"""

from __future__ import annotations

import ast
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import torch

from srbench.errors import InputError

REPO = Path(__file__).resolve().parents[1]
#: module.function calls that deserialise or evaluate arbitrary code
FORBIDDEN_CALLS = {
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"),
    ("cPickle", "load"), ("cPickle", "loads"), ("dill", "load"), ("dill", "loads"),
    ("marshal", "load"), ("marshal", "loads"), ("shelve", "open"),
    ("yaml", "load"), ("yaml", "unsafe_load"), ("jsonpickle", "decode"),
}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__"}


class _Payload:
    """Unpickling this creates ``path`` (a harmless stand-in for arbitrary code)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _source_files() -> list[Path]:
    files = sorted((REPO / "srbench").rglob("*.py"))
    for package in sorted((REPO / "plugins").glob("*/srbench_*")):
        files += sorted(package.rglob("*.py"))
    return files


def _dotted(node: ast.AST) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ()  # a call on a computed value, e.g. ``net.to(device).eval()``
    parts.append(node.id)
    return tuple(reversed(parts))


def _unsafe_calls(path: Path, *, root: Path = REPO) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    aliases = {}  # local name -> (module, function) for `from pickle import load as x`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = (node.module.split(".")[0], alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if not name:
            continue
        if len(name) == 1 and name[0] in aliases:
            name = aliases[name[0]]
        where = f"{path.relative_to(root)}:{node.lineno}"
        if len(name) == 1 and name[0] in FORBIDDEN_BUILTINS:
            found.append(f"{where}: {name[0]}()")
        if len(name) >= 2 and (name[-2], name[-1]) in FORBIDDEN_CALLS:
            found.append(f"{where}: {'.'.join(name)}()")
        if name[-2:] == ("torch", "load"):
            weights_only = [k for k in node.keywords if k.arg == "weights_only"]
            if not weights_only or not (isinstance(weights_only[0].value, ast.Constant) and weights_only[0].value.value is True):
                found.append(f"{where}: torch.load() without weights_only=True")
        if name[-2:] in {("np", "load"), ("numpy", "load")}:
            for keyword in node.keywords:
                if keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    found.append(f"{where}: numpy.load(allow_pickle=...)")
    return found


def test_no_source_file_unpickles_or_evaluates():
    files = _source_files()
    assert len(files) > 20, "the scan found too few source files to be meaningful"
    problems = [problem for path in files for problem in _unsafe_calls(path)]
    assert not problems, "unsafe loading in the sources:\n" + "\n".join(problems)


def test_the_scan_detects_what_it_forbids(tmp_path):
    """The scanner itself: each forbidden pattern of a sample file is reported."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import pickle, torch, numpy as np\nfrom pickle import loads as l\n"
        "pickle.load(f)\nl(b)\ntorch.load(p)\ntorch.load(p, weights_only=False)\n"
        "torch.load(p, weights_only=True)\neval('1')\nnp.load(p, allow_pickle=True)\nnp.load(p)\nnet.to(d).eval()\n"
    )
    found = _unsafe_calls(sample, root=tmp_path)
    assert [line.split(":")[1] for line in found] == ["3", "4", "5", "6", "8", "9"], found


def test_config_module_parses_with_tomllib():
    source = (REPO / "srbench" / "config" / "__init__.py").read_text()
    assert "tomllib.loads" in source or "tomllib.load" in source


# -- checkpoints ------------------------------------------------------------------------------
@pytest.fixture
def payload_files(tmp_path):
    marker = tmp_path / "PAYLOAD_RAN"
    files = {}
    for name, kwargs in (
        ("state.pt", {}),
        ("renamed.safetensors", {}),
        ("legacy.pth", {"_use_new_zipfile_serialization": False}),
        ("legacy_renamed.safetensors", {"_use_new_zipfile_serialization": False}),
    ):
        torch.save({"generator": _Payload(str(marker)), "weight": torch.zeros(2)}, tmp_path / name, **kwargs)
        files[name] = tmp_path / name
    return files, marker


def test_pickled_checkpoints_are_refused_and_never_run(payload_files):
    from srbench.io.checkpoint import load_checkpoint

    files, marker = payload_files
    for name, path in files.items():
        with pytest.raises(InputError) as error:
            load_checkpoint(path, method=None)
        message = str(error.value)
        assert str(path) in message and "\n" not in message, message
        assert "pickle" in message, f"{name}: {message}"
    assert not marker.exists(), "a pickle payload was executed"


def test_the_payload_is_real(payload_files):
    """Guard for the test above: the payload does run when unpickled unsafely."""
    files, marker = payload_files
    torch.load(files["state.pt"], weights_only=False)
    assert marker.exists()


def test_model_loading_refuses_pickles_too(payload_files):
    """A learned model's ``load`` goes through the same refusal."""
    from srbench.plugins import PluginManager

    files, marker = payload_files
    learned = [m for m in PluginManager().all("model") if getattr(m, "needs_checkpoint", False)]
    if not learned:
        pytest.skip("no learned method is installed")
    for model in learned:
        with pytest.raises(InputError, match="pickle"):
            model.load(checkpoint=files["renamed.safetensors"], device="cpu")
    assert not marker.exists()


def test_checkpoint_metadata_strings_are_never_evaluated(tmp_path):
    from srbench.io.checkpoint import load_checkpoint
    from srbench.training.checkpoint import save_checkpoint

    marker = tmp_path / "CONFIG_RAN"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    save_checkpoint(
        tmp_path / "c.safetensors", method="m", kind="model", config={"note": code}, modules={"g": torch.nn.Linear(2, 2)}, iteration=1
    )
    loaded = load_checkpoint(tmp_path / "c.safetensors", method="m")
    assert loaded.config["note"] == code
    assert not marker.exists()


def test_config_strings_are_never_evaluated(tmp_path, monkeypatch):
    from srbench.config import load_config
    from srbench.plugins import get_plugin_manager

    marker = tmp_path / "TOML_RAN"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    (tmp_path / "v.nii.gz").write_bytes(b"")
    (tmp_path / "datasets.toml").write_text(
        f'[datasets.d]\npaths = ["v.nii.gz"]\ncontrast = "{code}"\nanatomy = "brain"\ndescription = "{code}"\n\n'
        '[tracks.t]\nkind = "ood"\ntest = "d"\n'
    )
    config = load_config(tmp_path / "datasets.toml", pm=get_plugin_manager())
    assert config.datasets["d"].contrast == code
    assert not marker.exists()


# -- plugin allow list -------------------------------------------------------------------------
def _write_plugin(folder: Path, name: str) -> EntryPoint:
    (folder / f"{name}.py").write_text(
        "from pathlib import Path\nimport srbench\n"
        f"Path(__file__).with_name('{name}.imported').touch()\n\n"
        "class Model:\n"
        f"    name = '{name}-model'\n    description = 'test'\n    needs_checkpoint = False\n"
        "    def load(self, *, checkpoint=None, device='cpu'):\n        raise NotImplementedError\n\n"
        "@srbench.hookimpl\ndef register_models():\n    return [Model()]\n"
    )
    return EntryPoint(name=name, value=name, group="srbench")


def test_allow_list_imports_only_allowed_plugins(tmp_path, monkeypatch):
    from srbench.plugins import PluginManager

    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [_write_plugin(tmp_path, "allowtest_alpha"), _write_plugin(tmp_path, "allowtest_beta")]
    monkeypatch.setenv("SRBENCH_PLUGINS_ALLOW", "allowtest_alpha")
    pm = PluginManager(entry_points_override=eps, strict=True)
    assert pm.names("model") == ["allowtest_alpha-model"]
    assert (tmp_path / "allowtest_alpha.imported").exists()
    assert not (tmp_path / "allowtest_beta.imported").exists(), "a plugin outside the allow list was imported"
    assert "allowtest_beta" not in sys.modules
    skipped = {p.name: p.problem for p in pm.plugins}
    assert skipped["allowtest_beta"] == "not in SRBENCH_PLUGINS_ALLOW"


def test_allow_list_keeps_the_builtins_with_installed_plugins(monkeypatch):
    from srbench.plugins import PluginManager

    installed = PluginManager()
    third_party = sorted({p.name for p in installed.plugins if p.distribution != "srbench-mri"})
    if not third_party:
        pytest.skip("no third-party plugin is installed")
    keep = third_party[0]
    monkeypatch.setenv("SRBENCH_PLUGINS_ALLOW", keep)
    pm = PluginManager()
    loaded = {p.name for p in pm.plugins if p.problem is None}
    assert "trilinear" in pm.names("model"), "built-ins must load whatever the allow list"
    assert loaded & set(third_party) <= {keep}
    assert all(p.problem == "not in SRBENCH_PLUGINS_ALLOW" for p in pm.plugins if p.name in set(third_party) - {keep})
