"""Issue 19, what was left: a zip or a folder uploaded at once, cancelling a file or a whole upload,
and a document's versions and ingestion log, each through the route a user takes (the real app
in-process, real SQLite, the real index and models, real zip files made here).

Forbidden cases: a zip bomb (too inflated, too many members, overlapping entries, a directory
that lies), a member or a folder path with ``..`` or an absolute path, cancelling without a
session, as an employee, without the CSRF token, another group's document (not found), a
readable document the owner does not manage (forbidden), and a batch holding one of those
(refused whole: nothing of it is cancelled)."""

from __future__ import annotations

import html
import io
import re
import struct
import time
import zipfile

import pytest
from sqlalchemy import select

from app.accounts.actions import set_group_owner
from app.accounts.actor import Actor
from app.accounts.directory import acl_tokens, add_user, get_user
from app.answering.searching import search_readable
from app.db.library import Chunk, Document, IngestJob
from app.library import archives
from app.library.actions import ingest_paths
from app.library.uploads import staging_dir
from retrieval.schema import IndexFilter
from tests.web.conftest import PASSWORD, csrf_of, login

HX = {"HX-Request": "true"}
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 40


@pytest.fixture(scope="module", autouse=True)
def owners(web_services):
    """olga owns 'everyone'; bert owns 'board'; rita (role owner) reads both and owns neither."""
    with web_services.session() as session:
        add_user(session, "olga", role="owner", groups=["everyone"], password=PASSWORD)
        add_user(session, "bert", role="owner", groups=["board"], password=PASSWORD)
        add_user(session, "rita", role="owner", groups=["everyone", "board"], password=PASSWORD)
    set_group_owner(web_services, Actor.operator(), "everyone", "olga", True)
    set_group_owner(web_services, Actor.operator(), "board", "bert", True)


def signed_in(client, name: str) -> str:
    r = login(client, name)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)


def upload(client, csrf, files, groups=("everyone",)):
    return client.post("/documents/upload", data={"csrf": csrf, "groups": list(groups)},
                       files=[("files", (n, b)) for n, b in files], headers=HX)


def states(html: str) -> dict[str, str]:
    """data-file (refused and unpacked rows) or the source line (progress rows) -> data-state."""
    out = {}
    for m in re.finditer(r'<tr[^>]*class="progress-row"[^>]*data-state="([^"]+)"[^>]*>(.*?)</tr>', html, re.S):
        file = re.search(r'data-file="([^"]+)"', m.group(0))
        source = re.search(r'<div class="muted small">([^<]+)</div>', m.group(2))
        out[(file or source).group(1)] = m.group(1)
    return out


def make_zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buf.getvalue()


def nothing_staged(services) -> bool:
    return not any(staging_dir(services.settings.data_dir).glob("*/*"))


def doc_by_source(services, source: str) -> Document | None:
    with services.session() as session:
        doc = session.scalar(select(Document).where(Document.source == source).order_by(Document.created_at.desc()))
        if doc is not None:
            session.expunge(doc)
        return doc


def status_of(services, doc_id: str) -> str:
    with services.session() as session:
        return session.get(Document, doc_id).status


def wait_idle(services, timeout_s: float = 240) -> None:
    from app.library.ingestion import IngestService

    deadline = time.monotonic() + timeout_s
    while IngestService(services).pending_jobs():
        assert time.monotonic() < deadline, "the worker did not finish the queued jobs"
        time.sleep(0.1)


# ---- a zip and a folder ----------------------------------------------------------------

def test_a_zip_becomes_one_document_per_member_and_bad_members_are_refused_alone(client, web_services, tmp_path):
    csrf = signed_in(client, "olga")
    escaped = tmp_path.parent / "escape.md"
    archive = make_zip({
        "policies/": b"",
        "policies/leave.md": b"# Parental leave\n\nParents get forty-nine weeks of paid leave in total.\n",
        "policies/travel/trains.md": b"# Trains\n\nTrips under six hours go by train, in second class.\n",
        "notes/empty.txt": b"",
        "bin/tool.exe": ELF,
        f"../../{escaped.name}": b"# Escape\n\nThis must never be written outside the staging folder.\n",
        "/etc/cron.d/evil.md": b"# Evil\n\nabsolute\n",
        "../<script>alert(1)</script>.md": b"# x\n\ny\n",
        "__MACOSX/policies/._leave.md": b"\x00\x05\x16\x07",
        "policies/.DS_Store": b"\x00\x00\x00\x01Bud1",
    })
    r = upload(client, csrf, [("handbook.zip", archive), ("loose.md", b"# Loose\n\nA loose note beside the zip.\n")])
    assert r.status_code == 200, r.text
    found = states(r.text)
    assert found["handbook.zip"] == "unpacked"
    assert found["policies/leave.md"] == "queued" and found["policies/travel/trains.md"] == "queued"
    assert found["notes/empty.txt"] == "refused" and found["bin/tool.exe"] == "refused"
    assert found["loose.md"] == "queued"
    assert "refused: the file is empty" in r.text and "unsupported file type" in r.text
    assert r.text.count("climbs out of its folder (..)") == 2 and "is an absolute path" in r.text
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text  # the name is escaped
    assert "DS_Store" not in r.text and "__MACOSX" not in r.text  # skipped, like hidden files in a folder
    assert 'data-batch="3"' in r.text  # the upload's cancel row names its three queued documents
    assert not escaped.exists() and not (tmp_path.parent.parent / escaped.name).exists()
    assert nothing_staged(web_services)
    leave = doc_by_source(web_services, "policies/leave.md")
    assert leave is not None and leave.title in ("leave", "Parental leave")  # the worker may already have parsed it
    wait_idle(web_services)
    with web_services.session() as session:
        sofie = acl_tokens(session, get_user(session, "sofie"))
    hits = search_readable(web_services, sofie, "how many weeks of paid parental leave")
    assert any(h.doc_id == leave.id for h in hits)
    settled = doc_by_source(web_services, "policies/leave.md")
    assert settled.status == "ready" and settled.title == "Parental leave"  # the heading replaces the file name
    page = client.get("/documents", params={"q": "trains"}).text
    assert "policies/travel/trains.md" in page  # the relative path is the source the library shows


def test_a_zip_bomb_is_refused_whole_from_its_directory(client, web_services):
    csrf = signed_in(client, "olga")
    zeros = b"\0" * (40 * 1024 * 1024)  # 40 MiB of zeros: about 40 KiB deflated, a ratio near 1,000
    bomb = make_zip({"fine.md": b"# Fine\n\nA fine file inside a bomb.\n", "zeros.txt": zeros})
    assert len(bomb) < 200 * 1024
    r = upload(client, csrf, [("bomb.zip", bomb), ("beside.md", b"# Beside\n\nA file beside the bomb.\n")])
    assert r.status_code == 200
    found = states(r.text)
    assert found == {"bomb.zip": "refused", "beside.md": "queued"}, found
    assert "zip bomb refused" in r.text and "more than 100 times" in r.text
    assert doc_by_source(web_services, "fine.md") is None  # nothing of the archive was kept
    assert nothing_staged(web_services)


def test_a_zip_of_too_many_members_or_too_many_bytes_is_refused(client, web_services, monkeypatch):
    csrf = signed_in(client, "olga")
    many = make_zip({f"n/{i}.md": b"# n\n\nx\n" for i in range(archives.MAX_MEMBERS + 1)}, zipfile.ZIP_STORED)
    r = upload(client, csrf, [("many.zip", many)])
    assert states(r.text) == {"many.zip": "refused"} and "1,001 files" in r.text
    monkeypatch.setattr(web_services.settings, "max_unpacked_bytes", 64 * 1024)
    big = make_zip({"a.txt": b"plain words " * 4000, "b.txt": b"other words " * 4000})
    r = upload(client, csrf, [("big.zip", big)])
    assert states(r.text) == {"big.zip": "refused"} and "INHOUSE_MAX_UNPACKED_BYTES" in r.text
    assert nothing_staged(web_services)


def overlapping_zip() -> bytes:
    """Two directory entries pointing at one local header: the overlapping-entry bomb's trick."""
    raw = bytearray(make_zip({"one.md": b"# One\n\nfirst\n", "two.md": b"# Two\n\nsecond\n"}))
    second = raw.rfind(b"PK\x01\x02")  # the second central directory entry
    struct.pack_into("<I", raw, second + 42, 0)  # its local header offset -> the first member's
    return bytes(raw)


def lying_zip() -> bytes:
    """A member whose directory says 1,000 bytes while its stream inflates to 2 MiB."""
    raw = bytearray(make_zip({"liar.txt": b"a" * (2 * 1024 * 1024)}))
    struct.pack_into("<I", raw, 22, 1000)  # local header: uncompressed size
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 1000)  # central directory: uncompressed size
    return bytes(raw)


def test_a_zip_with_overlapping_entries_or_a_lying_directory_is_refused(client, web_services):
    csrf = signed_in(client, "olga")
    r = upload(client, csrf, [("overlap.zip", overlapping_zip())])
    assert states(r.text) == {"overlap.zip": "refused"} and "overlapping entries" in r.text
    r = upload(client, csrf, [("liar.zip", lying_zip())])
    found = states(r.text)
    # zipfile stops at the size the directory gives and the CRC then fails: the member is refused
    # while unpacking, and no more than the declared 1,000 bytes were ever written
    assert found == {"liar.zip": "unpacked", "liar.txt": "refused"}, found
    assert "cannot unpack this member" in r.text
    assert doc_by_source(web_services, "liar.txt") is None
    assert nothing_staged(web_services)


def test_the_unpacking_counts_bytes_and_refuses_past_the_total(tmp_path):
    """The limits checked while unpacking, apart from the directory's: a total over the limit stops
    the unpacking and removes what was unpacked (the directory check given a generous limit)."""
    path = tmp_path / "two.zip"
    path.write_bytes(make_zip({"a.txt": b"a" * 5000, "b.txt": b"b" * 5000}))
    with zipfile.ZipFile(path) as zf:
        archives.check_directory(zf, 1 << 20)
    original = archives.check_directory
    try:
        archives.check_directory = lambda zf, max_total: [i for i in zf.infolist()]  # a directory we trust
        with pytest.raises(archives.ArchiveRefused, match="unpacks past 6,000 bytes"):
            archives.unpack(path, tmp_path / "data", 6000, 1 << 20)
    finally:
        archives.check_directory = original
    assert not any((tmp_path / "data" / "uploads").glob("*/*"))


def test_a_folder_upload_keeps_relative_paths_and_refuses_one_that_climbs(client, web_services, tmp_path):
    csrf = signed_in(client, "olga")
    outside = tmp_path.parent / "climbed.md"
    r = upload(client, csrf, [
        ("site-notes/kitchen/coffee.md", b"# Coffee\n\nThe coffee machine is descaled on Mondays.\n"),
        ("site-notes/readme.txt", b"Notes from the site visits, one file per room.\n"),
        (f"site-notes/../../{outside.name}", b"# Climb\n\nnever\n"),
        ("/abs/rooted.md", b"# Rooted\n\nnever\n"),
    ])
    found = states(r.text)
    assert found["site-notes/kitchen/coffee.md"] == "queued" and found["site-notes/readme.txt"] == "queued"
    refused = [k for k, v in found.items() if v == "refused"]
    assert len(refused) == 2 and "climbs out of its folder" in r.text and "is an absolute path" in r.text
    assert not outside.exists() and nothing_staged(web_services)
    coffee = doc_by_source(web_services, "site-notes/kitchen/coffee.md")
    assert coffee is not None and coffee.title in ("coffee", "Coffee")  # the worker may already have parsed it
    wait_idle(web_services)
    assert doc_by_source(web_services, "site-notes/kitchen/coffee.md").title == "Coffee"


# ---- cancelling --------------------------------------------------------------------------

def job_of(services, doc_id: str) -> IngestJob:
    with services.session() as session:
        job = session.scalar(select(IngestJob).where(IngestJob.document_id == doc_id).order_by(IngestJob.id.desc()))
        session.expunge(job)
        return job


def test_cancel_needs_a_session_a_csrf_token_and_a_document_the_user_manages(client, web_services):
    client.app.state.jobs.stop()  # nothing runs: the uploads below stay queued
    csrf = signed_in(client, "olga")
    r = upload(client, csrf, [("queued-a.md", b"# Queued A\n\nfirst queued note\n"),
                              ("queued-b.md", b"# Queued B\n\nsecond queued note\n")])
    a, b = doc_by_source(web_services, "queued-a.md").id, doc_by_source(web_services, "queued-b.md").id
    bert_csrf = signed_in(client, "bert")
    r = upload(client, bert_csrf, [("board-q.md", b"# Board queued\n\nboard note\n")], groups=["board"])
    board = doc_by_source(web_services, "board-q.md").id

    client.cookies.clear()
    assert client.post(f"/documents/{a}/cancel", data={}).status_code in (303, 401)
    assert client.post("/documents/cancel", data={"docs": a}).status_code in (303, 401)
    sofie = signed_in(client, "sofie")  # an employee
    assert client.post(f"/documents/{a}/cancel", data={"csrf": sofie}).status_code == 403
    assert client.post("/documents/cancel", data={"csrf": sofie, "docs": a}).status_code == 403
    bert_csrf = signed_in(client, "bert")  # owner of board: olga's document is not even readable to him
    assert client.post(f"/documents/{a}/cancel", data={"csrf": bert_csrf}).status_code == 404
    rita = signed_in(client, "rita")  # reads both groups, owns neither
    assert client.post(f"/documents/{board}/cancel", data={"csrf": rita}).status_code == 403
    csrf = signed_in(client, "olga")
    assert client.post(f"/documents/{a}/cancel", data={}).status_code == 403  # no CSRF token
    assert client.post("/documents/cancel", data={"csrf": csrf, "docs": f"{a} {board}"}).status_code == 404
    for doc_id in (a, b, board):  # a batch holding another group's document is refused whole
        assert job_of(web_services, doc_id).status == "queued"
    assert client.post("/documents/cancel", data={"csrf": csrf, "docs": ""}).status_code == 400

    r = client.post(f"/documents/{a}/cancel", data={"csrf": csrf}, headers=HX)
    assert r.status_code == 200 and 'data-state="cancelled"' in r.text and "by olga" in r.text
    assert "hx-get" not in r.text  # final: the row stops polling
    r = client.post("/documents/cancel", data={"csrf": csrf, "docs": f"{a} {b}"}, headers=HX)
    assert r.status_code == 200 and 'data-cancelled="1"' in r.text and "1 had already finished" in r.text
    assert job_of(web_services, b).status == "cancelled" and job_of(web_services, board).status == "queued"
    with web_services.session() as session:
        assert session.get(Document, a).status == "cancelled"
    page = client.get(f"/documents/{a}").text
    assert 'data-status="cancelled"' in page and "Queue again" in page
    assert re.search(r'data-event="cancelled"[^>]*>.*?by olga', page, re.S)
    assert client.get("/documents", params={"status": "cancelled"}).text.count('data-doc="') == 2
    r = client.post(f"/documents/{a}/retry", data={"csrf": csrf})  # a cancelled document can be queued again
    assert r.status_code == 303 and job_of(web_services, a).status == "queued"
    bert_csrf = signed_in(client, "bert")
    assert client.post(f"/documents/{board}/cancel", data={"csrf": bert_csrf}).status_code == 303
    assert job_of(web_services, board).status == "cancelled"


def test_a_running_job_stops_at_its_next_checkpoint_leaving_nothing_indexed(client, web_services):
    csrf = signed_in(client, "olga")
    import random

    words = random.Random(19).choices(
        "annex room chair table projector whiteboard window door lamp cable desk shelf plant clock screen "
        "carpet radiator socket blind cupboard heater kettle printer sofa mirror".split(), k=400 * 120)
    paragraphs = "\n\n".join(f"## Section {i}\n\nRoom QX{i:04}: " + " ".join(words[i * 120:(i + 1) * 120]) + "."
                               for i in range(400))  # no two alike, so de-duplication keeps them all
    r = upload(client, csrf, [("annex.md", f"# Annex rooms\n\n{paragraphs}\n".encode())])
    doc_id = doc_by_source(web_services, "annex.md").id
    deadline = time.monotonic() + 240
    while True:  # running, with some batches written and more to come
        job = job_of(web_services, doc_id)
        if job.status == "running" and 0 < job.chunks_done < job.chunks_total - 64:
            break
        assert job.status in ("queued", "running") and time.monotonic() < deadline, (job.status, job.chunks_done)
        time.sleep(0.05)
    assert web_services.index.count(IndexFilter(doc_ids=[doc_id])) > 0  # batches are in the index
    r = client.post(f"/documents/{doc_id}/cancel", data={"csrf": csrf}, headers=HX)
    assert r.status_code == 200 and 'data-state="cancelling"' in r.text and "hx-get" in r.text  # still polling
    while job_of(web_services, doc_id).status == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    job = job_of(web_services, doc_id)
    assert job.status == "cancelled" and job.chunks_done < job.chunks_total, (job.status, job.chunks_done)
    assert web_services.index.count(IndexFilter(doc_ids=[doc_id])) == 0  # nothing half-indexed
    with web_services.session() as session:
        assert session.get(Document, doc_id).status == "cancelled"
        assert session.scalar(select(Chunk.id).where(Chunk.document_id == doc_id)) is None
        tokens = acl_tokens(session, get_user(session, "sofie"))
    assert not any(h.doc_id == doc_id for h in search_readable(web_services, tokens, "annex room chairs QX0003"))
    row = client.get(f"/documents/{doc_id}/row").text
    assert 'data-state="cancelled"' in row and "hx-get" not in row
    log = client.get(f"/documents/{doc_id}").text
    assert re.search(r'data-event="cancel asked"', log) is None  # the job ended cancelled: one line says so
    assert 'data-event="cancelled"' in log and 'data-event="started"' in log


# ---- versions and the ingestion log ----------------------------------------------------

def test_a_document_page_lists_its_versions_and_its_ingestion_log(client, web_services, tmp_path):
    path = tmp_path / "menu.md"
    path.write_text("# Menu\n\nMonday: lentil soup.\n")
    ivar = Actor(name="ivar", role="admin", user_id=None)
    [first] = ingest_paths(web_services, ivar, [path], ["everyone"])
    wait_idle(web_services)  # the app's worker may claim the job before this ingest runs it
    assert status_of(web_services, first.id) == "ready"
    path.write_text("# Menu\n\nMonday: lentil soup.\n\nTuesday: fish cakes with <b>remoulade</b>.\n")
    [second] = ingest_paths(web_services, ivar, [path], ["everyone"])
    wait_idle(web_services)
    assert second.id == first.id and status_of(web_services, first.id) == "ready"
    signed_in(client, "olga")
    page = client.get(f"/documents/{first.id}").text
    versions = re.findall(r'<tr data-version="(\w+)" data-status="(\w+)"( data-current)?>(.*?)</tr>', page, re.S)
    assert len(versions) == 2, versions
    newest, older = versions
    assert newest[1] == "done" and newest[2] and not older[2]  # readers get the newest
    assert "ivar" in newest[3] and f"{path.stat().st_size:,}" in newest[3] and "readers get this one" in newest[3]
    events = re.findall(r'data-event="([^"]+)"', page)
    assert events.count("queued") == 2 and events.count("started") == 2 and events.count("finished") == 2
    assert "chunks" in page and "by ivar" in page
    assert "<b>remoulade</b>" not in page  # chunk text is escaped too

    csrf = signed_in(client, "olga")
    upload(client, csrf, [("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 500)])
    wait_idle(web_services)
    broken = doc_by_source(web_services, "broken.pdf").id
    page = client.get(f"/documents/{broken}").text
    assert re.search(r'data-event="failed"[^>]*>.*?damaged|data-event="failed"', page, re.S)
    assert "by olga" in page
    failed_line = re.search(r'<li data-event="failed".*?</li>', page, re.S).group(0)
    assert ": " in failed_line and len(failed_line) > 60  # the reason is there in words


# ---- the list past the count cap ---------------------------------------------------------

def test_the_library_stops_counting_at_the_cap_and_still_pages_on(client, web_services):
    from sqlalchemy import insert

    from app.accounts.directory import add_group
    from app.db.library import DocumentGroup
    from app.library.listing import COUNT_CAP

    n = COUNT_CAP + 30
    with web_services.session() as session:
        group = add_group(session, "capped")
        session.flush()
        group_id = group.id
    ids = [f"cap{i:05d}" + "0" * 24 for i in range(n)]
    with web_services.session() as session:
        session.execute(insert(Document), [dict(id=d, title=f"Capped {i:05d}", source=f"capped-{i:05d}.md",
                                                source_uri=f"/nowhere/capped-{i:05d}.md", status="ready")
                                           for i, d in enumerate(ids)])
        session.execute(insert(DocumentGroup), [dict(document_id=d, group_id=group_id) for d in ids])
    signed_in(client, "ivar")
    first = client.get("/documents", params={"group": "capped", "sort": "title"}).text
    assert "data-more" in first and f"{COUNT_CAP:,}+ documents" in first
    assert f"page 1 of {COUNT_CAP // 25}+" in first and 'rel="next"' in first
    last, pages = first, 1
    while (nxt := re.search(r'<a href="([^"]+)" rel="next"', last)) is not None:  # Next by Next: keyset paging
        last, pages = client.get("/documents" + html.unescape(nxt.group(1))).text, pages + 1
    assert pages == n // 25 + 1 and f"page {pages} of {pages}+" in last  # past the count, the pages seen
    assert last.count('data-doc="') == n % 25 and f"Capped {n - 1:05d}" in last and 'rel="next"' not in last
    signed_in(client, "olga")  # not a member of the group: nothing, and no count of it
    assert 'data-total="0"' in client.get("/documents", params={"group": "capped"}).text
