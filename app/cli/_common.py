"""What every command shares: the --json option, services for one command, progress bars, error handling.

``cli_errors`` is the one place an expected error becomes a message and exit
code 1 (``app.errors.EXPECTED``: the application's root and the roots of the
packages below it); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli._output import err, fail, table
from app.errors import EXPECTED
from app.settings import Settings

if TYPE_CHECKING:
    from app.library.ingest_jobs import IngestResult
    from app.services import Services

JsonOpt = typer.Option(False, "--json", help="print one JSON document on stdout")


def split_csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@contextmanager
def cli_errors(prefix: str = "") -> Iterator[None]:
    """An expected error ends the command with its message on stderr and exit code 1."""
    try:
        yield
    except EXPECTED as exc:
        fail(f"{prefix}{exc}")


@contextmanager
def services_ctx() -> Iterator["Services"]:
    from app.services import build_services

    try:
        services = build_services(Settings())
    except Exception as exc:
        fail(f"cannot start: {exc}")
    try:
        yield services
    finally:
        services.close()


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not enabled or not err.is_terminal,
    )
    with progress:
        yield progress


def ingest_table(title: str, results: Iterable["IngestResult"]) -> None:
    """The table `ingest`, `import-manifest` and `reindex` print without --json."""
    table(title, ["id", "path", "status", "chunks", "error"],
          [(r.id[:12], r.path, r.status, r.chunks, r.error) for r in results])
