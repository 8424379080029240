"""What a user sees of a stored answer, and of one of its passages in context.

Built for every render from the database and the index, with the reader's
access read fresh: a passage is shown only while both its index point and its
document (in SQL) grant one of the reader's tokens. If any passage an answer
rested on is no longer readable (membership revoked, document regrouped), the
whole answer is withheld, because its text may repeat what the passage said.
The web pages and the API both render from these views, so the rule holds on
every path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.answers import AnswerPassage, AnswerRecord
from app.library.documents import document_acl, text_file
from app.errors import NotFound
from app.answering.ratings import RatingView, own_answer, rating_of
from app.db.library import Chunk, Document

CONTEXT_CHARS = 900  # of surrounding text on each side of a passage in the source view


class PassageNotFound(NotFound):
    code = "passage_not_found"


@dataclass
class PassageView:
    n: int
    doc_id: str
    chunk_id: str
    title: str
    source: str
    doc_type: str | None
    page: int | None
    heading_path: list[str]
    groups: list[str]
    text: str | None  # None when the chunk is gone (the document changed since)
    score: float
    cited: bool
    inferred: bool
    support: float | None
    why: dict


@dataclass
class AnswerView:
    answer_id: int
    conversation_id: int | None
    question: str
    query: str
    rewrite_method: str
    answer: str
    not_found: bool
    support: float
    sentences: list[dict]
    passages: list[PassageView]
    withheld: bool
    backend: str | None
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    timings_ms: dict
    passages_dropped: int
    created_at: datetime
    rating: RatingView | None = None

    @property
    def shown(self) -> set[int]:
        return {p.n for p in self.passages if p.text is not None}

    @property
    def low_support(self) -> bool:
        return not self.not_found and bool(self.sentences) and self.support < 0.5


@dataclass
class SourceView:
    answer_id: int
    n: int
    doc_id: str
    title: str
    source: str
    doc_type: str | None
    page: int | None
    heading_path: list[str]
    groups: list[str]
    before: str
    passage: str
    after: str
    starts_document: bool
    ends_document: bool
    original: bool  # the stored original can be downloaded
    query: str = ""
    extra: dict = field(default_factory=dict)


def doc_readable(doc: Document | None, tokens: set[str]) -> bool:
    return doc is not None and bool(set(document_acl(doc)) & tokens)


def _group_names(doc: Document) -> list[str]:
    names = sorted(g.name for g in doc.groups)
    return (["public"] if doc.public else []) + names


def _points(index, chunk_ids: list[str]) -> dict:
    return {p.id: p.payload for p in index.get(chunk_ids)} if chunk_ids else {}


def answer_view(session: Session, index, user_id: int, tokens: list[str], answer_id: int,
                data_dir: Path | None = None) -> AnswerView:
    """The user's own answer as they may see it now; another user's answer is "not found"."""
    record = own_answer(session, user_id, answer_id)
    return _view(session, index, set(tokens), record, rating_of(session, user_id, answer_id), data_dir)


def conversation_views(session: Session, index, user_id: int, tokens: list[str], conversation_id: int,
                       data_dir: Path | None = None) -> list[AnswerView]:
    rows = session.scalars(select(AnswerRecord).where(
        AnswerRecord.conversation_id == conversation_id, AnswerRecord.user_id == user_id).order_by(AnswerRecord.id))
    return [_view(session, index, set(tokens), r, rating_of(session, user_id, r.id), data_dir) for r in rows]


def readable_history(session: Session, index, user_id: int, tokens: list[str], conversation_id: int) -> list[dict]:
    """The conversation so far as chat messages, with the reader's access as it is now.

    A follow-up is rewritten from earlier turns (by a model, whose rewrite the
    user sees as "searched for"), so an answer that is withheld now (a passage
    the user can no longer read) must not reach the rewrite either: its
    question stays, its answer text is left out.
    """
    from app.answering.conversations import get_own

    get_own(session, user_id, conversation_id)
    messages: list[dict] = []
    for view in conversation_views(session, index, user_id, tokens, conversation_id):
        messages.append({"role": "user", "content": view.question})
        if not view.withheld:
            messages.append({"role": "assistant", "content": view.answer})
    return messages


def _merged_text(session: Session, data_dir: Path | None, doc_id: str, row: AnswerPassage) -> str | None:
    """The text of a passage merged from neighbouring chunks, cut from the clean text by its span,
    while that text is still the version the chunks came from."""
    why = row.why or {}
    if data_dir is None or len(why.get("chunk_ids") or []) < 2 or session.get(Chunk, row.chunk_id) is None:
        return None
    path = text_file(data_dir, doc_id)
    start, end = why.get("span") or (0, 0)
    if not path.exists() or end <= start:
        return None
    return path.read_text(encoding="utf-8")[start:end]


def _view(session: Session, index, tokens: set[str], record: AnswerRecord, rating: RatingView | None,
          data_dir: Path | None = None) -> AnswerView:
    rows: list[AnswerPassage] = list(record.passages)
    payloads = _points(index, [r.chunk_id for r in rows])
    passages: list[PassageView] = []
    withheld = False
    for r in rows:
        doc = session.get(Document, r.document_id)
        payload = payloads.get(r.chunk_id)
        point_ok = payload is None or bool(set(payload.get("acl") or ()) & tokens)
        if not doc_readable(doc, tokens) or not point_ok:
            withheld = True  # fail closed: nothing of this answer is shown
            continue
        why = r.why or {}
        passages.append(PassageView(
            n=r.n, doc_id=doc.id, chunk_id=r.chunk_id, title=doc.title, source=doc.source, doc_type=doc.doc_type,
            page=payload.get("page") if payload else None,
            heading_path=list((payload or {}).get("heading_path") or why.get("heading_path") or []),
            groups=_group_names(doc),
            text=(_merged_text(session, data_dir, doc.id, r) or payload.get("text")) if payload else None, score=r.score,
            cited=r.cited, inferred=r.inferred, support=r.support, why=why,
        ))
    passages.sort(key=lambda p: (not p.cited, p.n))
    return AnswerView(
        answer_id=record.id, conversation_id=record.conversation_id, question=record.question,
        query=record.query, rewrite_method=record.rewrite_method,
        answer="" if withheld else record.answer, not_found=record.not_found, support=record.support,
        sentences=[] if withheld else list(record.sentences or []), passages=[] if withheld else passages,
        withheld=withheld, backend=record.backend, model=record.model, prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens, timings_ms=dict(record.timings_ms or {}),
        passages_dropped=record.passages_dropped or 0,
        created_at=record.created_at, rating=rating,
    )


def _snap_start(text: str, at: int) -> int:
    """Begin the context at a paragraph or sentence start near ``at``."""
    if at <= 0:
        return 0
    for sep in ("\n\n", "\n", ". "):
        i = text.find(sep, at)
        if i != -1 and i < at + 200:
            return i + len(sep)
    return at


def _snap_end(text: str, at: int) -> int:
    if at >= len(text):
        return len(text)
    for sep in ("\n\n", "\n", ". "):
        i = text.rfind(sep, max(0, at - 200), at)
        if i != -1:
            return i + (1 if sep == ". " else 0)
    return at


def source_view(session: Session, index, data_dir: Path, user_id: int, tokens: list[str], answer_id: int,
                n: int) -> SourceView:
    """Passage ``n`` of the user's answer, highlighted in its document's clean text.

    Not found, whatever the reason (no such answer, not theirs, no such passage,
    a document they may no longer read), so the page says nothing about what exists.
    """
    record = own_answer(session, user_id, answer_id)
    row = next((p for p in record.passages if p.n == n), None)
    if row is None:
        raise PassageNotFound(f"no passage {n} in answer {answer_id}")
    doc = session.get(Document, row.document_id)
    allowed = set(tokens)
    payload = _points(index, [row.chunk_id]).get(row.chunk_id)
    if not doc_readable(doc, allowed) or (payload is not None and not set(payload.get("acl") or ()) & allowed):
        raise PassageNotFound(f"no passage {n} in answer {answer_id}")
    chunk = session.get(Chunk, row.chunk_id)
    path = text_file(data_dir, doc.id)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    passage_text = payload.get("text", "") if payload else ""
    span = (row.why or {}).get("span")
    start = end = -1
    if chunk is not None and text:  # the chunk is of the current version, so its spans fit the clean text
        start, end = span if span and span[1] > span[0] else (chunk.char_start, chunk.char_end)
    elif passage_text and text:
        start = text.find(passage_text)
        end = start + len(passage_text) if start >= 0 else -1
    if start < 0 or end > len(text):
        before, middle, after, s0, e0 = "", passage_text or "(this passage is not in the current version)", "", 0, 0
        starts = ends = True
    else:
        s0 = _snap_start(text, max(0, start - CONTEXT_CHARS))
        e0 = _snap_end(text, min(len(text), end + CONTEXT_CHARS))
        before, middle, after = text[s0:start], text[start:end], text[end:e0]
        starts, ends = s0 == 0, e0 >= len(text)
    quoted = _quoted_chunk(session, record, row, text, start, end)
    chunk = quoted or chunk
    heading = (chunk.heading_path.split(" > ") if chunk is not None and chunk.heading_path
               else list((payload or {}).get("heading_path") or []))
    page = chunk.page if chunk is not None else (payload or {}).get("page")
    return SourceView(
        answer_id=answer_id, n=n, doc_id=doc.id, title=doc.title, source=doc.source, doc_type=doc.doc_type,
        page=page, heading_path=heading, groups=_group_names(doc), before=before, passage=middle, after=after,
        starts_document=starts, ends_document=ends,
        original=bool(doc.stored_path and Path(doc.stored_path).exists()), query=record.query,
    )


def _quoted_chunk(session: Session, record: AnswerRecord, row: AnswerPassage, text: str, start: int,
                  end: int) -> Chunk | None:
    """For a passage merged from neighbours, the chunk holding the sentence the answer quoted:
    its page (not the first chunk's) is where "open the original" should land."""
    ids = (row.why or {}).get("chunk_ids") or []
    quote = next((c.get("quote") for c in record.citations or [] if c.get("n") == row.n), None)
    if len(ids) < 2 or not quote or start < 0:
        return None
    at = text.find(quote.rstrip("…"), start, end)
    if at < 0:
        return None
    for chunk_id in ids:
        chunk = session.get(Chunk, chunk_id)
        if chunk is not None and chunk.char_start <= at < chunk.char_end:
            return chunk
    return None


def readable_document(session: Session, tokens: list[str], doc_id: str) -> Document:
    """A document the user may read, for downloading its original; anything else is "not found"."""
    doc = session.get(Document, doc_id)
    if not doc_readable(doc, set(tokens)) or not doc.stored_path or not Path(doc.stored_path).exists():
        raise NotFound("no such document")
    return doc
