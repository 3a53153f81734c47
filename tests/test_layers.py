"""The package's layers, function-local imports included.

A *unit* is a first-level module or subpackage of ``srbench`` (``training``, ``cli``,
``evaluation``, ...). No two units may import each other, directly or through others, and
the inference and evaluation side never imports training.
"""

from __future__ import annotations

import ast
from pathlib import Path

import srbench

PACKAGE = Path(srbench.__file__).parent
#: units that run a trained model or score it; they read weights, never train
INFERENCE_SIDE = ("evaluation", "models", "inference", "tiling", "measurement", "verify", "runs", "predictions",
                  "scale_path", "receptive_field", "activation_memory")


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(unit, imported unit) → where, for every ``srbench`` import in the package."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" for a in node.names] if base == "srbench" else [base]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                if target.startswith("srbench.") and _unit(target) and _unit(target) != _unit(module):
                    edges.setdefault((_unit(module), _unit(target)), []).append(f"{path.name}:{node.lineno}")
    return edges


def cycles(edges: dict[tuple[str, str], list[str]]) -> list[set[str]]:
    """The strongly connected components of more than one unit (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_two_units_import_each_other():
    edges = import_edges()
    assert ("cli", "testing") in edges  # the scan sees function-local imports (plugins --check runs the kit)
    found = cycles(edges)
    detail = {tuple(sorted(c)): {f"{a}->{b}": w for (a, b), w in edges.items() if a in c and b in c} for c in found}
    assert found == [], detail


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}) == [{"a", "b", "c"}]


def test_inference_and_evaluation_never_import_training():
    edges = import_edges()
    assert {(a, b): w for (a, b), w in edges.items() if a in INFERENCE_SIDE and b == "training"} == {}
