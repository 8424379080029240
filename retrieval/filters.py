"""Translate our IndexFilter into the filter objects of a Qdrant API.

Qdrant Edge (``qdrant_edge``) and qdrant-client (``qdrant_client.models``)
spell the same filter model with nearly the same class names; ``FilterKit``
names the differences so one function builds both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrieval.schema import IndexFilter


@dataclass(frozen=True)
class FilterKit:
    Filter: Any
    FieldCondition: Any
    MatchAny: Any
    MatchValue: Any
    MatchText: Any
    DatetimeRange: Any


def edge_kit() -> FilterKit:
    import qdrant_edge as q

    return FilterKit(q.Filter, q.FieldCondition, q.MatchAny, q.MatchValue, q.MatchText, q.RangeDateTime)


def client_kit() -> FilterKit:
    from qdrant_client import models as m

    return FilterKit(m.Filter, m.FieldCondition, m.MatchAny, m.MatchValue, m.MatchText, m.DatetimeRange)


def build_filter(spec: IndexFilter | None, kit: FilterKit) -> Any:
    if spec is None:
        return None
    must: list[Any] = []
    must_not: list[Any] = []

    def any_of(key: str, values: list[str]) -> None:
        must.append(kit.FieldCondition(key=key, match=kit.MatchAny(any=list(values))))

    if spec.acl_tokens is not None:
        # An empty token list must match nothing, never everything.
        any_of("acl", spec.acl_tokens or ["\x00nobody"])
    if spec.doc_ids is not None:
        any_of("doc_id", spec.doc_ids or ["\x00none"])
    if spec.doc_types:
        any_of("doc_type", spec.doc_types)
    if spec.sources:
        any_of("source", spec.sources)
    if spec.owners:
        any_of("owner", spec.owners)
    if spec.created_from or spec.created_to:
        must.append(
            kit.FieldCondition(
                key="created_at",
                range=kit.DatetimeRange(
                    gte=spec.created_from.isoformat() if spec.created_from else None,
                    lte=spec.created_to.isoformat() if spec.created_to else None,
                ),
            )
        )
    if spec.title:
        must.append(kit.FieldCondition(key="title", match=kit.MatchText(text=spec.title)))
    if spec.doc_sha:
        must.append(kit.FieldCondition(key="doc_sha", match=kit.MatchValue(value=spec.doc_sha)))
    if spec.exclude_doc_sha:
        must_not.append(kit.FieldCondition(key="doc_sha", match=kit.MatchValue(value=spec.exclude_doc_sha)))
    if not must and not must_not:
        return None
    return kit.Filter(must=must or None, must_not=must_not or None)
