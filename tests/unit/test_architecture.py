"""The house plan of ARCHITECTURE.md, checked from the imports so that it cannot rot.

Every import in ``src/abook`` counts: module level, inside functions (the lazy ones that keep
``abook --help`` fast) and under ``TYPE_CHECKING``. An import may go to its own layer or a lower
one, never up; and no set of modules may import each other in a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "abook"

# Lowest first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("abook", "abook.errors", "abook.models", "abook.config", "abook.progress", "abook.http",
              "abook.torrent", "abook.times")),
    ("domain", ("abook.matching", "abook.library", "abook.acquisition", "abook.bibliography", "abook.tidy",
                "abook.queries", "abook.naming")),
    ("adapters", ("abook.clients", "abook.sources", "abook.state", "abook.migrations", "abook.search",
                  "abook.guard", "abook.notify")),
    ("workflows", ("abook.workflows",)),
    ("wiring", ("abook.services",)),
    ("shell", ("abook.runtime", "abook.render", "abook.cli", "abook.__main__", "abook.events", "abook.metrics")),
]


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(name: str) -> int:
    best, rank = -1, None
    for i, (_label, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{name} is in no layer of ARCHITECTURE.md: add it to LAYERS"
    return rank


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every abook module ``name`` imports (a ``from pkg import sub`` counts as ``pkg.sub``)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "abook")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "abook":
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & known
            out.update(subs or {target})
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def test_every_module_is_in_a_layer():
    for name in modules():
        layer(name)


def test_no_import_goes_up_a_layer():
    upward = [
        f"{src} ({LAYERS[layer(src)][0]}) imports {dst} ({LAYERS[layer(dst)][0]})"
        for src, targets in graph().items() for dst in targets if layer(dst) > layer(src)
    ]
    assert not upward, "\n".join(sorted(upward))


def test_the_rules_the_structure_issue_names():
    g = graph()
    lower = [m for m in g if m.startswith(("abook.clients", "abook.sources", "abook.state", "abook.matching",
                                             "abook.library"))]
    for m in lower:
        bad = {d for d in g[m] if d.startswith(("abook.workflows", "abook.services"))}
        assert not bad, f"{m} imports {bad}"
    for m in (m for m in g if m.startswith("abook.workflows")):
        bad = {d for d in g[m] if d in ("abook.services", "abook.cli", "abook.runtime", "abook.render")}
        assert not bad, f"{m} imports {bad}"


def test_no_import_loop():
    g = graph()
    # Tarjan's strongly connected components: any component of two or more modules is a loop.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in g[v]:
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
                loops.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert not loops, f"import loops: {loops}"


@pytest.mark.parametrize("module", ["abook.matching", "abook.library", "abook.acquisition", "abook.bibliography",
                                    "abook.tidy", "abook.queries", "abook.naming"])
def test_pure_modules_do_no_io(module):
    g = graph()
    members = [m for m in g if m == module or m.startswith(module + ".")]
    for m in members:
        bad = {d for d in g[m] if d in ("abook.http", "abook.state") or d.startswith(("abook.clients", "abook.sources"))}
        assert not bad, f"{m} is pure but imports {bad}"
