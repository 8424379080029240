"""``POST /api/v1/search``: passages the token's owner may read, best first (``inhouse search --json``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from app.answering.asking import scope_filter
from app.accounts.directory import acl_tokens
from app.answering.searching import search_readable
from app.shapes import SearchShape
from app.db.accounts import User
from web.api.deps import SearchUser
from web.api.errors import API_ERRORS
from web.api.models import SearchRequest
from web.deps import ServicesDep

router = APIRouter(prefix="/api/v1", tags=["search"], responses=API_ERRORS)


def run_search(services, user_id: int, body: SearchRequest) -> SearchShape:
    with services.session() as session:
        tokens = acl_tokens(session, session.get(User, user_id))  # read now: a revoked group is gone at once
    hits = search_readable(services, tokens, body.query.strip(), body.k, body.mode,
                           scope_filter(body.doc_types, body.doc_ids))
    return SearchShape.of(hits)


@router.post("/search", response_model=SearchShape, summary="Search the documents you may read")
async def search(body: SearchRequest, services: ServicesDep, user: SearchUser) -> SearchShape:
    return await asyncio.to_thread(run_search, services, user.id, body)
