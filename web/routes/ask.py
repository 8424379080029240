"""The ask experience: conversations, a question, its streamed answer.

``POST /ask`` with htmx starts the answer and returns the turn that opens its
stream (``GET /ask/stream/<ticket>``), so the round trip overlaps the search; without
JavaScript it answers in the request and redirects to the conversation, so
the page works as plain forms and full-page loads. Access is read from the
database at every step (the question's scope can narrow it, never widen it).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from typing import Annotated, AsyncIterator, Callable

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from app.answering import asking

from app.answering import conversations
from app.answering.asking import clean_question, scope_filter
from app.accounts.sessions import SessionUser
from app.answering.events import Answer, Status, Token
from app.answering.views import answer_view, conversation_views
from app.accounts.directory import acl_tokens
from app.library.scope import askable_documents
from app.errors import EXPECTED, Invalid
from app.answering.ratings import REASONS
from app.db.accounts import User
from retrieval.schema import IndexFilter
from web.deps import ServicesDep, UserDep, WriterDep
from web.streams import AnswerSlots, PendingQuestion, Relay, sse

log = logging.getLogger("inhouse.web")
router = APIRouter()
DOC_TYPES = ("pdf", "docx", "pptx", "html", "md", "email", "txt", "csv")


def page_context(services, user: SessionUser, conversation=None, turns=None) -> dict:
    with services.session() as session:
        me = session.get(User, user.id)
        groups = sorted(g.name for g in me.groups)
        listed = conversations.list_own(session, user.id)
        documents = askable_documents(session, me)
    return {"user": user, "conversations": listed, "conversation": conversation, "turns": turns or [],
            "scope": {"groups": groups, "doc_types": DOC_TYPES, "documents": documents}, "reasons": REASONS}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep, user: UserDep) -> Response:
    return request.app.state.templates.TemplateResponse(request, "ask.html", page_context(services, user))


@router.get("/c/{conversation_id}", response_class=HTMLResponse)
def conversation_page(request: Request, conversation_id: int, services: ServicesDep, user: UserDep) -> Response:
    index = services.index
    with services.session() as session:
        conversation = conversations.get_own(session, user.id, conversation_id)
        tokens = acl_tokens(session, session.get(User, user.id))
        turns = conversation_views(session, index, user.id, tokens, conversation.id, services.settings.data_dir)
        conv = conversations.ConversationView(conversation.id, conversation.title, conversation.updated_at)
    return request.app.state.templates.TemplateResponse(
        request, "ask.html", page_context(services, user, conv, turns))


def parse_scope(doc_types: list[str], doc_ids: list[str]) -> IndexFilter | None:
    """The form's scope: known document types, and ids picked in the list or typed comma separated."""
    ids = list(dict.fromkeys(i.strip() for v in doc_ids for i in v.replace("\n", ",").split(",") if i.strip()))
    return scope_filter([t for t in doc_types if t in DOC_TYPES], ids)


@router.post("/ask")
async def ask(
    request: Request, services: ServicesDep, user: WriterDep,
    question: Annotated[str, Form()] = "", conversation_id: Annotated[str, Form()] = "",
    groups: Annotated[list[str], Form()] = [], doc_types: Annotated[list[str], Form()] = [],  # noqa: B006
    doc_ids: Annotated[list[str], Form()] = [],  # noqa: B006  (picked in the list, or typed: comma separated)
) -> Response:
    question = clean_question(question)
    with services.session() as session:
        if conversation_id.strip():
            try:
                cid = int(conversation_id)
            except ValueError:
                raise Invalid("conversation_id must be a number") from None
            conversation = conversations.get_own(session, user.id, cid)
            new = False
        else:
            conversation, new = conversations.start(session, user.id, question), True
        cid = conversation.id
    pending = PendingQuestion(user.id, question, cid, parse_scope(doc_types, doc_ids), tuple(groups))
    if request.headers.get("HX-Request") != "true":
        await asyncio.to_thread(answer_now, services, request.app.state.answers, pending,
                                request.app.state.answer_slots)
        return RedirectResponse(f"/c/{cid}", status_code=303)
    relay = Relay(started_answer(services, request.app.state.answers, pending),
                  request.app.state.answer_slots, Status("queued"))
    ticket = request.app.state.pending.add(pending, relay)
    relay.start()  # the answer is under way while the browser renders the turn and opens the stream
    context = {"user": user, "question": question, "ticket": ticket, "new_conversation": new,
               "conversation_id": cid, "conversations": [], "oob": True}
    if new:
        with services.session() as session:
            context["conversations"] = conversations.list_own(session, user.id)
            context["conversation"] = conversations.ConversationView(cid, conversation.title, conversation.updated_at)
    headers = {"HX-Push-Url": f"/c/{cid}"} if new else {}
    return request.app.state.templates.TemplateResponse(request, "_pending_turn.html", context, headers=headers)


def prepare(services, pending: PendingQuestion):
    """The reader's tokens (narrowed by the scope) and the conversation so far, read now (as the API does)."""
    prepared = asking.prepare(services, pending.user_id, pending.question, pending.conversation_id,
                              new_conversation=False, groups=list(pending.groups), where=pending.where)
    return prepared.tokens, prepared.history


def started_answer(services, answers, pending: PendingQuestion) -> Callable[[], AsyncIterator]:
    """The answer's events, access and history read first, on the relay's own thread."""
    async def work() -> AsyncIterator:
        tokens, history = prepare(services, pending)
        async with aclosing(answers.stream(pending.question, tokens, pending.user_id, history,
                                           where=pending.where, conversation_id=pending.conversation_id)) as events:
            async for event in events:
                yield event
    return work


def answer_now(services, answers, pending: PendingQuestion, slots: AnswerSlots) -> int | None:
    tokens, history = prepare(services, pending)
    with slots.held():
        result = asyncio.run(answers.answer(pending.question, tokens, pending.user_id, history,
                                            where=pending.where, conversation_id=pending.conversation_id))
    return result.answer_id


def render(request: Request, name: str, context: dict) -> str:
    return request.app.state.templates.get_template(name).render({"request": request, **context})


@router.get("/ask/stream/{ticket}")
async def stream(request: Request, ticket: str, services: ServicesDep, user: UserDep) -> Response:
    redeemed = request.app.state.pending.redeem(ticket, user.id)
    if redeemed is None:
        return Response(status_code=204)  # used or not theirs: tells EventSource to stop, nothing replays
    relay = redeemed[1]

    async def events():
        yield sse("status", render(request, "_status.html", {"stage": "searching"}))
        answer_id = None
        try:
            async for event in relay.events():
                if await request.is_disconnected():
                    return  # stopping the relay closes the answer generator, which stops the model
                if isinstance(event, Status):
                    yield sse("status", render(request, "_status.html", {"stage": event.stage, "count": event.count}))
                elif isinstance(event, Token):
                    yield sse("token", render(request, "_token.html", {"text": event.text}))
                elif isinstance(event, Answer):
                    answer_id = event.result.answer_id
        except EXPECTED as exc:
            log.warning("answer failed: %s", exc)
            yield sse("answer", render(request, "_failed.html", {"message": str(exc)}))
            yield sse("done", "")
            return
        finally:
            relay.stop()
        view = await asyncio.to_thread(load_view, services, user.id, answer_id)
        yield sse("answer", render(request, "_answer.html", {"view": view, "user": user, "reasons": REASONS}))
        yield sse("done", "")

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def load_view(services, user_id: int, answer_id: int):
    with services.session() as session:
        tokens = acl_tokens(session, session.get(User, user_id))
        return answer_view(session, services.index, user_id, tokens, answer_id, services.settings.data_dir)


@router.post("/c/{conversation_id}/rename")
def rename(request: Request, conversation_id: int, services: ServicesDep, user: WriterDep,
           title: Annotated[str, Form()] = "") -> Response:
    with services.session() as session:
        conversations.rename(session, user.id, conversation_id, title)
    return RedirectResponse(f"/c/{conversation_id}", status_code=303)


@router.post("/c/{conversation_id}/delete")
def delete(request: Request, conversation_id: int, services: ServicesDep, user: WriterDep) -> Response:
    with services.session() as session:
        conversations.delete(session, user.id, conversation_id)
    return RedirectResponse("/", status_code=303)
