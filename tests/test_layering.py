"""srkit's imports point down: no module imports one of a higher layer, and there is no import
circle, counting imports inside functions and under ``TYPE_CHECKING``.

Run as a script (``python tests/test_layering.py``) to print the layers and what each module
imports: the drawing of the imports that README's "Where things live" shows.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "srkit"

#: bottom first; a module belongs to the layer of the longest prefix that names it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("srkit.errors", "srkit.version", "srkit.hookspecs")),
    ("contract", ("srkit.config", "srkit.interfaces", "srkit.registry", "srkit.plugins")),
    ("toolbox", ("srkit.atomic_files", "srkit.imageio", "srkit.devices", "srkit.memory", "srkit.threads",
                 "srkit.writable", "srkit.metrics", "srkit.degradations", "srkit.data", "srkit.nn",
                 "srkit.run_folder")),
    ("weights", ("srkit.weights",)),
    ("inference", ("srkit.inference",)),
    ("workflows", ("srkit.training", "srkit.evaluation")),
    ("surfaces", ("srkit", "srkit.api", "srkit.builtin", "srkit.testing", "srkit.cli")),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The srkit modules ``path`` imports anywhere in it (the package itself not counted)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    found = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != "srkit":
            found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def layer_of(module: str) -> int:
    best, layer = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), index
    return layer


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    assert [m for m in graph() if layer_of(m) < 0] == []


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for source, targets in graph().items() for target in sorted(targets)
              if layer_of(target) > layer_of(source)]
    assert upward == []


def test_there_is_no_import_circle() -> None:
    assert circles(graph()) == []


def test_no_module_has_a_module_level_getattr() -> None:
    shims = [name for name, path in modules().items()
             if any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
                    for node in ast.parse(path.read_text()).body)]
    assert shims == []


def draw() -> str:
    """The layers top down, each module with the srkit modules it imports."""
    edges = graph()
    lines = []
    for index in reversed(range(len(LAYERS))):
        lines.append(f"{LAYERS[index][0]}:")
        for module in sorted(m for m in edges if layer_of(m) == index):
            below = ", ".join(sorted(edges[module])) or "-"
            lines.append(f"  {module} -> {below}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(draw() + "\n")
