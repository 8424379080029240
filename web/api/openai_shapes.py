"""OpenAI's chat-completion wire shapes, as far as inhouse speaks them, and its error shape.

Only what a client sends and reads is modelled; sampling fields a client may
send (``temperature``, ``max_tokens``, ...) are accepted and ignored, because
the pipeline's own settings decide them. Every message and the final stream
chunk carry one extra field, ``citations`` (``app.shapes.CitationShape``),
besides the ``[n]`` markers in the text.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.shapes import CitationShape

MODEL_ID = "inhouse"


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    citations: list[CitationShape]


class Choice(BaseModel):
    index: int = 0
    message: MessageOut
    finish_reason: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "inhouse"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
               404: "invalid_request_error", 409: "invalid_request_error", 413: "invalid_request_error",
               429: "rate_limit_error"}


def openai_error(status: int, code: str, message: str) -> tuple[int, dict]:
    """OpenAI's ``{"error": {message, type, param, code}}``; a validation error is its 400, a bad key
    ``invalid_api_key``."""
    if status == 422:
        status = 400
    if status == 401:
        code = "invalid_api_key"
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return status, {"error": {"message": message, "type": kind, "param": None, "code": code}}
