"""What forgetting a document needs beyond deleting its rows and points: no bytes left on disk.

A deleted row's text stays in SQLite's free pages and write-ahead log, an
earlier version's original stays in ``files/`` with no row pointing at it, and a
deleted point stays in the index's segments (issue 15, W2). Each function here
removes one of those remnants; ``app.library.actions`` calls them on replace and
on delete.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from app.library.documents import stored_file
from app.db.library import Document

SWEEP_GRACE_S = 600  # an original stored this recently may belong to a registration not yet committed


def forget_original(session: Session, files_dir: Path, sha: str | None, doc_id: str) -> bool:
    """Remove the stored original with this hash unless a document other than ``doc_id`` has the same bytes."""
    if not sha:
        return False
    others = session.scalar(
        select(func.count()).select_from(Document).where(Document.sha256 == sha, Document.id != doc_id)
    )
    if others:
        return False
    path = stored_file(files_dir, sha)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def sweep_originals(session: Session, files_dir: Path, grace_s: float = SWEEP_GRACE_S) -> int:
    """Remove stored originals no document names (earlier versions kept before this sweep existed).

    Files younger than ``grace_s`` are left: another process may have stored one
    for a registration it has not committed yet.
    """
    if not files_dir.exists():
        return 0
    named = set(session.scalars(select(Document.sha256).where(Document.sha256.is_not(None))))
    cutoff, removed = time.time() - grace_s, 0
    for path in files_dir.glob("??/*"):
        if path.is_file() and path.name not in named and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def scrub_database(engine: Engine) -> None:
    """SQLite: fold the write-ahead log into the database and empty it.

    Every connection runs with ``secure_delete`` (app/db/engine.py), so a deleted row's
    bytes are zeroed in the database file; the log still holds the pages as they
    were until it is checkpointed and truncated. PostgreSQL reclaims dead rows by
    its own VACUUM, which the database operator schedules.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
