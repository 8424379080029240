"""Content owners and administrators in a real browser (Debian Chromium through Playwright).

Upload a Word file, a Markdown file and a broken PDF together and watch each
reach its final state from the server's progress rows; open the document,
change who may read it and see a reader of the old group lose it at their
next question; delete it; visit the admin and API-token pages. axe-core on
every page, and a screenshot of each on a laptop and a phone window.
"""

from __future__ import annotations

import re

import pytest

from tests.factories import write_docx
from tests.web.test_browser import CHROMIUM, LAPTOP, PHONE, WAIT_MS, accessible, ask, log_in, shoot

pytestmark = pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (make system-deps)")


def test_an_admin_uploads_watches_progress_regroups_and_deletes(browser, live_url, tmp_path):
    docx = write_docx(tmp_path / "travel-policy.docx", "Travel policy",
                      {"Trains": ["Trips under six hours are taken by train, in second class."],
                       "Hotels": ["Hotel nights are booked through the travel desk, at most 1,800 kroner."]})
    note = tmp_path / "canteen.md"
    note.write_text("# Canteen\n\nThe canteen serves fish soup every Thursday from 11:00.\n")
    broken = tmp_path / "scan.pdf"
    broken.write_bytes(b"%PDF-1.4\n% this is not really a PDF\n")

    admin = browser.new_context(viewport=LAPTOP)
    page = admin.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_url, "ivar")
    page.goto(live_url + "/documents/upload")
    page.check("input[name=groups][value=everyone]")
    page.set_input_files("#files", [str(docx), str(note), str(broken)])
    page.click("form.upload button.primary")
    rows = page.locator("#progress-rows tr.progress-row")
    page.wait_for_function("document.querySelectorAll('#progress-rows tr.progress-row').length >= 3", timeout=WAIT_MS)
    for name in ("travel-policy", "canteen", "scan"):
        row = rows.filter(has_text=name).first
        row.locator("xpath=.").wait_for()
        page.wait_for_function(
            "name => [...document.querySelectorAll('#progress-rows tr.progress-row')].some(r => "
            "r.textContent.includes(name) && ['ready', 'failed', 'refused', 'unchanged'].includes(r.dataset.state))",
            arg=name, timeout=WAIT_MS)
    states = {name: rows.filter(has_text=name).first.get_attribute("data-state")
              for name in ("travel-policy", "canteen", "scan")}
    assert states["travel-policy"] == "ready" and states["canteen"] == "ready", states
    assert states["scan"] in ("failed", "refused"), states
    assert "damaged" in rows.filter(has_text="scan").first.inner_text() or "refused" in states["scan"]
    shoot(page, "upload-progress")
    accessible(page, "upload")

    page.goto(live_url + "/documents")
    shoot(page, "library")
    accessible(page, "library")
    page.click("a:has-text('canteen')")
    page.wait_for_selector("h1")
    shoot(page, "document")
    accessible(page, "document")
    doc_url = page.url

    reader = browser.new_context(viewport=PHONE)
    sofie = reader.new_page()
    log_in(sofie, live_url, "sofie")
    turn = ask(sofie, "What does the canteen serve on Thursday?")
    assert "fish soup" in turn.inner_text()

    page.goto(doc_url)
    page.uncheck("input[name=groups][value=everyone]")
    page.check("input[name=groups][value=board]")
    page.click("text=Change access")
    page.wait_for_load_state()
    turn = ask(sofie, "What does the canteen serve on Thursday?")
    assert "fish soup" not in turn.inner_text()  # the old group lost it at the next question
    shoot(sofie, "phone-after-regroup", full=False)

    page.goto(doc_url)
    page.click("text=Delete…")
    shoot(page, "document-delete")
    accessible(page, "delete confirmation")
    page.locator("form button.danger").click()
    page.wait_for_load_state()
    assert page.goto(doc_url).status == 404

    for path, name in (("/admin/users", "admin-users"), ("/admin/groups", "admin-groups"), ("/tokens", "tokens"),
                       ("/review", "review"), ("/admin/usage", "usage")):
        page.goto(live_url + path)
        shoot(page, name)
        accessible(page, name)
    page.set_viewport_size(PHONE)
    page.goto(live_url + "/documents")
    shoot(page, "phone-library")
    accessible(page, "library on a phone")
    assert not [e for e in errors if "favicon" not in e and "404" not in e], errors
    admin.close()
    reader.close()


LAPTOP_1280, PHONE_390 = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


def _final(page, source: str) -> None:
    """Wait until the progress row whose source line is ``source`` is in a final state."""
    page.wait_for_function(
        "src => [...document.querySelectorAll('#progress-rows tr.progress-row')].some(r => "
        "(r.querySelector('.muted.small')?.textContent === src || r.dataset.file === src) && "
        "['ready', 'failed', 'refused', 'unchanged', 'cancelled'].includes(r.dataset.state))",
        arg=source, timeout=WAIT_MS)


def test_an_owner_uploads_a_zip_and_a_folder_cancels_a_running_file_and_reads_the_log(browser, live_url, tmp_path):
    """A zip (two documents, an empty member and one that climbs with ..) and a folder chosen with the
    folder input, in one upload; then a long file cancelled from its row while it is embedding; then
    a document page with its versions and ingestion log. Screenshots at 1280x800 and 390x844."""
    import io
    import random
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("policies/leave.md", "# Parental leave\n\nParents get forty-nine weeks of paid leave.\n")
        zf.writestr("policies/bikes.md", "# Bicycles\n\nThe bicycle shed opens at seven.\n")
        zf.writestr("notes/empty.txt", "")
        zf.writestr("../outside.md", "# Outside\n\nnever\n")
    archive = tmp_path / "policies.zip"
    archive.write_bytes(buf.getvalue())
    folder = tmp_path / "site-notes"
    (folder / "kitchen").mkdir(parents=True)
    (folder / "kitchen" / "coffee.md").write_text("# Coffee\n\nThe coffee machine is descaled on Mondays.\n")
    (folder / "readme.txt").write_text("Notes from the site visits, one file per room.\n")

    context = browser.new_context(viewport=LAPTOP_1280)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_url, "ivar")
    page.goto(live_url + "/documents/upload")
    page.check("input[name=groups][value=everyone]")
    page.set_input_files("#files", [str(archive)])
    page.set_input_files("#folder", str(folder))
    page.click("form.upload button.primary")
    for source in ("policies/leave.md", "policies/bikes.md", "site-notes/kitchen/coffee.md", "site-notes/readme.txt"):
        _final(page, source)
    rows = page.locator("#progress-rows tr.progress-row")
    assert rows.filter(has_text="policies.zip").first.get_attribute("data-state") == "unpacked"
    assert rows.filter(has_text="notes/empty.txt").first.get_attribute("data-state") == "refused"
    assert "climbs out of its folder" in rows.filter(has_text="outside.md").first.inner_text()
    coffee = rows.filter(has_text="site-notes/kitchen/coffee.md").first
    assert coffee.get_attribute("data-state") == "ready", coffee.inner_text()
    shoot(page, "upload-zip-and-folder")
    accessible(page, "upload of a zip and a folder")
    page.set_viewport_size(PHONE_390)
    shoot(page, "phone-upload-zip-and-folder")
    page.set_viewport_size(LAPTOP_1280)

    words = random.Random(3).choices("annex room chair table projector whiteboard window door lamp cable desk "
                                     "shelf plant clock screen carpet radiator socket".split(), k=300 * 120)
    long = tmp_path / "annex-inventory.md"
    long.write_text("# Annex inventory\n\n" + "\n\n".join(
        f"## Room {i}\n\nRoom QX{i:04}: " + " ".join(words[i * 120:(i + 1) * 120]) + "." for i in range(300)))
    page.goto(live_url + "/documents/upload")
    page.check("input[name=groups][value=everyone]")
    page.set_input_files("#files", [str(long)])
    page.click("form.upload button.primary")
    row = page.locator("#progress-rows tr.progress-row", has_text="annex-inventory.md").first
    page.wait_for_function(
        "() => [...document.querySelectorAll('#progress-rows tr.progress-row')].some(r => "
        "r.textContent.includes('annex-inventory.md') && r.dataset.state === 'embedding')", timeout=WAIT_MS)
    shoot(page, "upload-embedding")
    row.get_by_role("button", name=re.compile("^Cancel")).click()
    _final(page, "annex-inventory.md")
    assert row.get_attribute("data-state") == "cancelled" and "by ivar" in row.inner_text()
    shoot(page, "upload-cancelled")
    accessible(page, "a cancelled upload")

    row.locator("a").first.click()
    page.wait_for_selector("h1")
    assert page.locator("[data-status]").first.get_attribute("data-status") == "cancelled"
    assert page.locator(".ingest-log li[data-event=cancelled]").count() == 1
    shoot(page, "document-cancelled-log")
    page.goto(live_url + "/documents?q=coffee")
    page.click("a:has-text('Coffee')")
    page.wait_for_selector("table.versions")
    assert page.locator("table.versions tr[data-current]").count() == 1
    assert page.locator(".ingest-log li[data-event=finished]").count() == 1
    shoot(page, "document-versions-log")
    accessible(page, "document with versions and log")
    page.set_viewport_size(PHONE_390)
    shoot(page, "phone-document-versions-log")
    accessible(page, "document on a phone")
    assert not [e for e in errors if "favicon" not in e and "404" not in e], errors
    context.close()
