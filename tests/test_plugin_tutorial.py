"""docs/plugins.md's tutorial works when followed literally: its §2 code blocks are applied
to a fresh `srbench new-plugin mymethod` scaffold exactly as the prose says (the HTML
comments before the blocks name the file and the edit), then the scaffold's own tests
and the §3 check commands run against the result through a real entry point."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "plugins.md"
NAME = "mymethod"

DIRECTIVE = re.compile(r"<!-- tutorial: (?P<op>[\w-]+) (?P<args>.*?) -->\n(?:\n?```python\n(?P<code>.*?)```)?", re.S)


def tutorial_edits(text: str) -> list[tuple[str, str, str]]:
    """``(operation, arguments, code)`` for every tutorial directive of the guide, in order."""
    return [(m["op"], m["args"].strip(), m["code"] or "") for m in DIRECTIVE.finditer(text)]


def apply_edit(plugin: Path, op: str, args: str, code: str) -> None:
    """Apply one directive to the scaffold in ``plugin`` (fails loudly when it does not fit)."""
    relative, _, rest = args.partition(" ")
    path = plugin / relative
    source = path.read_text()
    if op == "append":
        source = source.rstrip("\n") + "\n\n\n" + code
    elif op == "replace-line":
        assert source.count(rest + "\n") == 1, f"{relative}: line {rest!r} not found exactly once"
        source = source.replace(rest + "\n", code)
    elif op == "replace-function":
        match = re.search(rf"^def {re.escape(rest)}\(.*?(?=^\S)", source, re.S | re.M)
        assert match, f"{relative}: no function {rest}"
        source = source[: match.start()] + code + "\n\n" + source[match.end():]
    elif op == "delete-lines":
        for needle in [n.strip() for n in rest.split("|") if n.strip()]:
            lines = source.splitlines(keepends=True)
            hits = [line for line in lines if needle in line]
            assert len(hits) == 1, f"{relative}: {needle!r} is on {len(hits)} lines, expected 1"
            source = "".join(line for line in lines if needle not in line)
    else:
        raise AssertionError(f"unknown tutorial directive {op!r}")
    path.write_text(source)


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.index("\n### ", start + len(heading))
    return text[start:end]


def environment(site: Path, plugin: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SRBENCH_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(plugin), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["OMP_NUM_THREADS"] = "1"
    return env


def run(args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.mark.slow
def test_tutorial_section_2_and_3_work_on_a_fresh_scaffold(tmp_path):
    text = GUIDE.read_text(encoding="utf-8")
    edits = tutorial_edits(section(text, "### 2. Put your method in"))
    assert [op for op, _, _ in edits] == ["append", "replace-line", "replace-function", "delete-lines"]
    assert all(code for op, _, code in edits if op != "delete-lines")

    plugin = tmp_path / f"srbench-mri-{NAME}"
    env = environment(tmp_path / "site", plugin)
    made = run([sys.executable, "-m", "srbench", "new-plugin", NAME, "--dir", str(plugin)], cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    for edit in edits:
        apply_edit(plugin, *edit)
    trainer = (plugin / f"srbench_{NAME}" / "trainer.py").read_text()
    assert "ResidualUpsampler" not in trainer and "layers" not in trainer.split("MINIMUMS")[0]

    # installed the way pip would: a dist-info with the scaffold's entry point
    info = tmp_path / "site" / f"srbench_mri_{NAME}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: srbench-mri-{NAME}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[srbench]\n{NAME} = srbench_{NAME}.plugin\n")

    tests = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=plugin, env=env)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "test_network_maps_lr_patches_to_hr_patches" not in tests.stdout  # passed, so not reported

    commands = [line.split("#")[0].strip() for line in section(text, "### 3. Install and check").splitlines()]
    checks = [c for c in commands if c.startswith("srbench plugins")]
    assert f"srbench plugins --check {NAME}" in checks and f"srbench plugins --check {NAME} --full" in checks
    for command in checks:
        result = run([sys.executable, "-m", *shlex.split(command)], cwd=tmp_path, env=env)
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
        if "--check" in command:
            assert " 0 failed" in result.stdout.splitlines()[-1]
