"""Optional capabilities of plugin objects are read in one place, with documented defaults."""

from __future__ import annotations

import ast
from pathlib import Path

import srbench
from srbench import capabilities

PACKAGE = Path(srbench.__file__).parent


def declared_attributes() -> set[str]:
    return {attribute.strip("`").removesuffix("()") for _, attribute, _, _ in capabilities.OPTIONAL}


def test_no_capability_is_probed_outside_the_contract_module():
    """``getattr(obj, "<capability>", ...)`` appears only in srbench/capabilities.py."""
    names = declared_attributes()
    probes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "capabilities.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"getattr", "hasattr"}
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value in names):
                probes.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.func.id}(..., {node.args[1].value!r})")
    assert probes == []


def test_defaults_when_absent():
    class Bare:
        pass

    bare = Bare()
    assert capabilities.needs_checkpoint(bare) is False
    assert capabilities.patch_inference(bare) is True
    assert capabilities.native_scales(bare) is None
    assert capabilities.context_need_method(bare) is None and capabilities.inference_plan_method(bare) is None
    assert capabilities.masked(bare) is False and capabilities.metric_display(bare) == {}
    assert capabilities.description(bare) == "" and capabilities.name(bare) == ""
    assert capabilities.uses_seed(bare) is True and capabilities.with_options_method(bare) is None
    assert capabilities.reader_options(bare) == () and capabilities.validate_table_method(bare) is None
    assert capabilities.default_preset(bare) is None and capabilities.prepare_method(bare) is None
    assert capabilities.config_validate_method(bare) is None and capabilities.supported_api_versions(bare) is None
    assert capabilities.register_commands_hook(bare) is None


def test_every_capability_is_documented_in_the_plugin_guide():
    guide = (PACKAGE.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    for _, attribute, _, _ in capabilities.OPTIONAL:
        assert f"| {attribute} |" in guide, attribute
