"""``inhouse ingest`` while a server owns the index: the server registers, its worker indexes, the CLI waits.

Registration goes through the server because a changed access is written to
the document's existing points at once (redteam L1), and only the process
holding the index may write them. The jobs are SQL rows, so the CLI follows
them by polling SQL and reports each document as a local run would have.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from sqlalchemy import select

from app.errors import Unavailable
from app.library.ingest_jobs import IngestResult
from app.runtime.operator_client import call
from app.progress import Progress, no_progress
from app.runtime.server_presence import ServerPresence, running_server
from app.services import Services
from app.db.library import Document, IngestJob

POLL_S = 0.5


def ingest_through_server(
    services: Services, server: ServerPresence, paths: Sequence[Path], groups: list[str], owner: str | None,
    public: bool, progress: Progress = no_progress,
) -> list[IngestResult]:
    body = {"paths": [str(p.absolute()) for p in paths], "groups": groups, "owner": owner, "public": public}
    rows = call(server, "/ingest", body)["registered"]
    progress("register", len(rows), len(rows))
    finished = wait_for_jobs(services, server, [r["job_id"] for r in rows if r["job_id"] is not None], progress)
    results = []
    for row in rows:
        job = finished.get(row["job_id"]) if row["job_id"] is not None else None
        if job is None:  # unchanged, or refused at registration: reported as registered
            results.append(IngestResult(row["id"], row["path"], row["outcome"], row["chunks"] or 0, row["error"]))
        else:
            results.append(IngestResult(row["id"], row["path"], *job))
    return results


def wait_for_jobs(
    services: Services, server: ServerPresence, job_ids: list[int], progress: Progress = no_progress
) -> dict[int, tuple[str, int, str | None]]:
    """Poll SQL until every job is done or failed: job id → (status, chunks, error), as ``JobRunner`` reports."""
    waiting, finished = set(job_ids), {}
    folder = services.index_folder()
    while waiting:
        with services.session() as session:
            for job, doc in session.execute(
                select(IngestJob, Document).join(Document, Document.id == IngestJob.document_id)
                .where(IngestJob.id.in_(waiting))
            ):
                if job.status == "done":
                    finished[job.id] = ("ready", doc.chunk_count or 0, None)
                elif job.status == "failed":
                    finished[job.id] = ("failed", doc.chunk_count or 0, job.error)
            gone = waiting - set(session.scalars(select(IngestJob.id).where(IngestJob.id.in_(waiting))))
        for job_id in gone:  # its document was deleted meanwhile
            finished[job_id] = ("failed", 0, "the document was deleted before it was indexed")
        waiting -= set(finished)
        progress("ingest", len(job_ids) - len(waiting), len(job_ids))
        if not waiting:
            break
        if running_server(services.settings.data_dir, folder) != server:
            raise Unavailable(
                f"the server at {server.url} stopped before {len(waiting)} document(s) were indexed; their jobs "
                "stay queued and the next `inhouse serve` or `inhouse ingest` finishes them"
            )
        time.sleep(POLL_S)
    return finished
