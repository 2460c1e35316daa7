"""The architecture: layers (import-linter contracts), no import cycles, no private names across modules."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "geo_engine"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("geo_engine", exclude_type_checking_imports=True, cache_dir=None)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Return one cycle through each module that is on a cycle of module imports."""
    found, done = [], set()
    for module in sorted(graph.modules):
        if module in done:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                found.append([module, *chain])
                done.update(chain)
                break
    return found


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    # function-level imports count too: a cycle hidden behind a late import is still a cycle
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    g = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b"):
        g.add_module(m)
    g.add_import(importer="p.a", imported="p.b")
    g.add_import(importer="p.b", imported="p.a")
    assert _cycles(g)


def _private_imports(path: Path) -> list[str]:
    """Return ``module._name`` for each private name a file imports from another project module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in {
                "geo_engine", "curation"}:
            out += [f"{node.module}.{a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
    return out


@pytest.mark.parametrize("package", [PACKAGE, ROOT / "curation"], ids=["geo_engine", "curation"])
def test_no_private_names_across_modules(package: Path) -> None:
    found = {str(p.relative_to(ROOT)): names for p in sorted(package.rglob("*.py"))
             if (names := _private_imports(p))}
    assert found == {}


def test_private_import_finder(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("from geo_engine.ingest.vector import _Grid, public\nfrom os import _exit\n")
    assert _private_imports(f) == ["geo_engine.ingest.vector._Grid"]


def test_layer_contracts_hold() -> None:
    # the contracts are in pyproject.toml ([tool.importlinter]); lint-imports exits 0 when all hold
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
