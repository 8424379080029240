"""OpenAI-compatible ``/v1/models`` and ``/v1/chat/completions``: the RAG pipeline as a "model".

Any OpenAI client (the ``openai`` package, LangChain, a chat UI) gets answers
from the token owner's documents only: the last user message is the question,
earlier user and assistant messages are the history the follow-up is
rewritten from, system messages are ignored (the pipeline has its own prompt,
and a client must not be able to talk it out of citing). The answer keeps its
``[n]`` markers; ``citations`` on the message (and on the final stream chunk)
says what each number points at. ``usage`` counts real tokens: the
generator's own counts, or, for extractive answers (no generator), the
embedding model's tokenizer over the question and passages read and the
answer written. Errors use OpenAI's shape (``web.api.openai_shapes``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.answering.events import Answer, Token
from app.answering.asking import PreparedQuestion, prepare
from app.errors import EXPECTED, Invalid, NotFound, status_and_code
from app.shapes import CitationShape
from inference.types import ChatMessage
from web.api.ask import SSE_HEADERS
from web.api.deps import AskUser
from web.api.errors import OPENAI_ERRORS
from web.api.openai_shapes import (MODEL_ID, ChatCompletion, ChatRequest, Choice, MessageIn, MessageOut, Model,
                                   ModelList, Usage, openai_error)
from web.deps import ServicesDep
from web.streams import in_thread

log = logging.getLogger("inhouse.api")
router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERRORS)
STARTED = int(time.time())
CHUNK_EVENT = {  # one server-sent event: a chat.completion.chunk (or an error) as JSON, then "[DONE]"
    "type": "object", "required": ["data"], "not": {"required": ["event"]},
    "properties": {"data": {"type": "string", "minLength": 1}},
}


class ModelNotFound(NotFound):
    code = "model_not_found"


@router.get("/models", response_model=ModelList, summary="The pipeline, as the one model there is")
def models(user: AskUser) -> ModelList:
    return ModelList(data=[Model(id=MODEL_ID, created=STARTED)])


def split_messages(messages: list[MessageIn]) -> tuple[str, list[ChatMessage]]:
    """The question (the last message, which must be the user's) and the turns before it."""
    if messages[-1].role != "user":
        raise Invalid("the last message must be the user's question")
    history = [ChatMessage(role=m.role, content=m.text()) for m in messages[:-1]
               if m.role in ("user", "assistant") and m.text().strip()]
    return messages[-1].text(), history


def usage_of(services, result) -> Usage:
    prompt, completion = result.prompt_tokens, result.completion_tokens
    if result.mode == "extractive" or not (prompt or completion):
        count = services.encoder.count_tokens
        prompt = count(result.question) + sum(count(p.text) for p in result.passages)
        completion = count(result.answer)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def citations_of(result) -> list[CitationShape]:
    return [CitationShape.model_validate(c.as_dict()) for c in result.citations]


def completion_id(result) -> str:
    return f"chatcmpl-{result.answer_id}" if result.answer_id else f"chatcmpl-{uuid.uuid4().hex}"


def prepared_for(services, user_id: int, body: ChatRequest) -> PreparedQuestion:
    if body.model != MODEL_ID:
        raise ModelNotFound(f"The model '{body.model}' does not exist; use '{MODEL_ID}' (GET /v1/models)")
    question, history = split_messages(body.messages)
    return prepare(services, user_id, question, None, new_conversation=False, history=history)


@router.post("/chat/completions", response_model=ChatCompletion, summary="A cited answer, OpenAI-style",
             responses={200: {"content": {"application/json": {},
                                          "text/event-stream": {"schema": CHUNK_EVENT}},
                              "description": "a chat.completion, or chat.completion.chunk events with stream"}})
async def chat_completions(body: ChatRequest, request: Request, services: ServicesDep, user: AskUser):
    prepared = await asyncio.to_thread(prepared_for, services, user.id, body)
    answers = request.app.state.answers
    if not body.stream:
        from web.api.ask import answer_blocking

        result = await asyncio.to_thread(answer_blocking, answers, user.id, prepared, request.app.state.answer_slots)
        usage = await asyncio.to_thread(usage_of, services, result)
        return ChatCompletion(
            id=completion_id(result), created=int(time.time()), model=MODEL_ID, usage=usage,
            choices=[Choice(message=MessageOut(content=result.answer, citations=citations_of(result)),
                            finish_reason="stop")])
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(chunks(request, services, answers, user.id, prepared, include_usage),
                             media_type="text/event-stream", headers=SSE_HEADERS)


def data(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, default=str)}\n\n"


async def chunks(request: Request, services, answers, user_id: int, q: PreparedQuestion, include_usage: bool):
    """``chat.completion.chunk`` events: the role, the text as it is written, a final chunk with
    ``finish_reason`` and ``citations``, the usage chunk when asked for, then ``[DONE]``."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        return data({"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    yield chunk({"role": "assistant", "content": ""})
    written = False
    try:
        async for item in in_thread(lambda: answers.stream(q.question, q.tokens, user_id, q.history,
                                                           where=q.where), request.app.state.answer_slots):
            if await request.is_disconnected():
                return  # closing the generator stops the model
            if isinstance(item, Token) and item.text:
                written = True
                yield chunk({"content": item.text})
            elif isinstance(item, Answer):
                result = item.result
                if not written:  # "not found" is never streamed as tokens
                    yield chunk({"content": result.answer})
                citations = [c.model_dump(mode="json") for c in citations_of(result)]
                yield chunk({}, "stop", citations=citations)
                if include_usage:
                    usage = await asyncio.to_thread(usage_of, services, result)
                    yield data({"id": cid, "object": "chat.completion.chunk", "created": created,
                                "model": MODEL_ID, "choices": [], "usage": usage.model_dump()})
    except EXPECTED as exc:
        log.warning("answer failed: %s", exc)
        status, code = status_and_code(exc)
        yield data(openai_error(status, code, str(exc))[1])
    yield "data: [DONE]\n\n"
