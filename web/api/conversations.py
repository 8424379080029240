"""Conversations, stored answers and feedback on them, for the token's owner only.

Another user's conversation or answer is 404, the same as one that never
existed. Stored answers are rebuilt with the owner's access read now
(``app.answering.views``): if a passage an answer rested on is no longer theirs
to read, the answer is withheld. Everything here needs the ``ask`` scope: it
is the conversation an ``ask`` token made.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.answering import conversations
from app.db.answers import AnswerPassage
from app.answering.views import answer_view, conversation_views
from app.accounts.directory import acl_tokens
from app.answering.feedback import PassageRef, record_feedback
from app.answering.ratings import AnswerNotFound, own_answer, rate
from app.db.accounts import User
from web.api.deps import AskUser
from web.api.errors import API_ERRORS
from web.api.models import (ConversationDetailShape, ConversationShape, ConversationsShape, JudgedShape,
                            RatingRequest, RatingShape, RenameRequest, RowId, StoredAnswerShape)
from web.deps import ServicesDep

router = APIRouter(prefix="/api/v1", tags=["conversations"], responses=API_ERRORS)


@router.get("/conversations", response_model=ConversationsShape, summary="Your conversations, newest first")
def list_conversations(services: ServicesDep, user: AskUser) -> ConversationsShape:
    with services.session() as session:
        return ConversationsShape(conversations=[ConversationShape(**c.as_dict())
                                                 for c in conversations.list_own(session, user.id)])


@router.get("/conversations/{conversation_id}", response_model=ConversationDetailShape,
            summary="One of your conversations with its answers, as you may see them now")
def get_conversation(conversation_id: RowId, services: ServicesDep, user: AskUser) -> ConversationDetailShape:
    with services.session() as session:
        c = conversations.get_own(session, user.id, conversation_id)
        tokens = acl_tokens(session, session.get(User, user.id))
        views = conversation_views(session, services.index, user.id, tokens, c.id, services.settings.data_dir)
        return ConversationDetailShape(id=c.id, title=c.title, updated_at=c.updated_at,
                                       turns=[StoredAnswerShape.of(v) for v in views])


@router.patch("/conversations/{conversation_id}", response_model=ConversationShape, summary="Rename")
def rename_conversation(conversation_id: RowId, body: RenameRequest, services: ServicesDep,
                        user: AskUser) -> ConversationShape:
    with services.session() as session:
        c = conversations.rename(session, user.id, conversation_id, body.title)
        session.flush()
        return ConversationShape(id=c.id, title=c.title, updated_at=c.updated_at)


@router.delete("/conversations/{conversation_id}", status_code=204, response_class=Response,
               summary="Delete a conversation and every answer in it")
def delete_conversation(conversation_id: RowId, services: ServicesDep, user: AskUser) -> Response:
    with services.session() as session:
        conversations.delete(session, user.id, conversation_id)
    return Response(status_code=204)


@router.get("/answers/{answer_id}", response_model=StoredAnswerShape, summary="One of your answers")
def get_answer(answer_id: RowId, services: ServicesDep, user: AskUser) -> StoredAnswerShape:
    with services.session() as session:
        tokens = acl_tokens(session, session.get(User, user.id))
        view = answer_view(session, services.index, user.id, tokens, answer_id, services.settings.data_dir)
        return StoredAnswerShape.of(view)


@router.put("/answers/{answer_id}/rating", response_model=RatingShape, summary="Rate one of your answers")
def rate_answer(answer_id: RowId, body: RatingRequest, services: ServicesDep, user: AskUser) -> RatingShape:
    with services.session() as session:
        r = rate(session, user.id, answer_id, body.rating, body.reasons, body.comment)
    return RatingShape(answer_id=answer_id, rating=r.rating, reasons=list(r.reasons), comment=r.comment)


@router.post("/answers/{answer_id}/passages/{n}/not-relevant", response_model=JudgedShape,
             summary="Mark one passage of your answer as not relevant")
def not_relevant(answer_id: RowId, n: RowId, services: ServicesDep, user: AskUser) -> JudgedShape:
    with services.session() as session:
        answer = own_answer(session, user.id, answer_id)
        row = session.get(AnswerPassage, (answer_id, n))
        if row is None:
            raise AnswerNotFound(f"no passage {n} in answer {answer_id}")
        question, ref = answer.question, PassageRef(row.document_id, row.chunk_id)
    # the same check as every judgment: the passage must be one this user can see now
    record_feedback(services, user.name, question, [ref], "wrong_sources", answer_id=str(answer_id))
    return JudgedShape(answer_id=answer_id, n=n, verdict="wrong_sources")
