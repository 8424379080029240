"""While a PDF is parsed, its row in the library says "parsing (page n of m)" from the job row the
server's worker writes: a real nine-page PDF uploaded over HTTP, parsed by the app's own worker,
held (by a spy around the real page writer) at page 2 while the row is fetched, then let go."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from app.accounts.actions import set_group_owner
from app.accounts.actor import Actor
from app.accounts.directory import add_user
from app.db.base import utcnow
from app.db.library import IngestJob
from app.library import parse_progress
from tests.web.conftest import PASSWORD, csrf_of, login
from tests.web.test_documents_routes import doc_id_of, run_queued_jobs

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TEXT_PDFS = [SAMPLES / "hr" / "parental-leave-policy.pdf", SAMPLES / "finance" / "expense-policy.pdf",
             SAMPLES / "it" / "information-security-sop.pdf"]  # 3 typed pages each
HX = {"HX-Request": "true"}


@pytest.fixture(scope="module", autouse=True)
def owner(web_services):
    with web_services.session() as session:
        add_user(session, "petra", role="owner", groups=["everyone"], password=PASSWORD)
    set_group_owner(web_services, Actor.operator(), "everyone", "petra", True)


def nine_page_pdf() -> bytes:
    writer = PdfWriter()
    for source in TEXT_PDFS:
        for page in PdfReader(str(source)).pages:
            writer.add_page(page)
    import io

    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_being_parsed_shows_page_n_of_m_and_every_page_reaches_the_job_row(client, web_app, web_services,
                                                                                   monkeypatch):
    monkeypatch.setattr(parse_progress, "WRITE_EVERY_S", 0.0)  # every page written, so the sequence can be read
    at_page_2, go = threading.Event(), threading.Event()
    written: list[tuple] = []
    real = parse_progress.JobPages.__call__

    def watched(self, stage: str, done: int, total: int) -> None:
        real(self, stage, done, total)
        with web_services.session() as session:  # what the row holds now, as the page will read it
            job = session.get(IngestJob, self.job_id)
            written.append((job.stage, job.pages_done, job.pages_total))
        if (stage, done) == ("parse", 2):
            at_page_2.set()
            go.wait(60)

    monkeypatch.setattr(parse_progress.JobPages, "__call__", watched)
    assert login(client, "petra").status_code == 303
    csrf = csrf_of(client.get("/").text)
    r = client.post("/documents/upload", data={"csrf": csrf, "groups": ["everyone"]},
                    files=[("files", ("staff-handbook.pdf", nine_page_pdf()))], headers=HX)
    assert r.status_code == 200, r.text
    try:
        assert at_page_2.wait(120), "the worker never reached page 2"
        doc_id = doc_id_of(web_services, "staff-handbook.pdf")
        row = client.get(f"/documents/{doc_id}/row").text
        assert 'data-state="parsing"' in row
        assert "parsing (page 2 of 9)" in row
        assert re.search(r'<progress max="9" value="2" aria-label="pages read">', row)
        assert "hx-get" in row  # still polling
    finally:
        go.set()
    run_queued_jobs(web_app, web_services)

    pages = [w for w in written if w[0] == "parse"]
    assert pages == [("parse", 0, 0)] + [("parse", n, 9) for n in range(10)], \
        "its parse starting, then every page, in order, up to 9 of 9"
    assert written[-1] == ("chunk", 0, 0)  # then the text is chunked
    done = client.get(f"/documents/{doc_id}/row").text
    assert 'data-state="ready"' in done and "of 9)" not in done


def test_page_counts_are_spaced_but_each_stage_starts_and_ends_on_the_row(web_services):
    """A thousand-page PDF is not a thousand commits: within WRITE_EVERY_S only the first and the
    last report of a stage reach the row, and a job no longer running is never written."""
    from app.library.documents import new_document

    with web_services.session() as session:
        doc = new_document("/nowhere/spaced.pdf", "spaced.pdf")
        session.add(doc)
        session.flush()
        job = IngestJob(document_id=doc.id, status="running", stage="parse")
        session.add(job)
        session.flush()
        job_id = job.id
    now = [0.0]
    pages = parse_progress.JobPages(web_services.session, job_id, every_s=0.5, clock=lambda: now[0])

    def row() -> tuple:
        with web_services.session() as session:
            job = session.get(IngestJob, job_id)
            return job.stage, job.pages_done, job.pages_total

    pages("parse", 0, 0)  # the parse starts
    assert row() == ("parse", 0, 0)
    pages("parse", 0, 1000)  # and knows its pages at once: written, however soon
    assert row() == ("parse", 0, 1000)
    pages("parse", 1, 1000)
    assert row() == ("parse", 0, 1000)  # 0 s later: not written
    now[0] = 0.6
    pages("parse", 2, 1000)
    assert row() == ("parse", 2, 1000)
    pages("parse", 1000, 1000)
    assert row() == ("parse", 1000, 1000)  # the last page, however soon
    pages("ocr", 0, 3)
    assert row() == ("ocr", 0, 3)  # a new stage, however soon
    with web_services.session() as session:
        session.get(IngestJob, job_id).status = "cancelled"
    pages("ocr", 3, 3)
    assert row() == ("ocr", 0, 3)  # final: left alone


@pytest.mark.parametrize("stage, pages, chunks, says", [
    ("wait", (0, 0), (0, 0), "queued"),  # claimed, parsed after the files ahead of it
    ("parse", (0, 0), (0, 0), "parsing"),  # a file without pages
    ("parse", (4, 9), (0, 0), "parsing (page 4 of 9)"),
    ("ocr", (1, 2), (0, 0), "parsing (OCR: page 1 of 2 scanned pages)"),
    ("chunk", (0, 0), (0, 0), "chunking"),
    ("embed", (0, 0), (64, 300), "embedding 64 of 300 chunks"),
    ("index", (0, 0), (300, 300), "indexing: 300 chunks written"),
])
def test_each_stage_of_a_running_job_reads_as_what_it_is_doing(client, web_services, stage, pages, chunks, says):
    from app.library.documents import new_document

    with web_services.session() as session:
        doc = new_document(f"/nowhere/stage-{stage}-{pages[0]}.pdf", f"stage-{stage}.pdf")
        doc.status = "processing"
        session.add(doc)
        session.flush()
        job = IngestJob(document_id=doc.id, status="running", stage=stage, pages_done=pages[0],
                        pages_total=pages[1], chunks_done=chunks[0], chunks_total=chunks[1],
                        worker_id="another-host:1:test", heartbeat_at=utcnow())  # a live worker elsewhere holds it
        session.add(job)
        session.flush()
        doc_id, job_id = doc.id, job.id
    try:
        assert login(client, "ivar").status_code == 303
        row = client.get(f"/documents/{doc_id}/row").text
        assert says in row and "hx-get" in row
        assert ("Cancel" in row) == (stage != "index")  # the last step is past stopping: no button that cannot work
    finally:
        with web_services.session() as session:  # settled, so no worker ever takes it over
            session.get(IngestJob, job_id).status = "cancelled"
