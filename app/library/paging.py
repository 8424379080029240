"""Keyset ("seek") paging for the library list: a page starts where the previous one ended.

An OFFSET walks every row before the page, the access rule checked on each: at
page 1,000 of 100,000 documents that cost 0.27-1.1 s (``bench/upload.py``). A
cursor instead carries the sort key and id of the row a page ends (or starts)
at, and the next page is read from an index starting there: the same few rows'
work at any depth.

Each sort is (an optional *lead* with few values, a *key*, the id), all in one
direction, with a matching index (migration 0016). A lead sort (status, type) is
read in two seeks: the rest of the cursor's lead value by (key, id), then the
following lead values from their start. One seek over three columns would only
use the index for the first, because the key is an expression (``lower(title)``);
two seeks use it fully on SQLite and PostgreSQL.

A cursor is base64url JSON of plain values, validated on the way in (shape,
types, sizes, the sort it was made for). It needs no signature: it only says
where to start in the reader's own list, and the access rule is in every query,
so a forged cursor can move a reader within what they may read, never beyond.
A malformed one is ``Invalid`` (400), never a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_
from sqlalchemy.orm import Session

from app.db.library import Document
from app.errors import Invalid

PAGE_SIZE = 25
MAX_CURSOR_CHARS = 2_000
MAX_PAGE = 10_000_000


@dataclass(frozen=True)
class Sort:
    """One order the list offers, as an index can read it."""

    lead: ColumnElement | None  # a column of few values read first (status, type), or None
    key: ColumnElement
    descending: bool
    key_kind: type  # str, int or datetime: what a cursor's key must parse to

    def columns(self) -> list[ColumnElement]:
        return [c for c in (self.lead, self.key, Document.id) if c is not None]


TITLE = func.lower(Document.title)
# No NULLs (they order differently on SQLite and PostgreSQL); the empty string written inline, not bound,
# or neither database would match the expression to its index.
TYPE = func.coalesce(Document.doc_type, literal_column("''"))
SORTS: dict[str, Sort] = {
    "updated": Sort(None, Document.updated_at, True, datetime),
    "title": Sort(None, TITLE, False, str),
    "status": Sort(Document.status, TITLE, False, str),
    "type": Sort(TYPE, TITLE, False, str),
    "chunks": Sort(None, Document.chunk_count, True, int),
}


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (``forward``) or before this row, in ``sort``; ``page`` is its number."""

    sort: str
    forward: bool
    page: int
    lead: str | None
    key: Any
    doc_id: str

    def encode(self) -> str:
        key = self.key.isoformat() if isinstance(self.key, datetime) else self.key
        raw = json.dumps([self.sort, "n" if self.forward else "p", self.page, self.lead, key, self.doc_id],
                         separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


BAD_CURSOR = "this page link is damaged or was made for another list; start again from the first page"


def decode_cursor(text: str, sort_name: str) -> Cursor:
    """The cursor in a page link, checked value by value; ``Invalid`` for anything else."""
    if len(text) > MAX_CURSOR_CHARS:
        raise Invalid(BAD_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Invalid(BAD_CURSOR) from exc
    if not isinstance(values, list) or len(values) != 6:
        raise Invalid(BAD_CURSOR)
    name, direction, page, lead, key, doc_id = values
    sort = SORTS.get(name) if isinstance(name, str) else None
    if (sort is None or name != sort_name or direction not in ("n", "p")
            or not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= MAX_PAGE
            or not isinstance(doc_id, str) or not 0 < len(doc_id) <= 64
            or (lead is None) != (sort.lead is None) or (lead is not None and not _short_text(lead))):
        raise Invalid(BAD_CURSOR)
    return Cursor(name, direction == "n", page, lead, _key(key, sort.key_kind), doc_id)


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 1_000


def _key(value: Any, kind: type) -> Any:
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**62:
        return value
    if kind is str and _short_text(value):
        return value
    if kind is datetime and _short_text(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise Invalid(BAD_CURSOR) from exc
    raise Invalid(BAD_CURSOR)


def _after(column: ColumnElement, value: Any, later: bool) -> ColumnElement[bool]:
    return column > value if later else column < value


def _past(sort: Sort, cursor: Cursor, later_is_greater: bool) -> ColumnElement[bool]:
    """(key, id) strictly beyond the cursor's, written so an index on (key, id) is searched from it:
    ``key >= k AND (key > k OR id > i)`` (a row value would not use an expression index on SQLite)."""
    at_or_past = sort.key >= cursor.key if later_is_greater else sort.key <= cursor.key
    return and_(at_or_past, or_(_after(sort.key, cursor.key, later_is_greater),
                                _after(Document.id, cursor.doc_id, later_is_greater)))


def seek(session: Session, base: Select, sort: Sort, cursor: Cursor | None, limit: int) -> list[tuple]:
    """Up to ``limit`` rows of ``base`` (which selects Document and the sort's columns) from the cursor on,
    in the direction it points; always returned in the sort's order."""
    forward = cursor is None or cursor.forward
    ascending = forward != sort.descending  # the order this read walks the index in
    order = [c.asc() if ascending else c.desc() for c in sort.columns()]
    if cursor is None:
        return list(session.execute(base.order_by(*order).limit(limit)).all())
    if sort.lead is None:
        rows = list(session.execute(base.where(_past(sort, cursor, ascending)).order_by(*order).limit(limit)).all())
    else:
        # The lead is fixed here, so it is left out of the order: SQLite does not see an expression
        # (the type's coalesce) as constant under "= ?" and would sort every row of it otherwise.
        rows = list(session.execute(base.where(sort.lead == cursor.lead, _past(sort, cursor, ascending))
                                    .order_by(*order[1:]).limit(limit)).all())
        if len(rows) < limit:  # the rest of this lead value is read; the next values from their start
            rows += session.execute(base.where(_after(sort.lead, cursor.lead, ascending))
                                    .order_by(*order).limit(limit - len(rows))).all()
    return rows if forward else rows[::-1]


def cursor_at(sort_name: str, row: Sequence, forward: bool, page: int) -> str:
    """A link's cursor at this row (Document, lead?, key) of the list, leading to page ``page``."""
    sort = SORTS[sort_name]
    doc, values = row[0], list(row[1:])
    lead = values.pop(0) if sort.lead is not None else None
    return Cursor(sort_name, forward, page, lead, values[0], doc.id).encode()
