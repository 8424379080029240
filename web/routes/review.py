"""The review queue in the browser: a thin router over ``app.answering.review``.

Content owners and administrators only (``role("owner")``); which items each
one sees is decided in ``app.answering.review`` with their access read fresh, and an item
they may not see is 404 like one that does not exist. Every write takes CSRF.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.answering import review
from app.answering.ratings import REASONS
from app.db.accounts import User
from web.deps import OwnerDep, OwnerWriterDep, ServicesDep
from web.routes.documents import render

router = APIRouter()


@router.get("/review", response_class=HTMLResponse)
def queue_page(request: Request, services: ServicesDep, user: OwnerDep, show: str = "open") -> Response:
    threshold = services.settings.review_support_threshold
    with services.session() as session:
        me = session.get(User, user.id)
        items = review.review_queue(session, services.index, me, threshold, include_reviewed=show == "all")
    return render(request, "review.html", {"user": user, "items": items, "show": show, "threshold": threshold})


@router.get("/review/{answer_id}", response_class=HTMLResponse)
def item_page(request: Request, answer_id: int, services: ServicesDep, user: OwnerDep) -> Response:
    with services.session() as session:
        item = review.review_item(session, services.index, session.get(User, user.id), answer_id,
                                  services.settings.review_support_threshold)
    return render(request, "review_item.html", {"user": user, "item": item, "reasons": REASONS})


@router.post("/review/{answer_id}/reviewed")
def mark_reviewed(request: Request, answer_id: int, services: ServicesDep, user: OwnerWriterDep) -> Response:
    with services.session() as session:
        review.mark_reviewed(session, services.index, session.get(User, user.id), answer_id,
                             services.settings.review_support_threshold)
    return RedirectResponse("/review?done=marked+reviewed", status_code=303)


@router.post("/review/{answer_id}/judgment")
def judgment(request: Request, answer_id: int, services: ServicesDep, user: OwnerWriterDep,
             correct_answer: Annotated[str, Form()] = "",
             passages: Annotated[list[int], Form()] = []) -> Response:  # noqa: B006
    with services.session() as session:
        review.record_judgment(session, services.index, session.get(User, user.id), answer_id,
                               services.settings.review_support_threshold, services.settings.collection,
                               correct_answer, passages)
    return RedirectResponse(f"/review/{answer_id}?done=judgment+saved", status_code=303)
