"""The shape of the package, checked: lib/ by stage, no Dagster in lib/, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "spendsense_dagster"
LIB = PACKAGE_ROOT / "lib"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE_ROOT.rglob("*.py")}


def _imported_modules(path: Path) -> set[str]:
    """Every spendsense_dagster module a file imports, anywhere in it (function-level imports too)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` imports the module; `from module import name` the module.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        imported |= {name for name in names if name in MODULES}
    return imported


IMPORTS = {name: _imported_modules(path) for name, path in MODULES.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None. Iterative DFS with colours."""
    colour = dict.fromkeys(graph, "white")
    for start in sorted(graph):
        if colour[start] != "white":
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = "grey"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = "black"
                stack.pop()
                path.pop()
            elif colour[child] == "grey":
                return path[path.index(child) :] + [child]
            elif colour[child] == "white":
                colour[child] = "grey"
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    # A package's __init__ importing its own submodules is not a cycle worth failing on; none do.
    assert _find_cycle(IMPORTS) is None, f"import cycle: {' -> '.join(_find_cycle(IMPORTS) or [])}"


def test_lib_holds_only_stage_packages():
    loose = sorted(path.name for path in LIB.glob("*.py") if path.name != "__init__.py")
    assert loose == [], f"modules directly in lib/ (put them in a stage package): {loose}"
    packages = sorted(path.name for path in LIB.iterdir() if (path / "__init__.py").exists())
    assert packages == ["core", "evaluate", "ingest", "recommend", "review", "synthetic"]


@pytest.mark.parametrize(
    "module", sorted(name for name in MODULES if name.startswith("spendsense_dagster.lib"))
)
def test_lib_never_imports_dagster(module):
    tree = ast.parse(MODULES[module].read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert not imported & {"dagster", "dagster_dbt", "dagster_webserver"}, f"{module} imports Dagster"
    assert not any(name.startswith("spendsense_dagster.defs") for name in IMPORTS[module])


def test_core_depends_on_no_other_stage():
    for name in (name for name in MODULES if name.startswith("spendsense_dagster.lib.core")):
        others = {module for module in IMPORTS[name] if not module.startswith("spendsense_dagster.lib.core")}
        assert not others, f"{name} imports {sorted(others)}: core must not depend on a stage"
