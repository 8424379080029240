"""Dependencies point one way (DESIGN.md): nothing below app imports app or web.

Read from the source with ``ast``, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imported_packages(folder: Path) -> dict[str, set[str]]:
    """Module path → the top-level packages it imports (absolute imports only)."""
    out: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        tops: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
        out[str(path.relative_to(REPO))] = tops
    return out


@pytest.mark.parametrize("package", ["ingest", "eval", "retrieval", "inference"])
def test_packages_below_app_import_neither_app_nor_web(package):
    offenders = {path: sorted(tops & {"app", "web"}) for path, tops in imported_packages(REPO / package).items()
                 if tops & {"app", "web"}}
    assert offenders == {}


def imported_modules(folder: Path) -> dict[str, set[str]]:
    """Module path → the full dotted names it imports (absolute imports only)."""
    out: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        out[str(path.relative_to(REPO))] = names
    return out


def test_the_top_of_app_holds_only_what_every_concern_shares():
    """Everything else lives in a package named for its concern (accounts, library, answering, ...)."""
    loose = {p.stem for p in (REPO / "app").glob("*.py")}
    assert loose == {"__init__", "__main__", "settings", "services", "errors", "shapes", "progress", "tracing"}
    packages = {p.name for p in (REPO / "app").iterdir() if (p / "__init__.py").exists()}
    assert packages == {"accounts", "answering", "cli", "db", "evaluation", "library", "runtime"}


def test_only_the_command_line_reaches_up_to_web_and_nothing_reaches_into_the_command_line():
    for path, names in imported_modules(REPO / "app").items():
        if path.startswith("app/cli/") or path == "app/__main__.py":
            continue
        assert not {n for n in names if n == "web" or n.startswith("web.")}, path
        assert not {n for n in names if n.startswith("app.cli")}, path


def test_the_sql_tables_depend_on_nothing_above_them():
    for path, names in imported_modules(REPO / "app" / "db").items():
        if "/migrations/" in path:
            continue
        above = {n for n in names if n.startswith("app.") and not n.startswith("app.db")}
        assert above <= {"app.errors"}, (path, above)
