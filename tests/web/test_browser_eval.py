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


@pytest.fixture(scope="module", autouse=True)
def evaluator_and_data_set(web_services) -> None:
    """eva, an evaluator, and a tiny BEIR folder among the server's data sets."""
    with web_services.session() as session:
        add_user(session, "eva", role="evaluator", groups=["everyone"], password=PASSWORD)
    write_tiny_beir(web_services.settings.data_dir / "datasets" / "tiny")


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


DESK = {"width": 1280, "height": 800}


def zip_folder(folder: Path, into: Path, extra: dict[str, bytes] | None = None) -> Path:
    import zipfile

    with zipfile.ZipFile(into, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return into


def test_an_evaluator_uploads_a_set_drills_into_a_query_and_cancels_a_run(browser, live_url, web_services, tmp_path):
    """Upload a BEIR zip (and see a zip with a path-traversal member refused), run it, open a query's
    drill-down (laptop and phone), then watch a long run's time left and cancel it."""
    from eval.beir import load_beir, write_beir

    good = zip_folder(write_tiny_beir(tmp_path / "handbook-qa"), tmp_path / "good.zip")
    bad = zip_folder(tmp_path / "handbook-qa", tmp_path / "bad.zip", {"../../escape.txt": b"x"})
    context = browser.new_context(viewport=DESK)
    page = context.new_page()
    log_in(page, live_url, "eva")

    page.goto(live_url + "/eval/new")
    page.fill("#ds-name", "handbook-bad")
    page.set_input_files("#ds-file", str(bad))
    page.click("text=Upload")
    page.wait_for_selector("[data-upload-error]", timeout=WAIT_MS)
    assert "climbs out of its folder" in page.inner_text("[data-upload-error]")
    shoot(page, "eval-upload-refused")
    accessible(page, "upload refused")

    page.fill("#ds-name", "handbook-qa")
    page.set_input_files("#ds-file", str(good))
    page.click("text=Upload")
    page.wait_for_selector("[data-uploaded=handbook-qa]", timeout=WAIT_MS)
    shoot(page, "eval-upload-done")

    page.check("input[name=dataset][value=handbook-qa]")
    for box in page.locator("input[name=modes]").all():
        box.set_checked(box.get_attribute("value") in ("hybrid", "sparse"))
    page.click("button.primary")
    page.wait_for_selector("#eval-job[data-state=done]", timeout=WAIT_MS)
    run = page.locator("[data-run]").first.get_attribute("data-run")
    page.goto(f"{live_url}/eval/runs/{run}")
    shoot(page, "eval-run-queries")
    page.locator("#queries tbody a").first.click()
    page.wait_for_selector("[data-page=eval-query]")
    assert page.locator("#hits tr[data-hit]").count() >= 1
    shoot(page, "eval-query")
    accessible(page, "query drill-down")
    page.set_viewport_size(PHONE)
    shoot(page, "phone-eval-query")
    page.set_viewport_size(DESK)

    tiny = load_beir(web_services.settings.data_dir / "datasets" / "tiny")
    qids = list(tiny.queries)
    queries = {f"{qids[n % len(qids)]}-{n}": tiny.queries[qids[n % len(qids)]] for n in range(400)}
    write_beir(web_services.settings.data_dir / "datasets" / "long-run", list(tiny.corpus.values()), queries,
               {q: tiny.qrels[q.rsplit("-", 1)[0]] for q in queries})
    page.goto(live_url + "/eval/new")
    page.check("input[name=dataset][value=long-run]")
    for box in page.locator("input[name=modes]").all():
        box.set_checked(box.get_attribute("value") in ("sparse", "hybrid+rerank"))
    page.click("button.primary")
    page.wait_for_selector("#eval-job[data-state=running] [data-eta]:not([data-eta=''])", timeout=WAIT_MS)
    shoot(page, "eval-progress-eta")
    accessible(page, "run in progress")
    page.set_viewport_size(PHONE)
    shoot(page, "phone-eval-progress-eta")
    page.set_viewport_size(DESK)
    page.click("[data-cancel]")
    page.wait_for_selector("#eval-job[data-state=cancelled]", timeout=WAIT_MS)
    shoot(page, "eval-cancelled")

    page.goto(live_url + "/eval/new")
    page.select_option("#answers-dataset", "handbook-qa")
    page.fill("#answers-limit", "3")
    page.click("[data-answers]")
    page.wait_for_selector("#eval-job[data-state=done]", timeout=WAIT_MS)
    page.goto(f"{live_url}/eval/runs/{page.locator('[data-run]').first.get_attribute('data-run')}")
    assert page.locator("#metrics th", has_text="answer recall").count() == 1
    shoot(page, "eval-answers-run")
    accessible(page, "answer quality run")
    page.set_viewport_size(PHONE)
    shoot(page, "phone-eval-answers-run")
    context.close()


def test_an_evaluator_tunes_applies_restores_and_judges_a_passage(browser, live_url, web_services):
    """Tune the tiny set from the new-run page, read the chosen profile next to the fixed modes before
    applying it, apply it, restore the previous profile; then open one of its queries and mark a passage
    relevant (laptop and phone pictures of the tune page)."""
    from retrieval.profile import SearchProfile

    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    log_in(page, live_url, "eva")
    page.goto(live_url + "/eval/new")
    page.select_option("#tune-dataset", "tiny")
    page.click("[data-tune-start]")
    page.wait_for_selector("#eval-job[data-state=done]", timeout=WAIT_MS)
    run = page.locator("[data-run]").first.get_attribute("data-run")
    with web_services.session() as session:
        from app.db.evaluation import EvalRun

        collection = session.get(EvalRun, int(run)).collection
    odd = SearchProfile(mode="hybrid", fusion="rrf", rrf_k=7, dense_weight=0.45, candidates=33)
    web_services.save_search_profile(odd, collection)  # so the choice differs from what is in use

    page.locator("[data-run]").first.click()
    page.wait_for_selector("[data-tune][data-in-use=no]")
    assert page.locator("#tune-modes tr[data-tune-mode]").count() >= 5
    shoot(page, "eval-tune")
    accessible(page, "tune run")
    page.set_viewport_size(PHONE)
    shoot(page, "phone-eval-tune")
    page.set_viewport_size(LAPTOP)

    page.click("[data-action=apply]")
    page.wait_for_selector("[data-applied]")
    assert page.locator("[data-tune][data-in-use=yes]").count() == 1
    assert web_services.search_profile(collection) != odd
    shoot(page, "eval-tune-applied")
    page.click("[data-action=restore]")
    page.wait_for_selector("[data-restored]")
    assert web_services.search_profile(collection) == odd

    page.locator("#queries tbody a").first.click()
    page.wait_for_selector("[data-page=eval-query]")
    page.locator("form[data-judge] button[value='1']").first.click()
    page.wait_for_selector("[data-mine='1']")
    shoot(page, "eval-query-judged")
    accessible(page, "query with a judgment")
    context.close()
