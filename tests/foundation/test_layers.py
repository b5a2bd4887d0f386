"""The layers point one way (README, "What is where"): each top-level package imports only
the packages below it, so an engine never reaches into the warehouse, the parsers never into
Dagster wiring, and nothing into the tests."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ALLOWED = {
    "pipelines": {"pipelines"},
    "storage": {"storage", "pipelines"},
    "parsers": {"parsers", "storage", "pipelines"},
    "runs": {"runs", "parsers", "storage", "pipelines"},
    "assets": {"assets", "runs", "parsers", "storage", "pipelines"},
    "reckon": {"reckon", "assets", "runs", "parsers", "storage", "pipelines", "demo"},
    "oracles": {"oracles", "pipelines"},
    "demo": {"demo", "oracles", "parsers", "storage", "pipelines"},
    "benchmarks": {"benchmarks", "demo", "oracles", "runs", "parsers", "storage", "pipelines"},
}
PROJECT = {*ALLOWED, "tests"}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(top-level project package, line) for every import in `path`, lazy ones included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {(n.split(".")[0], node.lineno) for n in names if n.split(".")[0] in PROJECT}
    return found


def test_every_package_imports_only_the_layers_below_it() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {package}"
        for layer, allowed in ALLOWED.items()
        for path in sorted((ROOT / layer).rglob("*.py"))
        for package, line in sorted(imported_packages(path))
        if package not in allowed
    ]
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    """A guard against a check that cannot fail: an engine importing storage is found."""
    module = tmp_path / "engine.py"
    module.write_text("def f():\n    from storage.warehouse import connect\n")
    assert ("storage", 2) in imported_packages(module)
