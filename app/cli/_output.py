"""How the CLI prints: exactly one JSON document on stdout with --json, tables otherwise.

Progress and logs go to stderr so that `inhouse … --json | jq` always works.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True)


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def table(title: str, columns: list[str], rows: Iterable[Iterable[Any]]) -> None:
    t = Table(title=title, show_lines=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    out.print(t)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise SystemExit(code)
