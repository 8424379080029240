"""Stored answers: what was asked, what was said, which passages it rested on.

Kept for the UI (support badges, citations), for feedback and for audits.
Each passage row names the chunk and document it came from, so deleting a
document deletes the answers built on it (``app.library.actions.delete_document``):
an answer must not outlive the right to read its sources.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, utcnow


class AnswerRecord(Base):
    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )  # the web keeps follow-ups server-side, per user (app.answering.conversations)
    question: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)  # the standalone query actually searched
    rewrite_method: Mapped[str] = mapped_column(String(20), default="none")
    answer: Mapped[str] = mapped_column(Text)
    not_found: Mapped[bool] = mapped_column(Boolean, default=False)
    support: Mapped[float] = mapped_column(Float, default=0.0)
    sentences: Mapped[list | None] = mapped_column(JSON)  # per-sentence checks
    citations: Mapped[list | None] = mapped_column(JSON)
    backend: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(300))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    finish_reason: Mapped[str | None] = mapped_column(String(20))
    timings_ms: Mapped[dict | None] = mapped_column(JSON)
    passages_dropped: Mapped[int] = mapped_column(Integer, default=0)  # retrieved but over the token budget
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    passages: Mapped[list["AnswerPassage"]] = relationship(
        back_populates="answer", cascade="all, delete-orphan", passive_deletes=True, order_by="AnswerPassage.n",
    )


class AnswerPassage(Base):
    __tablename__ = "answer_passages"

    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)  # its number in the prompt
    document_id: Mapped[str] = mapped_column(String(32), index=True)
    chunk_id: Mapped[str] = mapped_column(String(36))
    score: Mapped[float] = mapped_column(Float, default=0.0)  # retrieval score
    cited: Mapped[bool] = mapped_column(Boolean, default=False)
    inferred: Mapped[bool] = mapped_column(Boolean, default=False)
    support: Mapped[float | None] = mapped_column(Float)
    why: Mapped[dict | None] = mapped_column(JSON)  # ranks and scores per search stage, for "why it matched"

    answer: Mapped[AnswerRecord] = relationship(back_populates="passages")
