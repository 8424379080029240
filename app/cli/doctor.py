"""`inhouse doctor`: load every configured model in a child process and run it once (see app/runtime/doctor.py)."""

from __future__ import annotations

import typer

from app.cli._common import JsonOpt
from app.cli._output import emit_json, err, fail
from app.settings import Settings


def doctor(
    check: list[str] = typer.Option([], "--check", help="run only these checks (embedder, re-ranker, generator, parser)"),
    as_json: bool = JsonOpt,
) -> None:
    """Load every configured model in a child process and run it once; say which fails and how to fix it."""
    from app.runtime.doctor import CHECKS, run_checks

    unknown = [c for c in check if c not in CHECKS]
    if unknown:
        fail(f"unknown check {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    results = run_checks(Settings(), tuple(check) or CHECKS)
    if as_json:
        emit_json({"ok": all(r.ok for r in results), "checks": [r.as_dict() for r in results]})
    else:
        for r in results:
            mark = "[green]ok[/]  " if r.ok else "[bold red]FAIL[/]"
            err.print(f"{mark} {r.check:<10} {r.seconds:5.1f}s  {r.model}\n       {r.detail}")
            if r.fix:
                err.print(f"       fix: {r.fix}")
    if not all(r.ok for r in results):
        raise SystemExit(1)
