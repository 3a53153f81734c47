"""Every hook is documented (docstring, docs/plugins.md) and tested; the generated parts of
docs/plugins.md match the code (regenerate with `python -m srbench.testing.docgen docs/plugins.md`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from srbench import hookspecs
from srbench.plugins import REGISTRATION_HOOKS, hook_names
from srbench.testing import docgen
from srbench.testing.checks import CHECKS

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "plugins.md"

#: hook → the tests exercising it through a real entry point (path::function)
HOOK_TESTS: dict[str, tuple[str, ...]] = {
    "register_models": ("tests/test_plugin_hooks.py::test_register_models_hook",
                        "tests/test_plugin_hooks.py::test_every_hook_through_the_command_line"),
    "register_trainers": ("tests/test_plugin_hooks.py::test_register_trainers_hook",
                          "tests/test_plugin_hooks.py::test_every_hook_through_the_command_line"),
    "register_datasets": ("tests/test_plugin_hooks.py::test_register_datasets_hook",
                          "tests/test_plugin_hooks.py::test_every_hook_through_the_command_line"),
    "register_metrics": ("tests/test_plugin_hooks.py::test_register_metrics_hook",
                         "tests/test_plugin_hooks.py::test_every_hook_through_the_command_line"),
    "register_degradations": ("tests/test_plugin_hooks.py::test_register_degradations_hook",
                              "tests/test_plugin_hooks.py::test_every_hook_through_the_command_line"),
    "register_commands": ("tests/test_plugin_hooks.py::test_register_commands_hook",
                          "tests/test_plugin_isolation.py::test_register_commands_failure_is_guarded"),
}


def test_hooks_are_found():
    assert hook_names()[:1] == ["register_models"] and "register_commands" in hook_names()
    assert set(REGISTRATION_HOOKS) <= set(hook_names())


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_docstring_saying_when_it_is_called(hook):
    doc = (getattr(hookspecs, hook).__doc__ or "").strip()
    assert len(doc.split()) >= 10, f"hook {hook} needs a docstring"
    assert "Called" in doc, f"the docstring of {hook} must say when it is called"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_in_the_plugin_guide(hook):
    assert f"### `{hook}(" in GUIDE.read_text(encoding="utf-8"), f"{hook} is missing from docs/plugins.md"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_test(hook):
    assert hook in HOOK_TESTS, f"hook {hook} has no test: add one and list it in HOOK_TESTS"
    for reference in HOOK_TESTS[hook]:
        path, _, function = reference.partition("::")
        tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert function in defined, f"{reference} (test of {hook}) does not exist"


def test_generated_sections_match_the_code():
    text = GUIDE.read_text(encoding="utf-8")
    assert docgen.update(text) == text, "docs/plugins.md is out of date: run `python -m srbench.testing.docgen docs/plugins.md`"


def test_docgen_check_detects_a_stale_guide(tmp_path, capsys):
    stale = tmp_path / "plugins.md"
    stale.write_text(GUIDE.read_text(encoding="utf-8").replace("### `register_metrics(", "### `register_metricz(", 1))
    assert docgen.main(["--check", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert docgen.main([str(stale)]) == 0
    assert docgen.main(["--check", str(stale)]) == 0
    broken = tmp_path / "broken.md"
    broken.write_text("# no markers\n")
    assert docgen.main([str(broken)]) == 2


def test_every_check_is_documented():
    text = GUIDE.read_text(encoding="utf-8")
    for check in CHECKS:
        assert len(check.description.split()) >= 5, f"check {check.kind}/{check.name} needs a docstring"
        assert f"| {check.kind} | `{check.name}` |" in text


def test_the_readme_links_to_the_guide():
    assert "docs/plugins.md" in (REPO / "README.md").read_text(encoding="utf-8")


def test_every_training_option_has_a_unit_and_a_description_in_the_guide():
    import dataclasses

    from srbench.training.config import TrainingConfig

    names = [f.name for f in dataclasses.fields(TrainingConfig)]
    assert set(docgen.CONFIG_UNITS) == set(names), "give every TrainingConfig field a unit in docgen.CONFIG_UNITS"
    table = docgen.config_table()
    for name in names:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        unit, meaning = [cell.strip() for cell in row.split(" | ")[3:5]]
        assert unit and meaning.rstrip(" |"), f"{name}: unit or description missing (TrainingConfig docstring)"
    assert table in GUIDE.read_text(encoding="utf-8")
