"""The operator channel: the CLI's commands that need the index, run by the server that owns it.

Only one process may open the index (``retrieval.lock``), and while ``inhouse
serve`` runs that process is the server. ``inhouse ingest``, ``search`` and
``ask`` find it through ``<data_dir>/server.json`` (``app.runtime.server_presence``)
and call these routes with the random secret written there. Without that
header every route here answers 404, as for a page that does not exist; a
request that carries a cookie or an Origin (a browser) is refused the same
way, so no browser session can reach them. The work is the same use cases the
CLI runs in-process; a command's output is the same either way.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from app.runtime.server_presence import SECRET_HEADER
from web.deps import ServicesDep

PREFIX = "/internal/operator"


def operator(request: Request) -> None:
    """Let through only the CLI holding this server's secret; everyone else gets a plain 404."""
    expected = getattr(request.app.state, "operator_secret", None)
    given = request.headers.get(SECRET_HEADER, "")
    browser = "cookie" in request.headers or "origin" in request.headers
    if not expected or browser or not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=404)


router = APIRouter(prefix=PREFIX, dependencies=[Depends(operator)], include_in_schema=False)


class IngestRequest(BaseModel):
    paths: list[str]  # absolute: the server does not share the CLI's working directory
    groups: list[str] = []
    owner: str | None = None
    public: bool = False


@router.post("/ingest")
def ingest(body: IngestRequest, request: Request, services: ServicesDep) -> dict[str, Any]:
    """Register the files (access applied to existing points at once) and queue their jobs for the worker."""
    from app.library.ingestion import IngestService, expand_paths

    paths = [Path(p) for p in body.paths]
    if not all(p.is_absolute() for p in paths):
        raise HTTPException(status_code=400, detail="paths must be absolute")
    ingest = IngestService(services)
    rows = []
    for path, root in expand_paths(paths):
        reg = ingest.register(path, root, body.groups, body.owner, body.public)
        doc = reg.document
        rows.append({"path": str(path), "id": doc.id, "job_id": reg.job.id if reg.job else None,
                     "outcome": reg.outcome, "chunks": doc.chunk_count, "error": doc.error})
    request.app.state.jobs.wake()
    return {"registered": rows}


class SearchRequest(BaseModel):
    text: str
    as_user: str
    k: int = 10
    mode: str | None = None
    where: dict[str, Any] = {}  # retrieval.schema.IndexFilter's fields, as the CLI parsed --filter


@router.post("/search")
def search(body: SearchRequest, services: ServicesDep) -> dict[str, Any]:
    from app.accounts.directory import acl_tokens, get_user
    from app.answering.searching import search_readable
    from app.shapes import SearchShape, dump
    from retrieval.schema import IndexFilter

    with services.session() as session:
        tokens = acl_tokens(session, get_user(session, body.as_user))
    where = {k: datetime.fromisoformat(v) if k.startswith("created_") and v else v for k, v in body.where.items()}
    hits = search_readable(services, tokens, body.text, body.k, body.mode, IndexFilter(**where))
    return dump(SearchShape.of(hits))


class AskRequest(BaseModel):
    question: str
    as_user: str
    history: list[dict[str, Any]] = []


@router.post("/ask")
def ask(body: AskRequest, request: Request, services: ServicesDep) -> dict[str, Any]:
    from app.shapes import AnswerShape, dump

    services.check_collection(create=False)
    result = request.app.state.answers.ask(body.question, body.as_user, body.history or None)
    return dump(AnswerShape.of(result))

