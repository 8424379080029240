"""Readers' feedback on sources becomes relevance judgments.

A thumbs-up on an answer marks the passages it showed as relevant (grade 1);
a thumbs-down with "wrong sources" marks them as not relevant (grade 0).
Feedback is a read path too: a user may only judge passages they can see, so
the passages are looked up through the index with the user's ACL filter
(the same ``IndexFilter(acl_tokens=…)`` a search uses), never by id alone.
``export_feedback`` turns the judgments into a BEIR folder that
``inhouse eval run|tune --as USER`` take, so the suite runs on the organisation's own
questions, over its own collection, as that reader (no document text is exported).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from app.accounts.directory import acl_tokens, get_user
from app.errors import Invalid, NotFound
from app.db.evaluation import FeedbackJudgment
from retrieval.schema import IndexFilter

Verdict = Literal["up", "wrong_sources"]
GRADES: dict[str, int] = {"up": 1, "wrong_sources": 0}


class FeedbackError(Invalid):
    code = "invalid_feedback"


class AnswerNotFound(NotFound):
    """Feedback named an answer that is not the reader's: missing and someone else's read the same."""

    code = "answer_not_found"


@dataclass(frozen=True)
class PassageRef:
    """A passage as a search hit names it: its document and, usually, its chunk."""

    doc_id: str
    chunk_id: str | None = None


def query_id(query: str) -> str:
    """The same question, however spaced or capitalised, is one query."""
    return "fb-" + hashlib.sha256(" ".join(query.lower().split()).encode()).hexdigest()[:16]


def _index_for(services, collection: str | None):
    if collection is None or collection == services.settings.collection:
        return services.index, services.settings.collection, False
    return services.open_index(collection), collection, True


def visible_refs(index, tokens: list[str], refs: Sequence[PassageRef]) -> set[PassageRef]:
    """The refs this reader can see, read through the ACL filter inside the index."""
    doc_ids = sorted({r.doc_id for r in refs})
    if not doc_ids:
        return set()
    points = list(index.ids(IndexFilter(acl_tokens=tokens, doc_ids=doc_ids)))
    doc_of = {h.id: h.payload.get("doc_id") for h in index.get(points)}
    docs = set(doc_of.values())
    return {r for r in refs if (doc_of.get(r.chunk_id) == r.doc_id if r.chunk_id else r.doc_id in docs)}


def _is_own_answer(session: Session, answer_id: str, user_id: int) -> bool:
    """Whether ``answer_id`` names a stored answer this user was given (W10: not anyone's answer)."""
    from app.db.answers import AnswerRecord

    try:
        number = int(answer_id)
    except (TypeError, ValueError):
        return False
    row = session.get(AnswerRecord, number)
    return row is not None and row.user_id == user_id


def record_feedback(
    services, user: str, query: str, passages: Sequence[PassageRef], verdict: Verdict,
    collection: str | None = None, answer_id: str | None = None,
) -> list[dict]:
    """Store one judgment per passage; refuse the lot if any passage is not the user's to see,
    or if ``answer_id`` is not one of the user's own stored answers."""
    if verdict not in GRADES:
        raise FeedbackError(f"unknown verdict {verdict!r}; use one of {', '.join(GRADES)}")
    if not query.strip():
        raise FeedbackError("feedback needs the question it is about")
    if not passages:
        raise FeedbackError("feedback needs at least one passage")
    with services.session() as session:
        reader = get_user(session, user)
        user_id, tokens = reader.id, acl_tokens(session, reader)
        if answer_id is not None and not _is_own_answer(session, answer_id, user_id):
            raise AnswerNotFound(f"no answer {answer_id!r} among your answers")
    index, name, owned = _index_for(services, collection)
    try:
        refs = list(dict.fromkeys(passages))
        seen = visible_refs(index, tokens, refs)
    finally:
        if owned:
            index.close()
    hidden = [r for r in refs if r not in seen]
    if hidden:
        # the same answer for "does not exist" and "not yours": no probing for documents
        raise FeedbackError(f"{len(hidden)} passage(s) are not among the passages you can see")
    rows = []
    with services.session() as session:
        for ref in refs:
            row = FeedbackJudgment(
                user_id=user_id, collection=name, query=query.strip(), query_id=query_id(query), doc_id=ref.doc_id,
                chunk_id=ref.chunk_id, grade=GRADES[verdict], verdict=verdict, answer_id=answer_id,
            )
            session.add(row)
            session.flush()
            rows.append({"id": row.id, "query_id": row.query_id, "doc_id": row.doc_id, "chunk_id": row.chunk_id,
                         "grade": row.grade, "verdict": row.verdict})
    return rows


def delete_feedback_for_document(session: Session, collection: str, doc_id: str, answer_ids: Sequence[int]) -> int:
    """Remove the judgments on a deleted document and those given on answers deleted with it.

    A judgment on an answer carries its question, which the answer's deleted
    passages were retrieved for; keeping it would keep part of what was forgotten.
    Returns how many rows went.
    """
    on_document = (FeedbackJudgment.collection == collection) & (FeedbackJudgment.doc_id == doc_id)
    on_answers = FeedbackJudgment.answer_id.in_([str(a) for a in answer_ids])
    result = session.execute(delete(FeedbackJudgment).where(or_(on_document, on_answers)))
    return result.rowcount or 0


def judgments(services, collection: str | None = None) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """(queries, qrels): each user's latest verdict per (query, document), then a majority vote;
    where a reviewer (the review queue) or an evaluator (a query's page) judged the pair, the latest
    such grade decides."""
    name = collection or services.settings.collection
    with services.session() as session:
        rows = session.scalars(
            select(FeedbackJudgment).where(FeedbackJudgment.collection == name).order_by(FeedbackJudgment.id)
        ).all()
        latest: dict[tuple, FeedbackJudgment] = {}
        reviewed: dict[tuple[str, str], int] = {}  # a reviewer's latest grade outweighs readers' votes
        review_of: dict[tuple[str, str], str | None] = {}
        queries: dict[str, str] = {}
        for row in rows:
            if row.origin == "review":  # one review judges each passage: a document is relevant if any is
                key, earlier = (row.query_id, row.doc_id), review_of.get((row.query_id, row.doc_id))
                same = earlier == row.answer_id and key in reviewed
                reviewed[key] = max(reviewed[key], row.grade) if same else row.grade
                review_of[key] = row.answer_id
            elif row.origin == "evaluator":  # from a query's page (app.evaluation.judging): the latest expert grade
                key = (row.query_id, row.doc_id)
                reviewed[key], review_of[key] = row.grade, f"evaluator:{row.id}"
            else:
                latest[(row.user_id, row.query_id, row.doc_id)] = row
            queries[row.query_id] = row.query
    votes: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for (_, qid, doc_id), row in latest.items():
        votes[qid][doc_id].append(row.grade)
    for (qid, doc_id), grade in reviewed.items():
        votes[qid][doc_id] = [grade]
    qrels = {
        qid: {doc: int(sum(g) * 2 > len(g)) for doc, g in docs.items()} for qid, docs in votes.items()
    }
    return {q: queries[q] for q in qrels}, qrels


def export_feedback(services, out_dir: Path, collection: str | None = None) -> dict:
    """Write the judgments as a BEIR folder without any document's text (issue 15, W1/W7).

    The folder holds the questions, the judgments and, for each judged document
    that still exists, its id and access at export time (``app.evaluation.org_data``);
    it is evaluated on the collection it came from, as a reader named with ``--as``.
    Folder and files are readable by this account only: they hold every reader's questions.
    """
    from app.evaluation.org_data import Origin, describe_access, make_private, private_folder, write_origin
    from app.db.library import Document
    from eval.beir import write_beir

    queries, qrels = judgments(services, collection)
    index, name, owned = _index_for(services, collection)
    try:
        judged = sorted({d for docs in qrels.values() for d in docs})
        present = {d for d in judged if index.count(IndexFilter(doc_ids=[d])) > 0}  # not deleted since
    finally:
        if owned:
            index.close()
    with services.session() as session:
        access = {d: describe_access(session.get(Document, d)) for d in sorted(present)}
    qrels = {q: {d: g for d, g in docs.items() if d in present} for q, docs in qrels.items()}
    qrels = {q: docs for q, docs in qrels.items() if docs}
    queries = {q: queries[q] for q in qrels}
    private_folder(out_dir)
    write_beir(out_dir, None, queries, qrels)
    write_origin(out_dir, Origin(name, access))
    make_private(out_dir)
    return {"out_dir": str(out_dir), "collection": name, "queries": len(queries), "documents": len(present),
            "judgments": sum(len(d) for d in qrels.values())}
