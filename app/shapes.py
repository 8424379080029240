"""The JSON shapes of results, one pydantic model each: the CLI's ``--json`` and the HTTP API print these.

One definition per shape, so ``inhouse ask --json`` and ``POST /api/v1/ask``
cannot drift apart, and the API's OpenAPI schema documents what the command
line prints too. Each model is built from the use case's own result
(``AnswerResult.as_dict``, ``SearchHit.as_dict``, ``document_summary``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class CitationShape(BaseModel):
    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    quote: str
    chunk_id: str
    char_start: int
    char_end: int
    inferred: bool
    support: float


class AnswerShape(BaseModel):
    """``inhouse ask --json``: DESIGN.md's answer, citations, support, unsupported_sentences, plus details."""

    answer: str
    citations: list[CitationShape]
    support: float
    unsupported_sentences: list[str]
    not_found: bool
    question: str
    query: str
    rewrite_method: str
    sentences: list[dict[str, Any]]
    answer_id: int | None
    model: str | None
    backend: str | None
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    passages_shown: int
    passages_dropped: int
    mode: str
    conversation_id: int | None
    timings_ms: dict[str, Any]

    @classmethod
    def of(cls, result) -> "AnswerShape":
        return cls.model_validate(result.as_dict())


class SearchHitShape(BaseModel):
    doc_id: str
    title: str
    source: str
    page: int | None
    chunk_id: str
    text: str
    score: float
    chunk_no: int
    heading_path: list[str]
    char_start: int
    char_end: int
    doc_type: str | None
    scores: dict[str, float]
    ranks: dict[str, int]
    chunk_ids: list[str]
    chunk_nos: list[int]
    why: str


class SearchShape(BaseModel):
    """``inhouse search --json``."""

    hits: list[SearchHitShape]

    @classmethod
    def of(cls, hits) -> "SearchShape":
        return cls(hits=[SearchHitShape.model_validate(h.as_dict()) for h in hits])


class DocumentShape(BaseModel):
    id: str
    title: str
    source: str
    status: str
    groups: list[str]
    public: bool
    owner: str | None
    type: str | None
    chunks: int | None
    pages: int | None
    size: int | None
    error: str | None
    updated_at: str | None


class DocumentsShape(BaseModel):
    """``inhouse docs list --json``."""

    documents: list[DocumentShape]

    @classmethod
    def of(cls, docs) -> "DocumentsShape":
        from app.library.documents import document_summary

        return cls(documents=[DocumentShape.model_validate(document_summary(d)) for d in docs])


def dump(shape: BaseModel) -> dict:
    """The shape as plain JSON values, keys in declaration order (what ``--json`` prints)."""
    return shape.model_dump(mode="json")
