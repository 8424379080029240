"""A user's verdict on one of their own answers: thumbs up or down, why, and a comment.

Per-passage judgments ("this source is not relevant") go through
``app.answering.feedback.record_feedback``, which checks the user may see the passage
and feeds evaluation; this table is the answer-level half the review queue
reads. A rating can only be given by the user the answer was given to:
another user's answer is "not found", the same as one that does not exist.
One rating per answer and user; rating again replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db.answers import AnswerRecord
from app.errors import Invalid, NotFound
from app.db.base import Base, utcnow

REASONS = {
    "wrong_source": "wrong or irrelevant source",
    "unsupported": "not supported by the source",
    "outdated": "outdated",
    "incomplete": "incomplete",
    "other": "other",
}
COMMENT_CHARS = 2000


class AnswerRating(Base):
    __tablename__ = "answer_ratings"

    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    rating: Mapped[str] = mapped_column(String(8))  # "up" or "down"
    reasons: Mapped[list | None] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class AnswerNotFound(NotFound):
    code = "answer_not_found"


@dataclass(frozen=True)
class RatingView:
    rating: str
    reasons: list[str]
    comment: str


def own_answer(session: Session, user_id: int, answer_id: int) -> AnswerRecord:
    answer = session.get(AnswerRecord, answer_id)
    if answer is None or answer.user_id != user_id:
        raise AnswerNotFound(f"no answer {answer_id}")
    return answer


def rate(session: Session, user_id: int, answer_id: int, rating: str, reasons: list[str] | None = None,
         comment: str | None = None) -> RatingView:
    if rating not in ("up", "down"):
        raise Invalid("a rating is 'up' or 'down'")
    reasons = [r for r in dict.fromkeys(reasons or []) if r]
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        raise Invalid(f"unknown reason {unknown[0]!r}; choose from {', '.join(REASONS)}")
    if rating == "up":
        reasons = []
    comment = (comment or "").strip()[:COMMENT_CHARS]
    own_answer(session, user_id, answer_id)
    row = session.get(AnswerRating, (answer_id, user_id))
    if row is None:
        row = AnswerRating(answer_id=answer_id, user_id=user_id)
        session.add(row)
    row.rating, row.reasons, row.comment = rating, reasons, comment or None
    session.flush()
    return RatingView(rating, reasons, comment)


def rating_of(session: Session, user_id: int, answer_id: int) -> RatingView | None:
    row = session.scalar(select(AnswerRating).where(
        AnswerRating.answer_id == answer_id, AnswerRating.user_id == user_id))
    return RatingView(row.rating, list(row.reasons or []), row.comment or "") if row else None
