"""Keyset paging of the library list on SQLite and on PostgreSQL: for every sort, walking the pages
by their cursors, forward and back, gives exactly the list one ORDER BY over everything gives in
that database (its own lower() and collation, NULL types, case-only differences, accents, ties),
with the reader's access in every page. The oracle is the database itself, so the two engines'
different orderings of text are each checked against themselves."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from app.accounts.directory import add_group, add_user, get_group, get_user
from app.db.library import Document, DocumentGroup
from app.library.listing import LibraryQuery, list_library
from app.library.paging import PAGE_SIZE, SORTS
from app.library.scope import readable_clause

TITLES = ["Apple plan", "apple plan", "Élan report", "éclair menu", "Zebra crossing", "zebra crossing",
          "Ångström notes", "Öl list", "_underscore", "100 rules", "Mañana", "MANANA"]


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request, make_services):
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    services = make_services(database_url=url) if url else make_services()
    with services.session() as session:
        add_group(session, "north")
        add_group(session, "south")
        add_user(session, "nora", role="owner", groups=["north"])
        session.flush()
        north, south = get_group(session, "north").id, get_group(session, "south").id
        nora = get_user(session, "nora").id
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    docs = [dict(id=f"pg{i:04d}" + "0" * 26, title=f"{TITLES[i % len(TITLES)]}", source=f"d{i}.md",
                 source_uri=f"/nowhere/d{i}.md", status=["ready", "failed", "queued"][i % 3],
                 doc_type=[None, "pdf", "md", "docx", "pptx"][i % 5], chunk_count=i % 4,
                 public=i % 13 == 0, owner_id=nora if i % 17 == 0 else None,
                 created_at=base, updated_at=base + timedelta(seconds=i % 9)) for i in range(150)]
    with services.session() as session:
        session.execute(insert(Document), docs)
        session.execute(insert(DocumentGroup), [dict(document_id=d["id"], group_id=north if i % 2 else south)
                                                for i, d in enumerate(docs)])
    return services


def oracle(session, user, sort: str) -> list[str]:
    """The whole readable list in this sort, by one ORDER BY without paging."""
    order = SORTS[sort]
    columns = [c.desc() if order.descending else c.asc() for c in order.columns()]
    return list(session.scalars(select(Document.id).where(readable_clause(user)).order_by(*columns)))


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("who", ["nora", "operator"])
def test_walking_by_cursor_equals_one_order_by_over_everything(services, sort, who):
    with services.session() as session:
        if who == "operator":
            add_user(session, "opal", role="admin")
            session.flush()
        user = get_user(session, "nora" if who == "nora" else "opal")
        want = oracle(session, user, sort)
        assert len(want) > 2 * PAGE_SIZE and len(want) < 150 if who == "nora" else len(want) == 150

        pages, query = [], LibraryQuery(sort=sort)
        while True:
            page = list_library(session, user, query)
            pages.append([r.id for r in page.rows])
            if page.next_cursor is None:
                break
            query = LibraryQuery(sort=sort, cursor=page.next_cursor)
        back = [[r.id for r in page.rows]]
        while page.prev_cursor is not None:
            page = list_library(session, user, LibraryQuery(sort=sort, cursor=page.prev_cursor))
            back.append([r.id for r in page.rows])

    assert [d for p in pages for d in p] == want
    assert back[::-1] == pages
