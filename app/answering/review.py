"""The review queue: answers readers disliked or the checker doubted, for a person to look at.

An item is an answer rated down, or one whose support is under
``review_support_threshold``. Who sees it follows reading, fail closed: a
reviewer sees an item only if they may read *every* passage it rested on, with
their access read fresh (the same ``answer_views`` rule that withholds an answer
from its own asker), and an item they may not see is "not found", never
"forbidden", so the queue confirms nothing. Administrators read everything; a
content owner reviews answers that rest on a document of a group they own.

A reviewer may write the answer that would have been right and pick the
passages that hold it; the passages become judgments (``origin="review"``) that
``inhouse eval export-feedback`` exports, so the evaluation suite learns from
the organisation's own mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from app.db.answers import AnswerRecord
from app.answering.views import AnswerView, _view
from app.accounts.directory import acl_tokens
from app.errors import Invalid, NotFound
from app.db.evaluation import FeedbackJudgment
from app.answering.feedback import query_id
from app.library.scope import is_admin, owned_groups
from app.answering.ratings import AnswerRating, RatingView
from app.db.reviews import AnswerReview
from app.db.accounts import Group, User
from app.db.base import utcnow
from app.db.library import Document
from retrieval.schema import PUBLIC_TOKEN, group_token, user_token

SCAN_LIMIT = 500  # newest candidates looked at per page of the queue
CORRECT_ANSWER_CHARS = 8000


class ReviewItemNotFound(NotFound):
    code = "review_item_not_found"


@dataclass
class ReviewItem:
    view: AnswerView
    reasons: list[str]  # why it is in the queue: "rated down", "low support"
    ratings: list[RatingView]
    asker: str | None  # the asker's name, for administrators only
    reviewed_at: datetime | None = None
    reviewer: str | None = None
    correct_answer: str = ""
    judged: set[int] = field(default_factory=set)  # passage numbers a review marked relevant


def reviewer_tokens(session: Session, user: User) -> list[str]:
    """What a reviewer may read: an administrator everything (every user's and group's token), else their own."""
    if not is_admin(user):
        return acl_tokens(session, user)
    users = session.scalars(select(User.uid)).all()
    groups = session.scalars(select(Group.uid)).all()
    return [PUBLIC_TOKEN, *(user_token(u) for u in users), *(group_token(g) for g in groups)]


def may_review(user: User) -> bool:
    return not user.disabled and user.role in ("owner", "admin")


def _candidates(session: Session, threshold: float, include_reviewed: bool, limit: int) -> list[AnswerRecord]:
    disliked = select(AnswerRating.answer_id).where(AnswerRating.rating == "down")
    query = select(AnswerRecord).where(or_(
        AnswerRecord.id.in_(disliked),
        (AnswerRecord.not_found.is_(False)) & (AnswerRecord.support < threshold),
    ))
    if not include_reviewed:
        query = query.where(AnswerRecord.id.not_in(select(AnswerReview.answer_id)))
    return list(session.scalars(query.order_by(AnswerRecord.id.desc()).limit(limit)))


def _involves_owned_group(session: Session, user: User, record: AnswerRecord) -> bool:
    """For a content owner: does the answer rest on a document of a group they own?"""
    if is_admin(user):
        return True
    mine = {g.id for g in owned_groups(session, user)}
    for row in record.passages:
        doc = session.get(Document, row.document_id)
        if doc is not None and any(g.id in mine for g in doc.groups):
            return True
    return False


def _item(session: Session, index, user: User, tokens: set[str], record: AnswerRecord,
          threshold: float) -> ReviewItem | None:
    """The item as this reviewer may see it, or None when any of its passages is not theirs to read."""
    if not _involves_owned_group(session, user, record):
        return None
    view = _view(session, index, tokens, record, None)
    if view.withheld or any(p.text is None for p in view.passages):
        return None  # fail closed: a passage they cannot read (or that is gone) hides the whole item
    ratings = [RatingView(r.rating, list(r.reasons or []), r.comment or "")
               for r in session.scalars(select(AnswerRating).where(AnswerRating.answer_id == record.id))]
    reasons = (["rated down"] if any(r.rating == "down" for r in ratings) else []) + (
        ["low support"] if not record.not_found and record.support < threshold else [])
    asker = None
    if is_admin(user) and record.user_id is not None:
        asker_row = session.get(User, record.user_id)
        asker = asker_row.name if asker_row else None
    item = ReviewItem(view=view, reasons=reasons, ratings=ratings, asker=asker)
    review = session.get(AnswerReview, record.id)
    if review is not None:
        reviewer = session.get(User, review.reviewer_id) if review.reviewer_id else None
        item.reviewed_at, item.correct_answer = review.reviewed_at, review.correct_answer or ""
        item.reviewer = reviewer.name if reviewer and is_admin(user) else None
    chunk_of = {p.chunk_id: p.n for p in view.passages}
    item.judged = {chunk_of[j.chunk_id] for j in session.scalars(select(FeedbackJudgment).where(
        FeedbackJudgment.answer_id == str(record.id), FeedbackJudgment.origin == "review",
        FeedbackJudgment.grade == 1)) if j.chunk_id in chunk_of}
    return item


def review_queue(session: Session, index, user: User, threshold: float, include_reviewed: bool = False,
                 limit: int = 50) -> list[ReviewItem]:
    """The items this reviewer may see, newest first."""
    if not may_review(user):
        return []
    tokens = set(reviewer_tokens(session, user))
    items = []
    for record in _candidates(session, threshold, include_reviewed, SCAN_LIMIT):
        item = _item(session, index, user, tokens, record, threshold)
        if item is not None:
            items.append(item)
            if len(items) >= limit:
                break
    return items


def _in_queue(session: Session, record: AnswerRecord, threshold: float) -> bool:
    disliked = session.scalar(select(AnswerRating.answer_id).where(
        AnswerRating.answer_id == record.id, AnswerRating.rating == "down").limit(1))
    return disliked is not None or (not record.not_found and record.support < threshold)


def review_item(session: Session, index, user: User, answer_id: int, threshold: float) -> ReviewItem:
    """One item; not found when it is not in the queue or the reviewer may not read all of it."""
    record = session.get(AnswerRecord, answer_id)
    item = None
    if record is not None and may_review(user) and _in_queue(session, record, threshold):
        item = _item(session, index, user, set(reviewer_tokens(session, user)), record, threshold)
    if item is None:
        raise ReviewItemNotFound(f"no review item {answer_id}")
    return item


def mark_reviewed(session: Session, index, user: User, answer_id: int, threshold: float) -> ReviewItem:
    item = review_item(session, index, user, answer_id, threshold)
    _upsert_review(session, user, answer_id, None)
    return item


def _upsert_review(session: Session, user: User, answer_id: int, correct_answer: str | None) -> AnswerReview:
    row = session.get(AnswerReview, answer_id)
    if row is None:
        row = AnswerReview(answer_id=answer_id)
        session.add(row)
    row.reviewer_id = user.id
    if correct_answer is not None:
        row.correct_answer = correct_answer
    row.reviewed_at = utcnow()
    session.flush()
    return row


def record_judgment(session: Session, index, user: User, answer_id: int, threshold: float, collection: str,
                    correct_answer: str, picked: list[int]) -> list[FeedbackJudgment]:
    """The reviewer's answer and the passages that hold it, as judgments for the evaluation suite.

    Every passage the answer showed is judged: the picked ones relevant (grade 1),
    the rest not (grade 0). Only passages the reviewer can read now can be picked
    (the item itself is not found otherwise). Marks the item reviewed.
    """
    item = review_item(session, index, user, answer_id, threshold)
    correct_answer = (correct_answer or "").strip()[:CORRECT_ANSWER_CHARS]
    shown = {p.n: p for p in item.view.passages}
    picked = list(dict.fromkeys(picked))
    if not picked:
        raise Invalid("pick at least one passage that holds the correct answer")
    unknown = [n for n in picked if n not in shown]
    if unknown:
        raise Invalid(f"passage {unknown[0]} is not one of this answer's passages")
    record = session.get(AnswerRecord, answer_id)
    session.execute(delete(FeedbackJudgment).where(  # a second review of the answer replaces the first
        FeedbackJudgment.answer_id == str(answer_id), FeedbackJudgment.origin == "review"))
    rows = []
    for n, passage in sorted(shown.items()):
        row = FeedbackJudgment(
            user_id=user.id, collection=collection, query=record.query.strip() or record.question.strip(),
            query_id=query_id(record.query.strip() or record.question), doc_id=passage.doc_id,
            chunk_id=passage.chunk_id, grade=int(n in picked), verdict="review", origin="review",
            answer_id=str(answer_id),
        )
        session.add(row)
        rows.append(row)
    _upsert_review(session, user, answer_id, correct_answer or None)
    session.flush()
    return rows
