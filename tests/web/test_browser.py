"""The ask experience in a real browser: Debian's Chromium driven by Playwright.

Log in, ask, watch the answer stream to its done state, follow a citation to
the highlighted passage, ask a follow-up, rate the answer, log out; axe-core
(vendored) checks every page for serious or critical accessibility problems.
Every page is saved as a screenshot on a laptop-sized and a phone-sized
window under ``build/screenshots`` (or ``$INHOUSE_SCREENSHOTS``) so a person
can look at them; the README shows some.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, PASSWORD

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
SHOTS = Path(os.environ.get("INHOUSE_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "screenshots"))
LAPTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}
WAIT_MS = 120_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make system-deps)")


def accessible(page, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    page.evaluate(AXE.read_text())  # through the debugger protocol, not a <script>: the CSP stays strict
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                           ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {bad}"


def shoot(page, name: str, full: bool = True) -> None:
    """The whole page, or (``full=False``) the window as the user sees it: the question box stays
    at the bottom of the window while one scrolls, which a full-page picture draws mid-page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def log_in(page, base: str, name: str) -> None:
    page.goto(base + "/")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("form.ask")


def ask(page, question: str) -> object:
    before = page.locator("[data-turn]").count()
    page.fill("#question", question)
    page.click("form.ask button.primary")
    turn = page.locator("[data-turn]").nth(before)
    turn.locator(".answer[data-state=done]").wait_for(timeout=WAIT_MS)
    return turn


def test_an_employee_asks_checks_a_citation_follows_up_rates_and_logs_out(browser, live_url):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} at {m.location} on {page.url}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(live_url + "/")
    page.wait_for_selector("[data-state=login]")
    shoot(page, "login")
    accessible(page, "login")
    log_in(page, live_url, "sofie")
    shoot(page, "ask-empty")
    accessible(page, "ask")

    turn = ask(page, "How many vacation days do employees get per year?")
    assert "25 vacation days" in turn.locator(".answer .text").inner_text()
    cites = turn.locator(".answer .text a.cite")
    assert cites.count() >= 1
    assert turn.locator(".sources li.source").count() >= 1
    settled = turn.inner_html()
    page.wait_for_timeout(1500)
    assert turn.inner_html() == settled, "the stream replayed or kept writing after its done event"
    assert "/c/" in page.url  # the conversation has its own address (reload keeps it)
    turn.locator(".answer").scroll_into_view_if_needed()
    shoot(page, "answer", full=False)
    accessible(page, "answer")

    turn.locator("details.how summary").click()
    assert turn.locator("details.how dl").is_visible()
    shoot(page, "answer-how-it-was-made", full=False)

    href = cites.first.get_attribute("href")
    cites.first.click()
    page.wait_for_selector("[data-state=source] mark.passage-mark")
    assert "25 vacation days" in page.locator("mark.passage-mark").inner_text()
    shoot(page, "source-view")
    accessible(page, "source view")
    page.go_back()
    page.wait_for_selector(".answer[data-state=done]")
    assert href

    follow = ask(page, "Can unused ones be carried over?")
    assert "March" in follow.locator(".answer .text").inner_text()
    assert page.locator("[data-turn]").count() == 2

    follow.locator("details.down summary").click()
    follow.locator("input[name=reasons][value=incomplete]").check()
    follow.locator("details.down textarea").fill("I wanted the exact deadline")
    follow.locator("details.down button[type=submit]").click()
    follow.locator(".rating[data-state=down]").wait_for()
    shoot(page, "follow-up-and-feedback", full=False)

    page.set_viewport_size(PHONE)
    follow.locator(".answer").scroll_into_view_if_needed()
    shoot(page, "phone-conversation", full=False)
    accessible(page, "conversation on a phone")
    page.set_viewport_size(LAPTOP)

    page.click("text=Log out")
    page.wait_for_selector("[data-state=login]")
    assert not [e for e in errors if "favicon" not in e], errors
    context.close()


def test_a_refused_question_says_why_in_the_conversation(browser, live_url):
    """htmx does not swap error responses by default; every refusal the server explains must be seen."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    log_in(page, live_url, "sofie")
    page.fill("#question", "   ")  # passes the browser's "required", not the server's check
    page.click("form.ask button.primary")
    alert = page.locator("#turns [role=alert]")
    alert.wait_for(timeout=WAIT_MS)
    assert "the question is empty" in alert.inner_text()
    shoot(page, "ask-refused", full=False)
    context.close()


def test_the_pages_work_without_javascript(browser, live_url):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_url, "sofie")
    page.fill("#question", "Where do visitors park?")
    page.click("form.ask button.primary")
    page.wait_for_selector(".answer[data-state=done]", timeout=WAIT_MS)
    assert "level 2" in page.locator(".answer").first.inner_text()
    shoot(page, "phone-no-javascript", full=False)
    context.close()


def test_a_hostile_document_runs_no_script_in_the_browser(browser, live_url):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page, live_url, "sofie")
    turn = ask(page, "What if I lose my visitor badge?")
    link = turn.locator(".sources a.src-title").first
    link.click()
    page.wait_for_selector("[data-state=source]")
    page.wait_for_timeout(500)
    assert dialogs == [], dialogs
    assert page.locator("script:not([src])").count() == 0
    context.close()
