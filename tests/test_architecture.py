"""The layers point down: no import circle and no import from a lower layer to a higher one.

Every ``import`` in ``src/unleak`` counts (module level, inside functions and under
``TYPE_CHECKING``). Layers, lowest first, as docs/architecture.md draws them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS = [
    (
        "base",
        (
            "unleak._version",
            "unleak.errors",
            "unleak._io",
            "unleak.cache",
            "unleak.recipes",
            "unleak.catalog",
        ),
    ),
    ("data", ("unleak.data",)),
    ("models", ("unleak.models",)),
    ("training", ("unleak.training", "unleak.optim")),
    ("unlearning", ("unleak.unlearning",)),
    ("defences", ("unleak.defences",)),
    ("attacks", ("unleak.attacks",)),
    ("evaluation", ("unleak.evaluation",)),
    ("report", ("unleak.report",)),
    ("experiments", ("unleak.experiments",)),
    ("cli", ("unleak.cli",)),
    ("api", ("unleak",)),  # the package itself: re-exports everything, imported by nothing
]


def modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "unleak").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def layer_of(module: str) -> int:
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[1]):
                best = (i, len(prefix))
    assert best is not None, f"{module} belongs to no layer"
    return best[0]


def edges() -> dict[str, set[str]]:
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in mods else base)
            for t in targets:
                while t and t not in mods and "." in t:
                    t = t.rpartition(".")[0]
                if t in mods and t != name:
                    graph[name].add(t)
    return graph


def test_every_module_has_a_layer():
    for m in modules():
        layer_of(m)


def test_no_import_points_up_a_layer():
    upward = [
        f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})"
        for a, targets in edges().items()
        for b in targets
        if layer_of(b) > layer_of(a)
    ]
    assert upward == [], "imports that point up a layer:\n" + "\n".join(sorted(upward))


def test_no_import_circle():
    graph = edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert circles == [], f"import circles: {circles}"


@pytest.mark.parametrize("path", sorted((SRC / "unleak").rglob("*.py")), ids=lambda p: p.name)
def test_modules_stay_small_or_say_why(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines > 400:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert "longer than" in doc, f"{path} has {lines} lines and no reason in its docstring"
