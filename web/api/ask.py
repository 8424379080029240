"""``POST /api/v1/ask`` (one JSON answer) and ``POST /api/v1/ask/stream`` (server-sent events).

Both run the one answer flow (``AnswerService``) with the token owner's
access read for this question; the JSON body is ``inhouse ask --json``'s
shape. The stream sends ``status``, ``token`` and then one ``answer`` event
(that same shape), then ``done``; an error after the stream began comes as an
``error`` event with the code and message the JSON routes would give.
"""

from __future__ import annotations

import asyncio
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.answering.events import Answer, Status, Token
from app.answering.asking import PreparedQuestion, prepare, scope_filter
from app.errors import EXPECTED, status_and_code
from app.shapes import AnswerShape
from web.api.deps import AskUser
from web.api.errors import API_ERRORS
from web.api.models import AskRequest
from web.deps import ServicesDep
from web.streams import AnswerSlots, in_thread, sse

log = logging.getLogger("inhouse.api")
router = APIRouter(prefix="/api/v1", tags=["ask"], responses=API_ERRORS)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
ASK_EVENT = {  # one server-sent event of the stream; its data is JSON (empty for done)
    "type": "object", "required": ["event", "data"],
    "properties": {"event": {"enum": ["status", "token", "answer", "error", "done"]}, "data": {"type": "string"}},
}


def prepared_for(services, user_id: int, body: AskRequest) -> PreparedQuestion:
    return prepare(services, user_id, body.question, body.conversation_id, groups=body.groups,
                   where=scope_filter(body.doc_types, body.doc_ids))


def answer_blocking(answers, user_id: int, q: PreparedQuestion, slots: AnswerSlots):
    """The whole answer at once, in its turn (``AnswerSlots``)."""
    with slots.held():
        return asyncio.run(answers.answer(q.question, q.tokens, user_id, q.history, where=q.where,
                                          conversation_id=q.conversation_id))


@router.post("/ask", response_model=AnswerShape, summary="Answer a question from the documents you may read")
async def ask(body: AskRequest, request: Request, services: ServicesDep, user: AskUser) -> AnswerShape:
    prepared = await asyncio.to_thread(prepared_for, services, user.id, body)
    result = await asyncio.to_thread(answer_blocking, request.app.state.answers, user.id, prepared,
                                     request.app.state.answer_slots)
    return AnswerShape.of(result)


def event(name: str, data) -> str:
    return sse(name, json.dumps(data, ensure_ascii=False, default=str))


@router.post("/ask/stream", summary="The same answer as server-sent events",
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {"schema": ASK_EVENT}},
                              "description": "events: status, token, answer (the /ask body), done; or error"}})
async def ask_stream(body: AskRequest, request: Request, services: ServicesDep, user: AskUser) -> StreamingResponse:
    prepared = await asyncio.to_thread(prepared_for, services, user.id, body)  # refusals before the stream starts
    answers = request.app.state.answers

    async def events():
        try:
            async for item in in_thread(lambda: answers.stream(
                prepared.question, prepared.tokens, user.id, prepared.history, where=prepared.where,
                conversation_id=prepared.conversation_id,
            ), request.app.state.answer_slots, Status("queued")):
                if await request.is_disconnected():
                    return  # closing the generator stops the model
                if isinstance(item, (Status, Token)):
                    yield event(item.name, item.data())
                elif isinstance(item, Answer):
                    yield event("answer", AnswerShape.of(item.result).model_dump(mode="json"))
        except EXPECTED as exc:
            log.warning("answer failed: %s", exc)
            status, code = status_and_code(exc)
            yield event("error", {"error": {"code": code, "message": str(exc), "status": status}})
        yield sse("done", "")

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
