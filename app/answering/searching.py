"""Search as a reader: the one use case behind ``inhouse search`` and ``POST /api/v1/search``.

The ACL filter is inside the index query (the reader's tokens), and every hit
is checked once more against the database's access of its document, because
the index's copy of access may be stale (``app.library.access``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.library.access import readable_in_database

if TYPE_CHECKING:
    from app.services import Services
    from retrieval.hits import SearchHit
    from retrieval.schema import IndexFilter


def search_readable(services: "Services", tokens: list[str], text: str, k: int = 10, mode: str | None = None,
                    where: "IndexFilter | None" = None) -> list["SearchHit"]:
    services.check_collection(create=False)
    hits = services.searcher.search(text, tokens, k=k, mode=mode, where=where)
    return readable_in_database(services, hits, tokens)
