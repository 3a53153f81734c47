"""Every hook is documented (docstring, docs/plugins.md) and called by the test suite; the
generated parts of docs/plugins.md match the code (regenerate with
`python -m srbench.testing.docgen docs/plugins.md`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from srbench import hookspecs
from srbench.plugins import REGISTRATION_HOOKS, hook_names
from srbench.testing import docgen
from srbench.testing.checks import CHECKS
from tests import hook_calls

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "plugins.md"


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


def test_every_hook_is_called_by_the_suite(request):
    """Run last (tests/conftest.py): the hooks that no in-process test called (tests/hook_calls.py)."""
    if not hook_calls.whole_default_suite(request.config):
        pytest.skip("judges only a run of the whole default suite (a subset calls fewer hooks)")
    never = [hook for hook in hook_names() if hook not in hook_calls.CALLED]
    assert not never, f"no test called these hooks through an srbench plugin manager: {', '.join(never)}"
