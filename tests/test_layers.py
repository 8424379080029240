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
