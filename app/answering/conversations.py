"""Conversations: a user's own thread of questions, kept on the server.

A follow-up is rewritten from the turns stored here, never from history the
client sends, so nobody can feed another user's answers (or invented ones)
into their own question (red team W3). Every lookup takes the user: another
user's conversation is "not found", the same as one that never existed.
Deleting a conversation deletes its stored answers, their passages and their
ratings (the foreign keys cascade).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db.answers import AnswerRecord
from app.errors import Invalid, NotFound
from app.db.base import Base, utcnow

TITLE_CHARS = 80


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ConversationNotFound(NotFound):
    code = "conversation_not_found"


@dataclass(frozen=True)
class ConversationView:
    id: int
    title: str
    updated_at: datetime

    def as_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "updated_at": self.updated_at.isoformat()}


def title_from(question: str) -> str:
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


def start(session: Session, user_id: int, question: str) -> Conversation:
    conversation = Conversation(user_id=user_id, title=title_from(question) or "New conversation")
    session.add(conversation)
    session.flush()
    return conversation


def get_own(session: Session, user_id: int, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user_id:
        raise ConversationNotFound(f"no conversation {conversation_id}")
    return conversation


def list_own(session: Session, user_id: int, limit: int = 50) -> list[ConversationView]:
    rows = session.scalars(
        select(Conversation).where(Conversation.user_id == user_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
    ).all()
    return [ConversationView(c.id, c.title, c.updated_at) for c in rows]


def rename(session: Session, user_id: int, conversation_id: int, title: str) -> Conversation:
    title = " ".join(title.split())
    if not title:
        raise Invalid("a conversation needs a title")
    conversation = get_own(session, user_id, conversation_id)
    conversation.title = title[:200]
    return conversation


def delete(session: Session, user_id: int, conversation_id: int) -> None:
    """The conversation and every answer in it: nothing of it stays to be listed or rated."""
    conversation = get_own(session, user_id, conversation_id)
    for answer in session.scalars(select(AnswerRecord).where(AnswerRecord.conversation_id == conversation.id)):
        session.delete(answer)
    session.flush()  # the answers first: the ORM does not know they hang off the conversation
    session.delete(conversation)
    session.flush()


def turns(session: Session, conversation_id: int) -> list[AnswerRecord]:
    return list(session.scalars(
        select(AnswerRecord).where(AnswerRecord.conversation_id == conversation_id).order_by(AnswerRecord.id)
    ))
