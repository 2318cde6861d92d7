"""The shape of the code, checked: no import cycle anywhere in the app or the training module (imports made only
for type checking included), and no module longer than a reader can hold in mind. The layer and no-TensorFlow
rules are import-linter contracts (pyproject.toml), run by scripts/test.sh."""

from __future__ import annotations

from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")  # the dev extra (import-linter) brings it; the base install has none

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 450


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over the module graph: every group of modules that import each other in a ring."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


@pytest.mark.parametrize("package", ["app", "model_training"])
def test_no_import_cycle(package: str) -> None:
    graph = grimp.build_graph(package, exclude_type_checking_imports=False)
    assert strongly_connected(graph) == []


def test_strongly_connected_finds_a_ring() -> None:
    """The cycle finder itself: a ring of three modules and a self-contained one."""

    class Ring:
        modules = {"a", "b", "c", "d"}
        edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, module: str) -> set[str]:
            return self.edges[module]

    assert strongly_connected(Ring()) == [["a", "b", "c"]]  # type: ignore[arg-type]


def test_no_module_is_too_long() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for package in ("app", "model_training")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}
