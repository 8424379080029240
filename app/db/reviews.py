"""Which answers a reviewer has looked at, and the answer they say was right.

One row per reviewed answer. It goes with its answer (``ondelete=CASCADE``):
deleting a document deletes the answers built on it, and their reviews with
them, so a review cannot keep a question whose sources were forgotten. The
passages the reviewer picked become ``FeedbackJudgment`` rows (``origin="review"``),
which is what the evaluation suite reads; this row keeps the human side.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utcnow


class AnswerReview(Base):
    __tablename__ = "answer_reviews"

    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    correct_answer: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
