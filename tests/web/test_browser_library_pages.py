"""Pages in a real browser (Debian Chromium through Playwright): a nine-page PDF's row counts its
pages while the server's worker reads it ("parsing (page 3 of 9)", the row polling on its own),
and the library list is paged by its Next and Previous links. axe-core and a screenshot of each."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from sqlalchemy import insert

from app.accounts.directory import add_group, get_group
from app.db.library import Document, DocumentGroup
from app.library import parse_progress
from tests.web.test_browser import CHROMIUM, LAPTOP, WAIT_MS, accessible, log_in, shoot

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (make system-deps)")

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TEXT_PDFS = [SAMPLES / "hr" / "parental-leave-policy.pdf", SAMPLES / "finance" / "expense-policy.pdf",
             SAMPLES / "it" / "information-security-sop.pdf"]  # 3 typed pages each


def test_a_pdf_row_counts_its_pages_while_the_worker_reads_it(browser, live_url, tmp_path, monkeypatch):
    writer = PdfWriter()
    for source in TEXT_PDFS:
        for page in PdfReader(str(source)).pages:
            writer.add_page(page)
    pdf = tmp_path / "staff-handbook.pdf"
    with pdf.open("wb") as fh:
        writer.write(fh)
    at_page_3, go = threading.Event(), threading.Event()
    real = parse_progress.JobPages.__call__

    def held(self, stage: str, done: int, total: int) -> None:  # the real writer, then a pause at page 3
        real(self, stage, done, total)
        if (stage, done) == ("parse", 3):
            at_page_3.set()
            go.wait(WAIT_MS / 1000)

    monkeypatch.setattr(parse_progress, "WRITE_EVERY_S", 0.0)
    monkeypatch.setattr(parse_progress.JobPages, "__call__", held)
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        log_in(page, live_url, "ivar")
        page.goto(live_url + "/documents/upload")
        page.check("input[name=groups][value=everyone]")
        page.set_input_files("#files", [str(pdf)])
        page.click("form.upload button.primary")
        assert at_page_3.wait(WAIT_MS / 1000)
        row = page.locator("#progress-rows tr.progress-row").filter(has_text="staff-handbook.pdf").first
        page.wait_for_function(  # the row asks the server again by itself until it says so
            "() => [...document.querySelectorAll('#progress-rows tr.progress-row')]"
            ".some(r => r.textContent.includes('parsing (page 3 of 9)'))", timeout=WAIT_MS)
        assert row.locator("progress[aria-label='pages read']").get_attribute("value") == "3"
        shoot(page, "upload-parsing-pages")
        accessible(page, "upload while parsing")
    finally:
        go.set()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#progress-rows tr.progress-row')]"
        ".some(r => r.textContent.includes('staff-handbook.pdf') && r.dataset.state === 'ready')", timeout=WAIT_MS)
    context.close()


def test_the_library_is_paged_by_next_and_previous(browser, live_url, web_services):
    with web_services.session() as session:
        add_group(session, "atlas")
        session.flush()
        atlas = get_group(session, "atlas").id
    ids = [f"atlas{i:03d}" + "0" * 24 for i in range(60)]
    with web_services.session() as session:
        session.execute(insert(Document), [dict(id=d, title=f"Atlas sheet {i:02d}", source=f"atlas-{i:02d}.pdf",
                                                source_uri=f"/nowhere/atlas-{i:02d}.pdf", status="ready",
                                                doc_type="pdf", chunk_count=i % 9) for i, d in enumerate(ids)])
        session.execute(insert(DocumentGroup), [dict(document_id=d, group_id=atlas) for d in ids])
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    log_in(page, live_url, "ivar")
    page.goto(live_url + "/documents?group=atlas&sort=title")

    def titles() -> list[str]:
        return page.locator("table.list tbody tr td:first-child a").all_inner_texts()

    first = titles()
    assert first == [f"Atlas sheet {i:02d}" for i in range(25)] and "page 1 of 3" in page.inner_text("nav.pager")
    page.click("a[rel=next]")
    page.wait_for_url("**cursor=**")
    assert titles() == [f"Atlas sheet {i:02d}" for i in range(25, 50)]
    page.click("a[rel=next]")
    page.wait_for_function("() => document.querySelector('nav.pager').textContent.includes('page 3 of 3')")
    assert titles() == [f"Atlas sheet {i:02d}" for i in range(50, 60)] and page.locator("a[rel=next]").count() == 0
    shoot(page, "library-last-page")
    accessible(page, "library, last page")
    page.click("a[rel=prev]")
    page.wait_for_function("() => document.querySelector('nav.pager').textContent.includes('page 2 of 3')")
    page.click("a[rel=prev]")
    page.wait_for_function("() => document.querySelector('nav.pager').textContent.includes('page 1 of 3')")
    assert titles() == first and page.locator("a[rel=prev]").count() == 0
    context.close()
