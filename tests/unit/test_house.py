"""The house rules the README's architecture section states, checked on the source itself:
short modules and functions, and imports that point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "leadloop"
MODULES = sorted(SRC.rglob("*.py"))
EDGES = ("cli", "serve", "__main__")  # call the pipeline; nothing imports them but each other
WIRING = ("pipeline",)
BASE = ("data", "config", "errors", "columns")  # the bottom layer: imports no stage


def _name(path: Path) -> str:
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _top(module: str) -> str:
    """The layer a leadloop module belongs to: its first part under leadloop."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_modules_and_functions_are_short(path: Path) -> None:
    """It keeps every module under 400 lines and every function under 60."""
    text = path.read_text()
    assert len(text.splitlines()) <= 400
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            assert node.end_lineno - node.lineno + 1 <= 60, f"{node.name} is too long"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_imports_point_one_way(path: Path) -> None:
    """It imports MLflow only in tracking/ (and the logged model's own code), the edges only
    from the edges, the pipeline only from the edges, and no stage from the base layer."""
    me = _top(_name(path))
    ours = {_top(m) for m in _imports(path) if m.startswith("leadloop.")}
    if any(m == "mlflow" or m.startswith("mlflow.") for m in _imports(path)):
        assert me == "tracking" or _name(path) == "leadloop.model.pyfunc"
    if me not in EDGES:
        assert not ours & set(EDGES), f"{_name(path)} imports an edge"
    if me not in (*EDGES, *WIRING):
        assert not ours & set(WIRING), f"{_name(path)} imports the pipeline"
    if me in BASE:
        assert ours <= {*BASE, ""}, f"{_name(path)} imports {sorted(ours - set(BASE))}"
