"""Request and response models of /api/v1 that the command line has no ``--json`` twin for.

Answers, search hits and documents use ``app.shapes`` (the CLI's shapes);
these are the API's own: what a request may carry, and the views of
conversations and stored answers (rebuilt with the reader's access read now,
``app.answering.views``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.answering.asking import MAX_QUESTION


def utc(moment: datetime) -> datetime:
    """Stored times are UTC, but SQLite hands them back naive: say so, or "date-time" is a lie (RFC 3339)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


UtcDateTime = Annotated[datetime, AfterValidator(utc)]
MAX_ROW_ID = 2**63 - 1  # what a SQL integer key holds; a larger id is a bad request, not a crash
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row id")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored


class AskRequest(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    conversation_id: int | None = Field(None, ge=1, le=MAX_ROW_ID, description="continue one of your conversations; none starts one")
    groups: list[str] = Field(default_factory=list, description="narrow to some of your groups (never widens)")
    doc_types: list[str] = Field(default_factory=list, description="only these document types (pdf, md, ...)")
    doc_ids: list[str] = Field(default_factory=list, description="only these documents")


class SearchRequest(Strict):
    query: str = Field(min_length=1, max_length=MAX_QUESTION)
    k: int = Field(10, ge=1, le=100)
    mode: Literal["dense", "sparse", "hybrid", "hybrid+rerank"] | None = None
    doc_types: list[str] = Field(default_factory=list)
    doc_ids: list[str] = Field(default_factory=list)


class RatingRequest(Strict):
    rating: Literal["up", "down"]
    reasons: list[Literal["wrong_source", "unsupported", "outdated", "incomplete", "other"]] = Field(
        default_factory=list, description="why it is rated down (app.answering.ratings.REASONS)")
    comment: str = Field("", max_length=2000)


class RenameRequest(Strict):
    title: str = Field(min_length=1, max_length=200)


class RatingShape(BaseModel):
    answer_id: int
    rating: str
    reasons: list[str]
    comment: str


class PassageShape(BaseModel):
    n: int
    doc_id: str
    chunk_id: str
    title: str
    source: str
    page: int | None
    heading_path: list[str]
    text: str | None
    score: float
    cited: bool
    inferred: bool
    support: float | None


class StoredAnswerShape(BaseModel):
    """A stored answer as its reader may see it now: ``withheld`` (and empty) once any passage it rested on
    is no longer theirs to read."""

    answer_id: int
    conversation_id: int | None
    question: str
    answer: str
    not_found: bool
    withheld: bool
    support: float
    passages: list[PassageShape]
    rating: RatingShape | None
    created_at: UtcDateTime

    @classmethod
    def of(cls, view) -> "StoredAnswerShape":
        rating = view.rating
        return cls(
            answer_id=view.answer_id, conversation_id=view.conversation_id, question=view.question,
            answer=view.answer, not_found=view.not_found, withheld=view.withheld, support=round(view.support, 4),
            passages=[PassageShape(n=p.n, doc_id=p.doc_id, chunk_id=p.chunk_id, title=p.title, source=p.source,
                                   page=p.page, heading_path=p.heading_path, text=p.text, score=p.score,
                                   cited=p.cited, inferred=p.inferred, support=p.support) for p in view.passages],
            rating=RatingShape(answer_id=view.answer_id, rating=rating.rating, reasons=list(rating.reasons),
                               comment=rating.comment) if rating else None,
            created_at=view.created_at,
        )


class ConversationShape(BaseModel):
    id: int
    title: str
    updated_at: UtcDateTime


class ConversationsShape(BaseModel):
    conversations: list[ConversationShape]


class ConversationDetailShape(ConversationShape):
    turns: list[StoredAnswerShape]


class JudgedShape(BaseModel):
    answer_id: int
    n: int
    verdict: str
