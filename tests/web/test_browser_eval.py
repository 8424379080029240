"""An evaluator in a real browser: start two runs on a small BEIR folder, watch their progress,
read a run's table and plot, compare the two, make a baseline. axe-core and screenshots on each page."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.accounts.directory import add_user
from tests.eval.conftest import write_tiny_beir
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, LAPTOP, PHONE, WAIT_MS, accessible, log_in, shoot

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


@pytest.fixture(scope="module")
def browser(web_services):
    from playwright.sync_api import sync_playwright

    with web_services.session() as session:
        add_user(session, "eva", role="evaluator", groups=["everyone"], password=PASSWORD)
    write_tiny_beir(web_services.settings.data_dir / "datasets" / "tiny")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield browser
        browser.close()


def start_run(page, base: str, modes: list[str]) -> str:
    page.goto(base + "/eval/new")
    for box in page.locator("input[name=modes]").all():
        box.set_checked(box.get_attribute("value") in modes)
    page.click("button.primary")
    page.wait_for_selector("#eval-job[data-state=done]", timeout=WAIT_MS)
    return page.locator("[data-run]").first.get_attribute("data-run")


def test_an_evaluator_runs_compares_and_sets_a_baseline(browser, live_url):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    log_in(page, live_url, "eva")
    page.goto(live_url + "/eval/new")
    shoot(page, "eval-new")
    accessible(page, "new evaluation run")
    first = start_run(page, live_url, ["sparse", "dense"])
    shoot(page, "eval-progress-done")
    page.goto(f"{live_url}/eval/runs/{first}")
    assert page.locator("svg").count() >= 1
    shoot(page, "eval-run")
    accessible(page, "evaluation run")
    second = start_run(page, live_url, ["sparse"])
    page.goto(f"{live_url}/eval/compare?a={first}&b={second}")
    shoot(page, "eval-compare")
    accessible(page, "compare runs")
    page.goto(f"{live_url}/eval/runs/{first}")
    page.click("text=Make this the baseline")
    page.goto(live_url + "/eval")
    shoot(page, "eval-runs")
    accessible(page, "runs list")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_url}/eval/compare?a={first}&b={second}")
    shoot(page, "phone-eval-compare")
    context.close()
