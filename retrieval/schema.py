"""The one collection schema shared by ingestion (writes) and retrieval (reads).

Every chunk is one point with a named dense vector, a named BM25 sparse vector
(IDF supplied by Qdrant) and the payload below. ``acl`` is the single field
every read path filters on (see DESIGN.md, "Access control, one rule
everywhere").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DENSE = "dense"
SPARSE = "bm25"

# uuid5 namespace for point ids; never change it, or every index must be rebuilt.
POINT_NAMESPACE = uuid.UUID("6f1c7a52-3d0e-4d6b-9a51-8f4c2b9e7d10")

# payload field -> index kind ("keyword", "integer", "datetime", "text")
PAYLOAD_INDEXES: dict[str, str] = {
    "acl": "keyword",
    "doc_id": "keyword",
    "doc_sha": "keyword",
    "doc_type": "keyword",
    "source": "keyword",
    "owner": "keyword",
    "groups": "keyword",
    "created_at": "datetime",
    "title": "text",
    "chunk_no": "integer",
}

PUBLIC_TOKEN = "public"


def _stable(kind: str, uid: str) -> str:
    # An integer is a database-local row id, which another database hands to someone else
    # (issue 15, leak 3): refuse it loudly rather than write or match a token of the wrong person.
    if not isinstance(uid, str) or not uid or uid.isdigit():
        raise TypeError(f"a {kind} token names the {kind}'s never-reused uid, not {uid!r}")
    return f"{kind}:{uid}"


def user_token(user_uid: str) -> str:
    """``user:<uid>``: the user's random uid (``users.uid``), never their row id."""
    return _stable("user", user_uid)


def group_token(group_uid: str) -> str:
    """``group:<uid>``: the group's random uid (``groups.uid``), never its row id."""
    return _stable("group", group_uid)


def point_id(doc_id: str, chunk_no: int, text_sha: str) -> str:
    """Deterministic, so a re-run after a crash overwrites instead of duplicating."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{doc_id}:{chunk_no}:{text_sha}"))


@dataclass(frozen=True)
class SparseVec:
    indices: list[int]
    values: list[float]


@dataclass
class ChunkPoint:
    id: str
    dense: list[float]
    sparse: SparseVec
    payload: dict[str, Any]


@dataclass
class IndexFilter:
    """What a query or a bulk operation may touch.

    ``acl_tokens`` None means "no access restriction" and is only for
    maintenance (delete, re-index); every user-facing read passes tokens.
    """

    acl_tokens: list[str] | None = None
    doc_ids: list[str] | None = None
    doc_types: list[str] | None = None
    sources: list[str] | None = None
    owners: list[str] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    title: str | None = None  # full-text match on the title
    doc_sha: str | None = None  # points of exactly this version of the document
    exclude_doc_sha: str | None = None  # points of any other version of the document


@dataclass
class IndexHit:
    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)
