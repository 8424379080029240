"""The library through the real app (in-process HTTP, and a real socket for the big upload):
upload several files with per-file progress read from the server, the document list, one
document, regroup, retry and delete, and every way a user might act where they may not:
no session, an employee, the owner of one group on another group's document, a document
outside the user's groups (404, not 403), no CSRF token, a grant beyond what they own."""

from __future__ import annotations

import html
import re
import time

import pytest

from app.accounts.actions import set_group_owner
from app.accounts.actor import Actor
from app.accounts.directory import acl_tokens, add_group, add_user, get_user
from app.library.ingestion import IngestService
from app.library.uploads import staging_dir
from app.answering.searching import search_readable
from tests.web.conftest import PASSWORD, SECRET, csrf_of, login

HX = {"HX-Request": "true"}
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 40  # an executable: not a document type


@pytest.fixture(scope="module", autouse=True)
def owners(web_services):
    """olga owns 'everyone' (and is an owner); bert owns 'board' only; both have the role owner."""
    with web_services.session() as session:
        add_user(session, "olga", role="owner", groups=["everyone"], password=PASSWORD)
        add_user(session, "bert", role="owner", groups=["board"], password=PASSWORD)
        add_group(session, "bulk")
    set_group_owner(web_services, Actor.operator(), "everyone", "olga", True)
    set_group_owner(web_services, Actor.operator(), "board", "bert", True)


def signed_in(client, name: str) -> str:
    r = login(client, name)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)


def upload(client, csrf: str | None, files: list[tuple[str, bytes]], groups=("everyone",), **fields):
    data = {"groups": list(groups), **fields}
    if csrf:
        data = {"csrf": csrf, **data}
    return client.post("/documents/upload", data=data, files=[("files", (n, b)) for n, b in files], headers=HX)


def rows(html: str) -> dict[str, str]:
    """file or document title -> data-state, from progress rows."""
    out = {}
    for m in re.finditer(r'<tr[^>]*data-state="([^"]+)"[^>]*>(.*?)</tr>', html, re.S):
        name = re.search(r'data-file="([^"]+)"', m.group(0)) or re.search(r'<a href="/documents/\w+">([^<]+)</a>', m.group(2))
        out[name.group(1)] = m.group(1)
    return out


def run_queued_jobs(app, services) -> None:
    """Wait until nothing is queued or running. The app's worker (``app.state.jobs``) runs what an upload
    queued; an app without one (before the worker landed in the lifespan) has the jobs run here."""
    ingest = IngestService(services)
    if getattr(app.state, "jobs", None) is None:
        ingest.resume()
        return
    deadline = time.monotonic() + 180
    while ingest.pending_jobs():
        assert time.monotonic() < deadline, "the worker did not finish the queued jobs"
        time.sleep(0.1)


def doc_id_of(services, file_name: str) -> str | None:
    """The newest document uploaded under this file name (its title becomes its heading once parsed)."""
    from sqlalchemy import select

    from app.db.library import Document

    with services.session() as session:
        return session.scalar(select(Document.id).where(Document.source == file_name)
                              .order_by(Document.created_at.desc()))


# ---- who may come in -------------------------------------------------------------------

def test_every_library_page_and_fragment_needs_a_session(client, web_services):
    some = web_services.doc_ids["handbook.md"]
    for path in ("/documents", "/documents/upload", f"/documents/{some}", f"/documents/{some}/row",
                 f"/documents/{some}/delete"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    for path in ("/documents/upload", f"/documents/{some}/groups", f"/documents/{some}/retry",
                 f"/documents/{some}/delete"):
        assert client.post(path, data={"confirm": "yes"}).status_code in (303, 401), path
    assert client.get(f"/documents/{some}").status_code == 303  # still there


def test_an_employee_gets_no_library_page_and_no_header_link(client, web_services):
    csrf = signed_in(client, "sofie")
    assert 'href="/documents"' not in client.get("/").text
    some = web_services.doc_ids["handbook.md"]
    for path in ("/documents", "/documents/upload", f"/documents/{some}", f"/documents/{some}/row"):
        assert client.get(path).status_code == 403, path
    r = upload(client, csrf, [("note.md", b"# Note\n\nAn employee's note.\n")])
    assert r.status_code == 403
    assert not any(staging_dir(web_services.settings.data_dir).glob("*/*"))
    for path in (f"/documents/{some}/groups", f"/documents/{some}/retry", f"/documents/{some}/delete"):
        assert client.post(path, data={"csrf": csrf, "groups": ["everyone"], "confirm": "yes"}).status_code == 403
    assert client.get(f"/documents/{some}/file").status_code == 200  # reading it is another matter


def test_an_owner_sees_the_library_link_and_the_admin_link_is_for_admins(client):
    signed_in(client, "olga")
    home = client.get("/").text
    assert 'href="/documents"' in home and 'href="/admin/users"' not in home


# ---- upload ------------------------------------------------------------------------------

def test_an_upload_refuses_an_empty_file_and_a_wrong_type_and_the_rest_goes_on(client, web_services):
    csrf = signed_in(client, "olga")
    good = b"# Bicycle policy\n\nStaff may borrow the office bicycles for trips under ten kilometres.\n"
    r = upload(client, csrf, [("bicycles.md", good), ("empty.txt", b""), ("tool.exe", ELF)])
    assert r.status_code == 200, r.text
    states = rows(r.text)
    assert states == {"bicycles": "queued", "empty.txt": "refused", "tool.exe": "refused"}, states
    assert "refused: the file is empty" in r.text
    assert re.search(r"refused: unsupported file type application/[\w.-]+", r.text)
    doc_id = doc_id_of(web_services, "bicycles.md")
    assert f'hx-get="/documents/{doc_id}/row"' in r.text and 'hx-trigger="load delay:1s"' in r.text  # it polls
    assert not any(staging_dir(web_services.settings.data_dir).glob("*/*"))  # no staged copy is left

    run_queued_jobs(client.app, web_services)
    done = client.get(f"/documents/{doc_id}/row", headers=HX).text
    assert 'data-state="ready"' in done and "hx-get" not in done and "hx-trigger" not in done  # polling stops
    assert re.search(r'<td class="num">(\d+)/\1</td>', done)  # chunks done of total
    assert re.search(r'<td class="num">\d+\.\d s</td>', done)  # elapsed
    page = client.get("/documents/upload").text  # a reload (or another tab) shows the same, from the server
    assert f'id="doc-{doc_id}"' in page and rows(page)["Bicycle policy"] == "ready"
    with web_services.session() as session:
        sofie = acl_tokens(session, get_user(session, "sofie"))
        mallory = acl_tokens(session, get_user(session, "mallory"))
    assert any(h.doc_id == doc_id for h in search_readable(web_services, sofie, "borrow office bicycles"))
    assert not any(h.doc_id == doc_id for h in search_readable(web_services, mallory, "borrow office bicycles"))


def test_a_document_that_fails_while_ingesting_says_why_and_can_be_retried(client, web_services):
    csrf = signed_in(client, "olga")
    r = upload(client, csrf, [("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 500)])
    assert rows(r.text) == {"broken": "queued"}
    run_queued_jobs(client.app, web_services)
    doc_id = doc_id_of(web_services, "broken.pdf")
    row = client.get(f"/documents/{doc_id}/row", headers=HX).text
    assert 'data-state="failed"' in row and "failed: " in row and "hx-get" not in row
    page = client.get(f"/documents/{doc_id}").text
    assert "Last error:" in page and "/retry" in page
    assert client.post(f"/documents/{doc_id}/retry", data={}).status_code == 403  # no CSRF
    r = client.post(f"/documents/{doc_id}/retry", data={"csrf": csrf}, headers=HX)
    assert r.status_code == 200 and 'data-state="queued"' in r.text and "hx-get" in r.text
    run_queued_jobs(client.app, web_services)
    assert 'data-state="failed"' in client.get(f"/documents/{doc_id}/row").text  # still broken, said again
    r = client.post(f"/documents/{web_services.doc_ids['handbook.md']}/retry", data={"csrf": csrf})
    assert r.status_code == 409  # a ready document has nothing to retry


def test_an_upload_without_the_csrf_token_is_refused_before_any_byte_is_stored(client, web_services):
    signed_in(client, "olga")
    r = client.post("/documents/upload", data={"groups": ["everyone"]},
                    files=[("files", ("x.md", b"# X\n\nsomething\n"))])
    assert r.status_code == 403
    r = client.post("/documents/upload", data={"csrf": "forged", "groups": ["everyone"]},
                    files=[("files", ("x.md", b"# X\n\nsomething\n"))])
    assert r.status_code == 403
    assert not any(staging_dir(web_services.settings.data_dir).glob("*/*"))


def test_an_owner_grants_only_groups_they_own_and_never_public(client, web_services):
    csrf = signed_in(client, "olga")
    note = [("grant-note.md", b"# Grant note\n\nA note about grants.\n")]
    assert upload(client, csrf, note, groups=["board"]).status_code == 400  # olga does not own board
    assert upload(client, csrf, note, groups=[]).status_code == 400  # at least one group
    assert upload(client, csrf, note, groups=["everyone"], public="on").status_code == 403
    assert upload(client, csrf, note, groups=["everyone"], owner="mallory").status_code == 400  # would widen
    assert doc_id_of(web_services, "grant-note.md") is None
    assert not any(staging_dir(web_services.settings.data_dir).glob("*/*"))
    assert 'value="board"' not in client.get("/documents/upload").text  # not even offered


def test_an_admin_may_upload_a_public_document(client, web_services):
    csrf = signed_in(client, "ivar")
    r = upload(client, csrf, [("canteen.md", b"# Canteen\n\nThe canteen opens at half past eleven.\n")],
               groups=[], public="on")
    assert rows(r.text) == {"canteen": "queued"}
    run_queued_jobs(client.app, web_services)
    with web_services.session() as session:
        mallory = acl_tokens(session, get_user(session, "mallory"))
    hits = search_readable(web_services, mallory, "when does the canteen open")
    assert any(h.doc_id == doc_id_of(web_services, "canteen.md") for h in hits)


# ---- the library and one document ------------------------------------------------------

def test_the_library_lists_only_readable_documents_with_search_filters_and_sort(client, web_services):
    signed_in(client, "olga")
    page = client.get("/documents").text
    assert "Employee handbook" in page or "handbook" in page
    assert "Board minutes" not in page and "board-minutes" not in page
    assert "Board minutes" in (signed_in(client, "ivar") and client.get("/documents").text)  # admins see all
    signed_in(client, "olga")
    found = client.get("/documents", params={"q": "hand"}).text
    assert re.search(r'data-total="1"', found) and "handbook" in found.lower()
    pdfs = client.get("/documents", params={"type": "pdf"}).text
    assert "parking" in pdfs.lower() and "handbook" not in pdfs.lower()
    assert client.get("/documents", params={"group": "board"}).text.count('data-doc="') == 0
    titles = re.findall(r'<a href="/documents/\w+">([^<]+)</a>', client.get("/documents", params={"sort": "title"}).text)
    assert titles == sorted(titles, key=str.lower)
    assert client.get("/documents", params={"q": "%_'\"<script>"}).status_code == 200


def test_the_library_pages_through_many_documents(client, web_services):
    from app.library.documents import new_document
    from app.accounts.directory import get_group

    with web_services.session() as session:
        bulk = get_group(session, "bulk")
        for i in range(30):
            doc = new_document(f"/nowhere/bulk-{i:02}.md", f"bulk-{i:02}.md")
            doc.status, doc.groups = "ready", [bulk]
            session.add(doc)
    signed_in(client, "ivar")
    first = client.get("/documents", params={"group": "bulk", "sort": "title"}).text
    assert 'data-total="30"' in first and "page 1 of 2" in first and first.count('data-doc="') == 25
    second = client.get("/documents" + html.unescape(re.search(r'<a href="([^"]+)" rel="next"', first).group(1))).text
    assert "page 2 of 2" in second and 'rel="next"' not in second
    assert second.count('data-doc="') == 5 and "bulk-29" in second and "bulk-00" not in second
    signed_in(client, "olga")
    assert 'data-total="0"' in client.get("/documents", params={"group": "bulk"}).text


def test_a_document_page_shows_metadata_groups_and_chunks(client, web_services):
    signed_in(client, "olga")
    doc_id = web_services.doc_ids["parking.pdf"]
    page = client.get(f"/documents/{doc_id}").text
    assert 'data-status="ready"' in page and '<span class="chip">everyone</span>' in page
    assert "page 2" in page and "Visitors park on level 2" in page  # chunks with their pages and text
    assert "Change access" in page and "Delete…" in page


def test_a_document_outside_the_users_groups_is_not_found_by_any_library_path(client, web_services):
    secret = web_services.doc_ids["board-minutes.md"]
    csrf = signed_in(client, "olga")
    for path in (f"/documents/{secret}", f"/documents/{secret}/row", f"/documents/{secret}/delete"):
        r = client.get(path)
        assert r.status_code == 404 and SECRET not in r.text, path
    for path in (f"/documents/{secret}/groups", f"/documents/{secret}/retry", f"/documents/{secret}/delete"):
        r = client.post(path, data={"csrf": csrf, "groups": ["everyone"], "confirm": "yes"})
        assert r.status_code == 404, path
    assert client.get("/documents/nonexistent").status_code == 404
    signed_in(client, "bert")  # owner of board: the handbook is another group's document
    handbook = web_services.doc_ids["handbook.md"]
    assert client.get(f"/documents/{handbook}").status_code == 404
    page = client.get(f"/documents/{secret}").text
    assert "Change access" in page  # his own group's document he manages


def test_a_readable_document_of_a_group_the_owner_does_not_own_is_read_only(client, web_services):
    with web_services.session() as session:
        add_user(session, "rita", role="owner", groups=["everyone", "board"], password=PASSWORD)  # owns nothing
    csrf = signed_in(client, "rita")
    handbook = web_services.doc_ids["handbook.md"]
    page = client.get(f"/documents/{handbook}").text
    assert "Change access" not in page and "Delete…" not in page
    assert client.get(f"/documents/{handbook}/delete").status_code == 403
    assert client.post(f"/documents/{handbook}/groups", data={"csrf": csrf, "groups": ["board"]}).status_code == 403
    assert client.post(f"/documents/{handbook}/delete", data={"csrf": csrf, "confirm": "yes"}).status_code == 403


def test_changing_groups_takes_effect_on_the_next_search(client, web_services):
    csrf = signed_in(client, "ivar")
    r = upload(client, csrf, [("pension.md", b"# Pension\n\nThe pension plan pays seven percent of salary.\n")])
    run_queued_jobs(client.app, web_services)
    doc_id = doc_id_of(web_services, "pension.md")

    def sofie_finds() -> bool:
        with web_services.session() as session:
            tokens = acl_tokens(session, get_user(session, "sofie"))
        return any(h.doc_id == doc_id for h in search_readable(web_services, tokens, "pension plan salary percent"))

    assert sofie_finds()
    assert client.post(f"/documents/{doc_id}/groups", data={"groups": ["board"]}).status_code == 403  # no CSRF
    r = client.post(f"/documents/{doc_id}/groups", data={"csrf": csrf, "groups": ["board"]})
    assert r.status_code == 303 and r.headers["location"] == f"/documents/{doc_id}?changed=groups"
    assert not sofie_finds()  # the index payload was rewritten before the answer came back
    signed_in(client, "olga")  # no longer in her groups: not found
    assert client.get(f"/documents/{doc_id}").status_code == 404
    csrf = signed_in(client, "bert")  # now a board document: bert may give it back to everyone? not his group
    assert client.post(f"/documents/{doc_id}/groups", data={"csrf": csrf, "groups": ["everyone"]}).status_code == 400


def test_delete_asks_first_then_removes_the_document_everywhere(client, web_services):
    csrf = signed_in(client, "olga")
    upload(client, csrf, [("lockers.md", b"# Lockers\n\nLockers are emptied every Friday at five.\n")])
    run_queued_jobs(client.app, web_services)
    doc_id = doc_id_of(web_services, "lockers.md")
    confirm = client.get(f"/documents/{doc_id}/delete")
    assert confirm.status_code == 200 and "Delete for good" in confirm.text
    assert client.post(f"/documents/{doc_id}/delete", data={"confirm": "yes"}).status_code == 403  # no CSRF
    r = client.post(f"/documents/{doc_id}/delete", data={"csrf": csrf})  # not confirmed: asked again
    assert r.status_code == 303 and r.headers["location"] == f"/documents/{doc_id}/delete"
    r = client.post(f"/documents/{doc_id}/delete", data={"csrf": csrf, "confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"].startswith("/documents?deleted=")
    assert client.get(f"/documents/{doc_id}").status_code == 404
    assert "Lockers" in client.get(r.headers["location"]).text  # said so
    with web_services.session() as session:
        tokens = acl_tokens(session, get_user(session, "sofie"))
    assert not any(h.doc_id == doc_id for h in search_readable(web_services, tokens, "lockers emptied friday"))


# ---- a large upload over a real socket -------------------------------------------------

def test_a_file_over_the_limit_is_refused_while_streaming_without_buffering(live_url, web_app, web_services,
                                                                            monkeypatch):
    """64 MiB against a 1 MiB limit, sent chunked from a generator: the server's peak Python memory
    stays a few MiB (it never holds the file), nothing of the big file stays on disk, and the small
    file of the same request is queued."""
    import tracemalloc

    import httpx

    monkeypatch.setattr(web_services.settings, "max_file_bytes", 1024 * 1024)
    with httpx.Client(base_url=live_url, follow_redirects=False, timeout=120) as c:
        assert c.post("/login", data={"name": "olga", "password": PASSWORD, "next": "/"}).status_code == 303
        csrf = csrf_of(c.get("/documents/upload").text)
        boundary = "inhouse-test-boundary"
        small = b"# Fire drill\n\nThe fire drill is on the first Monday of each quarter.\n"

        def body():
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
                   f"--{boundary}\r\nContent-Disposition: form-data; name=\"groups\"\r\n\r\neveryone\r\n"
                   f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"huge.txt\"\r\n"
                   f"Content-Type: text/plain\r\n\r\n").encode()
            line = b"all work and no play makes a big file. " * 26 + b"\n"  # 1 KiB
            for _ in range(64 * 1024):
                yield line
            yield (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"drill.md\"\r\n"
                   f"Content-Type: text/markdown\r\n\r\n").encode() + small + f"\r\n--{boundary}--\r\n".encode()

        tracemalloc.start()
        try:
            r = c.post("/documents/upload", content=body(), headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}", "HX-Request": "true"})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.status_code == 200, r.text
    assert rows(r.text) == {"huge.txt": "refused", "drill": "queued"}
    assert "larger than the limit of 1,048,576 bytes" in r.text
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while 64 MiB streamed through"
    assert not any(staging_dir(web_services.settings.data_dir).glob("*/*"))
    run_queued_jobs(web_app, web_services)
