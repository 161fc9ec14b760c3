"""The import rules of docs/architecture.md, read from the source: no import circles among our
modules, no private names taken across modules, and core/ free of Django."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("llmfallback", "congress", "d8site")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(name: str, path: Path, known: dict) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import in the file, nested ones too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            out += [(m, []) for m in submodules]
            rest = [n for n in names if f"{base}.{n}" not in known]
            if rest:  # names of the module itself, not only its submodules
                out.append((base, rest))
    return [(m, names) for m, names in out if m in known]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {n: {m for m, _ in imports(n, p, known) if m != n} for n, p in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_in_a_circle():
    assert cycles(graph()) == []


def test_no_private_name_is_taken_across_modules():
    known = modules()
    taken = [
        f"{name} takes {module}.{n}"
        for name, path in known.items()
        for module, names in imports(name, path, known)
        for n in names
        if n.startswith("_") and not n.startswith("__") and module != name
    ]
    assert taken == []


def test_core_imports_nothing_of_django_or_of_the_rest_of_the_project():
    for path in (ROOT / "llmfallback" / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith(("django", "rest_framework")), path
                if node.module.startswith("llmfallback"):
                    assert node.module.startswith("llmfallback.core"), path


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "llmfallback" or len(parts) == 1:
        return parts[0]
    return parts[1] if (ROOT / "llmfallback" / parts[1]).is_dir() else "llmfallback"


# The lower rooms and the only rooms each may import (docs/architecture.md); "llmfallback" is
# the top-level modules (services, selectors, manager...), d8site the project's own settings.
MAY_IMPORT = {
    "core": set(),
    "providers": {"core"},
    "simulator": set(),
    "models": {"core"},
    "congress": {"d8site"},
}
FACES = {"http", "dashboard", "admin", "management"}  # what people and agents call


def test_each_lower_room_imports_only_what_it_may():
    broken = [
        f"{a} -> {b}"
        for a, targets in graph().items()
        for b in targets
        if room_of(a) in MAY_IMPORT
        and room_of(b) != room_of(a)
        and room_of(b) not in MAY_IMPORT[room_of(a)]
    ]
    assert broken == []


def test_only_faces_and_urls_import_the_faces():
    broken = [
        f"{a} -> {b}"
        for a, targets in graph().items()
        for b in targets
        if room_of(b) in FACES
        and room_of(a) not in FACES
        and a not in ("llmfallback.urls", "d8site.urls")
    ]
    assert broken == []
