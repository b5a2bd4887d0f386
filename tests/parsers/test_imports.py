"""parsers/ has no import circle: parser modules import the base types and shared helpers,
never the registry or each other, and the registry builds from an explicit list."""

from __future__ import annotations

import ast
from pathlib import Path

import parsers

ROOT = Path(parsers.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the parsers modules it imports (at any depth, absolute imports only,
    `importlib.import_module("...")` included)."""
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 0, f"{name}: relative import"
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for nxt in graph[node]:
            if nxt == start:
                return [*trail, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*trail, nxt]))
    return None


def test_no_import_circle_in_parsers() -> None:
    graph = _imports()
    assert "parsers.builtin" in graph["parsers.registry"]
    cycles = [c for c in (_cycle_from(m, graph) for m in sorted(graph)) if c]
    assert cycles == []


def test_parser_modules_import_neither_the_registry_nor_each_other() -> None:
    graph = _imports()
    builtin = {m for m in graph if m.startswith("parsers.builtin.")}
    shared = {"parsers.builtin.template_engine", "parsers.builtin.en16931"}
    for module in sorted(builtin):
        assert "parsers.registry" not in graph[module], module
        assert graph[module] & builtin <= shared, (module, graph[module] & builtin)
