"""The library list pages by keyset: Next and Previous links carry a cursor, and walking a sorted,
filtered list forward and back visits every document the reader may read exactly once, in order,
and never one they may not, whatever the sort; a damaged or forged cursor is a clear 400 (never a
500) and cannot reach past the reader's access. Real app in-process, real SQLite."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from app.accounts.directory import add_group, add_user, get_group, get_user
from app.db.library import Document, DocumentGroup
from app.library.paging import PAGE_SIZE, SORTS
from tests.web.conftest import PASSWORD, login

STATUSES = ["ready", "failed", "queued", "cancelled"]
TYPES = ["pdf", "md", None, "docx"]


@pytest.fixture(scope="module")
def shelf(web_services) -> dict[str, dict]:
    """160 "Shelf" documents: kira (role owner, member of 'tundra') may read those of 'tundra', the
    public ones and her own; the rest are only in 'taiga'. Titles repeat with different case, and
    times and chunk counts repeat, so every sort has ties that only the id breaks."""
    with web_services.session() as session:
        add_group(session, "tundra")
        add_group(session, "taiga")
        add_user(session, "kira", role="owner", groups=["tundra"], password=PASSWORD)
        session.flush()
        tundra, taiga = get_group(session, "tundra").id, get_group(session, "taiga").id
        kira = get_user(session, "kira").id
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    docs, links, shelf = [], [], {}
    for i in range(160):
        doc_id = f"shelf{i:04d}" + "0" * 23
        readable = i % 3 != 0 or i % 9 == 0 or i % 15 == 0  # tundra; else public (i % 9) or kira's (i % 15)
        row = dict(id=doc_id, title=f"{'Shelf' if i % 2 else 'shelf'} note {i % 40:02d}", source=f"shelf-{i}.md",
                   source_uri=f"/nowhere/shelf-{i}.md", status=STATUSES[i % 4], doc_type=TYPES[i % 4],
                   chunk_count=i % 7, public=i % 3 == 0 and i % 9 == 0,
                   owner_id=kira if i % 3 == 0 and i % 15 == 0 else None,
                   created_at=base, updated_at=base + timedelta(minutes=i % 11))
        docs.append(row)
        links.append(dict(document_id=doc_id, group_id=tundra if i % 3 else taiga))
        shelf[doc_id] = {**row, "readable": readable}
    with web_services.session() as session:
        session.execute(insert(Document), docs)
        session.execute(insert(DocumentGroup), links)
    return shelf


def ids_on(page: str) -> list[str]:
    return re.findall(r'<tr data-doc="(\w+)"', page)


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', page)
    return html.unescape(found.group(1)) if found else None


def walk(client, params: dict) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """Every page forward by Next, then back by Previous from the last: (forward pages, backward pages,
    the "page n of m" labels seen going forward)."""
    page = client.get("/documents", params=params)
    assert page.status_code == 200
    forward, labels = [ids_on(page.text)], re.findall(r"page \d+ of \d+\+?", page.text)
    while (nxt := link(page.text, "next")) is not None:
        page = client.get("/documents" + nxt)
        assert page.status_code == 200
        forward.append(ids_on(page.text))
        labels += re.findall(r"page \d+ of \d+\+?", page.text)
    backward = [ids_on(page.text)]
    while (prev := link(page.text, "prev")) is not None:
        page = client.get("/documents" + prev)
        assert page.status_code == 200
        backward.append(ids_on(page.text))
    return forward, backward[::-1], labels


def expected_order(shelf: dict, sort: str, keep) -> list[str]:
    """The list as the sort defines it (SQLite's lower() and binary order, as the index reads it)."""
    rows = [r for r in shelf.values() if r["readable"] and keep(r)]
    keys = {
        "updated": lambda r: (r["updated_at"], r["id"]),
        "title": lambda r: (r["title"].lower(), r["id"]),
        "status": lambda r: (r["status"], r["title"].lower(), r["id"]),
        "type": lambda r: (r["doc_type"] or "", r["title"].lower(), r["id"]),
        "chunks": lambda r: (r["chunk_count"], r["id"]),
    }
    return [r["id"] for r in sorted(rows, key=keys[sort], reverse=sort in ("updated", "chunks"))]


@pytest.mark.parametrize("sort", list(SORTS))
def test_paging_forward_and_back_visits_every_readable_document_once_in_order(client, shelf, sort):
    assert login(client, "kira").status_code == 303
    want = expected_order(shelf, sort, lambda r: True)
    assert len(want) > 3 * PAGE_SIZE  # several pages, so cursors are used

    forward, backward, labels = walk(client, {"q": "shelf note", "sort": sort})

    seen = [d for page in forward for d in page]
    assert seen == want, "every readable document once, in the sort's order"
    assert not {d for d in seen if not shelf[d]["readable"]}
    assert backward == forward, "back through the same pages"
    assert all(len(p) == PAGE_SIZE for p in forward[:-1])
    assert labels == [f"page {n} of {len(forward)}" for n in range(1, len(forward) + 1)]


@pytest.mark.parametrize("sort", ["updated", "status", "type"])
def test_paging_keeps_filters_and_the_search(client, shelf, sort):
    assert login(client, "kira").status_code == 303
    for status in ("ready", "failed"):
        forward, backward, _ = walk(client, {"q": "SHELF NOTE", "status": status, "sort": sort})
        assert [d for page in forward for d in page] == expected_order(shelf, sort, lambda r: r["status"] == status)
        assert backward == forward
    group_walk, _, _ = walk(client, {"q": "shelf note", "group": "tundra", "sort": sort})
    assert [d for page in group_walk for d in page] == expected_order(
        shelf, sort, lambda r: int(r["id"][5:9]) % 3 != 0)


def test_an_administrator_walks_every_document_of_both_groups(client, shelf):
    assert login(client, "ivar").status_code == 303
    forward, backward, _ = walk(client, {"q": "shelf note", "sort": "title"})
    assert sorted(d for page in forward for d in page) == sorted(shelf) and backward == forward


def forged(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not-a-cursor!!", "A" * 3000, forged({"a": 1}), forged(["title", "n", 2, None, "x"]),
    forged(["updated", "n", 2, None, "yesterday", "shelf0001"]), forged(["chunks", "n", 2, None, "3", "x"]),
    forged(["status", "n", 2, None, "x", "shelf0001"]), forged(["title", "sideways", 2, None, "x", "y"]),
    forged(["title", "n", 0, None, "x", "y"]), forged(["title", "n", 2, None, ["x"], "y"]),
    forged(["updated", "n", 2, None, "2026-01-01T00:00:00", "y"]),  # made for another sort than asked
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_a_damaged_cursor_is_a_clear_400_never_a_500(client, shelf, cursor):
    assert login(client, "kira").status_code == 303
    r = client.get("/documents", params={"sort": "title", "cursor": cursor})
    assert r.status_code == 400
    assert "start again from the first page" in r.text


def test_a_forged_cursor_moves_within_the_readers_list_and_never_past_their_access(client, shelf, web_services):
    assert login(client, "kira").status_code == 303
    hidden = sorted((r for r in shelf.values() if not r["readable"]), key=lambda r: (r["title"].lower(), r["id"]))
    start = hidden[0]  # a document kira may not read: a cursor at it must show only what she may
    cursor = forged(["title", "n", 7, None, start["title"].lower(), start["id"]])
    page = client.get("/documents", params={"q": "shelf note", "sort": "title", "cursor": cursor})
    assert page.status_code == 200 and ids_on(page.text)
    assert all(shelf[d]["readable"] for d in ids_on(page.text))
    assert ids_on(page.text) == [d for d in expected_order(shelf, "title", lambda r: True)
                                 if (shelf[d]["title"].lower(), d) > (start["title"].lower(), start["id"])][:PAGE_SIZE]
    with web_services.session() as session:  # nothing was changed by reading
        assert session.scalar(select(Document.title).where(Document.id == start["id"])) == start["title"]
