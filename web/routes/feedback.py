"""Feedback on an answer (thumbs, reasons, comment) and on one of its passages ("not relevant")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.db.answers import AnswerPassage
from app.answering.views import answer_view
from app.accounts.directory import acl_tokens
from app.answering.feedback import PassageRef, record_feedback
from app.answering.ratings import REASONS, AnswerNotFound, own_answer, rate
from app.db.accounts import User
from web.deps import ServicesDep, WriterDep

router = APIRouter()


def back_to(answer) -> str:
    return f"/c/{answer.conversation_id}#answer-{answer.id}" if answer.conversation_id else "/"


@router.post("/answers/{answer_id}/rating", response_class=HTMLResponse)
def rate_answer(
    request: Request, answer_id: int, services: ServicesDep, user: WriterDep,
    rating: Annotated[str, Form()] = "", reasons: Annotated[list[str], Form()] = [],  # noqa: B006
    comment: Annotated[str, Form()] = "",
) -> Response:
    with services.session() as session:
        rate(session, user.id, answer_id, rating, reasons, comment)
        answer = own_answer(session, user.id, answer_id)
        target = back_to(answer)
        tokens = acl_tokens(session, session.get(User, user.id))
        view = answer_view(session, services.index, user.id, tokens, answer_id, services.settings.data_dir)
    if request.headers.get("HX-Request") != "true":
        return RedirectResponse(target, status_code=303)
    return request.app.state.templates.TemplateResponse(
        request, "_rating.html", {"view": view, "user": user, "reasons": REASONS})


@router.post("/answers/{answer_id}/passages/{n}/not-relevant", response_class=HTMLResponse)
def not_relevant(request: Request, answer_id: int, n: int, services: ServicesDep, user: WriterDep) -> Response:
    with services.session() as session:
        answer = own_answer(session, user.id, answer_id)
        row = session.get(AnswerPassage, (answer_id, n))
        if row is None:
            raise AnswerNotFound(f"no passage {n} in answer {answer_id}")
        question, ref, target = answer.question, PassageRef(row.document_id, row.chunk_id), back_to(answer)
    # the same check as every judgment: the passage must be one this user can see now
    record_feedback(services, user.name, question, [ref], "wrong_sources", answer_id=str(answer_id))
    if request.headers.get("HX-Request") != "true":
        return RedirectResponse(target, status_code=303)
    return HTMLResponse('<p class="muted small" data-state="judged">Marked as not relevant. Thank you.</p>')
