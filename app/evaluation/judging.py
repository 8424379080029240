"""An evaluator's own judgment, added from a query's page: this passage is (or is not) relevant to this query.

It is stored where readers' feedback and the review queue's judgments go
(``FeedbackJudgment``, on the run's collection, keyed by the question's
``feedback.query_id``), marked as the evaluator's (``origin="evaluator"``, their
user id, the time), so ``inhouse eval export-feedback`` exports it with the
rest; like a reviewer's, the latest expert grade on a (question, document)
outweighs readers' votes (``feedback.judgments``).

Judging is a read path too: the passage is looked up through the index with the
evaluator's own ACL filter (``feedback.visible_refs``), and on the organisation's
documents the database must agree, as for a search. A passage they may not
read, one that does not exist, and a question withheld from them all get the same
404, and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.accounts.actor import Actor
from app.accounts.directory import acl_tokens, get_user
from app.answering.feedback import PassageRef, query_id as feedback_query_id, visible_refs
from app.db.evaluation import EvalRun, FeedbackJudgment
from app.errors import Invalid, NotFound
from app.evaluation.drilldown import question_text
from app.library.access import database_acl
from app.services import Services

ORIGIN = "evaluator"
VERDICTS = {1: "relevant", 0: "not_relevant"}


class PassageNotFound(NotFound):
    """Missing, or not the evaluator's to read: the same answer, so nothing can be probed."""

    code = "passage_not_found"


@dataclass(frozen=True)
class MyJudgment:
    doc_id: str
    chunk_id: str | None
    grade: int
    at: datetime


def add_judgment(services: Services, actor: Actor, run_id: int, query_id: str, doc_id: str, chunk_id: str | None,
                 grade: int) -> dict:
    """Store ``actor``'s grade (1 relevant, 0 not) of one passage for one query of a stored run."""
    if grade not in VERDICTS:
        raise Invalid("a judgment is 1 (relevant) or 0 (not relevant)")
    with services.session() as session:
        run = session.get(EvalRun, run_id)
        if run is None or query_id not in (run.qrels or {}):
            raise NotFound(f"run {run_id} has no query {query_id!r}")
        judge = get_user(session, actor.name)
        tokens = acl_tokens(session, judge)
        organisation = (run.settings or {}).get("as_user") is not None or run.collection == services.settings.collection
        relevant = [d for d, g in run.qrels[query_id].items() if int(g) > 0]
        collection, dataset_path, user_id = run.collection, run.dataset_path, judge.id
        if organisation:  # the database decides too, as for a search; and the question must be theirs to see
            acl = database_acl(session, {doc_id, *relevant})
            if not acl.get(doc_id, set()) & set(tokens):
                raise PassageNotFound("no such passage among those you may read")
            if not any(acl.get(d, set()) & set(tokens) for d in relevant):
                raise NotFound(f"run {run_id} has no query {query_id!r}")
    shared = collection == services.settings.collection
    index = services.index if shared else services.open_index(collection)
    try:
        if not visible_refs(index, tokens, [PassageRef(doc_id, chunk_id)]):
            raise PassageNotFound("no such passage among those you may read")
    finally:
        if not shared:
            index.close()
    question = question_text(dataset_path, query_id)
    with services.session() as session:
        row = FeedbackJudgment(user_id=user_id, collection=collection, query=question,
                               query_id=feedback_query_id(question), doc_id=doc_id, chunk_id=chunk_id, grade=grade,
                               verdict=VERDICTS[grade], origin=ORIGIN)
        session.add(row)
        session.flush()
        return {"id": row.id, "query_id": row.query_id, "doc_id": doc_id, "chunk_id": chunk_id, "grade": grade,
                "by": actor.name}


def my_judgments(services: Services, actor_name: str, collection: str, question: str) -> dict[str, MyJudgment]:
    """This evaluator's latest judgment per document for the question (what the query's page marks as theirs)."""
    with services.session() as session:
        judge = get_user(session, actor_name)
        rows = session.scalars(
            select(FeedbackJudgment).where(
                FeedbackJudgment.user_id == judge.id, FeedbackJudgment.origin == ORIGIN,
                FeedbackJudgment.collection == collection, FeedbackJudgment.query_id == feedback_query_id(question))
            .order_by(FeedbackJudgment.id)
        ).all()
        return {r.doc_id: MyJudgment(r.doc_id, r.chunk_id, r.grade, r.created_at) for r in rows}
