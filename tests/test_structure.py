"""The layout stays as the README draws it: one room per concern, no import cycle, the synthetic
kit out of production code, Dagster kept out of the pure packages, modules short enough to read
in one sitting, and a table-to-file index that lists every warehouse table."""

from __future__ import annotations

import ast
import re

import pytest

from tests.paths import ROOT_DIR

PACKAGE = ROOT_DIR / "pipelines"
# Pure logic: no Dagster import anywhere in these packages (testable without Dagster).
PURE = ("parsing", "growth", "sql_engine", "publishing", "ingestion", "reports", "synthetic")
# Only the command line may reach the synthetic kit, and only inside its kit commands.
KIT_DOORS = {"pipelines.cli"}
MAX_MODULE_LINES = 400


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT_DIR).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _imports(tree: ast.Module, top_level_only: bool = False) -> set[str]:
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


MODULES = _modules()


def _internal(tree, top_level_only=False) -> set[str]:
    return {m for m in _imports(tree, top_level_only) if m in MODULES}


def test_no_import_cycle():
    # Every import counts, lazy ones too: a cycle hidden inside a function is still a cycle.
    graph = {name: _internal(tree) - {name} for name, tree in MODULES.items()}
    # A package importing its own submodule through __init__ is not a cycle of meaning.
    graph = {n: {d for d in deps if not n.startswith(d + ".")} for n, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_production_code_never_imports_the_synthetic_kit():
    offenders = []
    for name, tree in MODULES.items():
        if name.startswith("pipelines.synthetic") or name in KIT_DOORS:
            continue
        if any(m.startswith("pipelines.synthetic") for m in _imports(tree)):
            offenders.append(name)
    assert not offenders, f"production modules import pipelines.synthetic: {offenders}"
    # The CLI reaches the kit only lazily, inside the kit's own commands.
    assert not any(m.startswith("pipelines.synthetic") for m in _imports(MODULES["pipelines.cli"], True))


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_do_not_import_dagster(package):
    offenders = [name for name, tree in MODULES.items()
                 if name.startswith(f"pipelines.{package}") and any(
                     m == "dagster" or m.startswith("dagster.") for m in _imports(tree))]
    assert not offenders


def test_no_module_over_the_reading_limit():
    long = {str(p.relative_to(ROOT_DIR)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these by meaning: {long}"


def test_readme_layout_names_every_package():
    readme = (ROOT_DIR / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    packages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    missing = [p for p in packages if not re.search(rf"^\s+{p}/", layout, re.M)]
    assert not missing, f"README layout lacks {missing}"


def test_table_index_lists_every_table_with_the_file_that_builds_it():
    from pipelines.table_index import render_index, table_index

    index = table_index()
    assert len(index) >= 42
    for table, path in index.items():
        assert (ROOT_DIR / path).is_file(), (table, path)
    doc = (ROOT_DIR / "docs" / "tables.md").read_text(encoding="utf-8")
    assert render_index() == doc, "docs/tables.md is stale: run `python -m pipelines.table_index > docs/tables.md`"


def test_no_function_over_60_lines_in_the_ingestion_path():
    paths = [*PACKAGE.glob("ingestion/**/*.py"), *PACKAGE.glob("parsing/*.py"), PACKAGE / "assets" / "ingest.py"]
    long = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(ROOT_DIR)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long
