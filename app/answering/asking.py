"""A question from an application (the API or the OpenAI-compatible route), made ready to answer.

What the answer flow needs, read fresh for this one question: the reader's
ACL tokens (narrowed by the question's group scope, never widened), the
conversation it continues (the reader's own, or a new one) and that
conversation's stored turns as history. History is read from the server,
never taken from the request, for ``/api/v1/ask`` (red team W3); the
OpenAI-compatible route passes the client's own messages instead, which can
only change how the reader's question is phrased, not what they may read.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.answering import conversations
from app.answering.views import readable_history
from app.accounts.directory import acl_tokens, scoped_tokens
from app.errors import Invalid
from app.db.accounts import User
from inference.types import ChatMessage
from retrieval.schema import IndexFilter

MAX_QUESTION = 2000


@dataclass(frozen=True)
class PreparedQuestion:
    question: str
    tokens: list[str]
    history: list[ChatMessage]
    conversation_id: int | None
    where: IndexFilter | None


def clean_question(question: str) -> str:
    question = question.strip()
    if not question:
        raise Invalid("the question is empty")
    if len(question) > MAX_QUESTION:
        raise Invalid(f"a question can be at most {MAX_QUESTION} characters")
    return question


def scope_filter(doc_types: list[str] | None, doc_ids: list[str] | None) -> IndexFilter | None:
    types, ids = [t for t in doc_types or [] if t], [i for i in doc_ids or [] if i]
    return IndexFilter(doc_types=types or None, doc_ids=ids or None) if types or ids else None


def prepare(services, user_id: int, question: str, conversation_id: int | None = None, *,
            new_conversation: bool = True, groups: list[str] | None = None,
            where: IndexFilter | None = None, history: list[ChatMessage] | None = None) -> PreparedQuestion:
    """``conversation_id`` must be the reader's own (else "not found"); without one a new conversation is
    started when ``new_conversation``; ``history`` (client-sent) is used only when there is no conversation."""
    question = clean_question(question)
    with services.session() as session:
        reader = session.get(User, user_id)
        tokens = scoped_tokens(session, reader, list(groups or []))
        if conversation_id is not None:
            conversation_id = conversations.get_own(session, user_id, conversation_id).id
            history = readable_history(session, services.index, user_id, acl_tokens(session, reader), conversation_id)
        elif new_conversation:
            conversation_id = conversations.start(session, user_id, question).id
    return PreparedQuestion(question, tokens, list(history or []), conversation_id, where)
