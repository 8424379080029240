"""The evaluation pages through the real app: who may see them (no session, an employee, an owner:
no; an evaluator and an admin: yes), CSRF on what changes something, and one whole path: start a
run on a tiny BEIR folder from the form, poll its progress until done, read the table and the SVG,
run a second one, compare them, make a baseline and see the gate."""

from __future__ import annotations

import re
import time

import pytest

from app.accounts.directory import add_user
from tests.eval.conftest import write_tiny_beir
from tests.web.conftest import PASSWORD, SECRET, csrf_of, login

PAGES = ["/eval", "/eval/new", "/eval/runs/1", "/eval/runs/1/queries/q1", "/eval/compare?a=1&b=2", "/eval/jobs/nothing",
         "/eval/jobs/nothing/progress"]


@pytest.fixture(scope="module", autouse=True)
def evaluator(web_services):
    with web_services.session() as session:
        add_user(session, "eva", role="evaluator", groups=["everyone"], password=PASSWORD)
        add_user(session, "otto", role="owner", groups=["everyone"], password=PASSWORD)
    write_tiny_beir(web_services.settings.data_dir / "datasets" / "tiny")


def test_no_session_is_sent_to_the_login_page(client):
    for page in PAGES:
        r = client.get(page)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), page
    assert client.post("/eval/runs", data={"dataset": "tiny"}).status_code in (303, 401)


@pytest.mark.parametrize("name", ["sofie", "otto"])
def test_employees_and_owners_get_403_on_every_eval_page(client, name):
    login(client, name)
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    csrf = csrf_of(client.get("/").text)
    assert client.post("/eval/runs", data={"dataset": "tiny", "modes": "sparse", "csrf": csrf}).status_code == 403
    assert client.post("/eval/runs/1/baseline", data={"csrf": csrf}).status_code == 403
    assert 'href="/eval"' not in client.get("/").text, "no link to a page they may not open"


def test_starting_a_run_or_setting_a_baseline_needs_the_csrf_token(client):
    login(client, "eva")
    assert client.post("/eval/runs", data={"dataset": "tiny", "modes": "sparse"}).status_code == 403
    assert client.post("/eval/runs", data={"dataset": "tiny", "modes": "sparse", "csrf": "forged"}).status_code == 403
    assert client.post("/eval/runs/1/baseline", data={}).status_code == 403


def test_a_form_cannot_name_a_path_or_an_unknown_mode(client):
    login(client, "eva")
    csrf = csrf_of(client.get("/eval/new").text)
    for dataset in ("../datasets/tiny", "/etc", "nope"):
        assert client.post("/eval/runs", data={"dataset": dataset, "modes": "sparse", "csrf": csrf}).status_code == 404
    bad = client.post("/eval/runs", data={"dataset": "tiny", "modes": "everything", "csrf": csrf})
    assert bad.status_code == 400


def wait_done(client, location: str) -> int:
    job_id = location.rsplit("/", 1)[1]
    page = client.get(location)
    assert page.status_code == 200 and f'hx-get="/eval/jobs/{job_id}/progress"' in page.text
    deadline = time.monotonic() + 300
    while True:
        fragment = client.get(f"/eval/jobs/{job_id}/progress", headers={"HX-Request": "true"}).text
        state = re.search(r'data-state="(\w+)"', fragment).group(1)
        assert state != "failed", fragment
        if state == "done":
            assert "hx-get" not in fragment, "a finished run stops the polling"
            return int(re.search(r'data-run="(\d+)"', fragment).group(1))
        if state == "running":
            assert re.search(r'data-done="\d+"', fragment) and 'data-total="' in fragment
        assert time.monotonic() < deadline, fragment
        time.sleep(0.3)


def test_an_evaluator_runs_compares_and_gates_in_the_browser(client):
    login(client, "eva")
    home = client.get("/").text
    assert 'href="/eval"' in home
    new = client.get("/eval/new")
    assert new.status_code == 200 and 'value="tiny"' in new.text
    csrf = csrf_of(new.text)

    started = client.post("/eval/runs", data={"dataset": "tiny", "modes": ["sparse", "dense"], "ks": "1,5,10",
                                              "limit": "6", "csrf": csrf})
    assert started.status_code == 303
    first = wait_done(client, started.headers["location"])

    page = client.get(f"/eval/runs/{first}").text
    for mode in ("sparse", "dense"):
        assert f'data-mode="{mode}"' in page
    for column in ("ndcg@10", "recall@1", "recall@10", "precision@5", "mrr@10", "p95 ms"):
        assert f">{column}<" in page, column
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert 'data-series="sparse"' in svg and 'data-series="dense"' in svg and "<polyline" in svg
    assert "<script" not in svg and "style=" not in svg
    charts = re.findall(r'<svg[^>]*aria-label="([^"]+)"', page)
    assert any("per-query nDCG@10" in c for c in charts) and any("search latency" in c for c in charts), charts
    assert SECRET not in page, "an eval run on a data set shows nothing of the organisation's documents"

    second_start = client.post("/eval/runs", data={"dataset": "tiny", "modes": ["sparse"], "ks": "1,10",
                                                   "csrf": csrf})
    second = wait_done(client, second_start.headers["location"])

    compared = client.get(f"/eval/compare?a={first}&b={second}")
    assert compared.status_code == 200
    assert 'data-mode="sparse"' in compared.text and 'data-metric="ndcg@10"' in compared.text
    assert "Wins of run" in compared.text and "Losses of run" in compared.text and "student" in compared.text

    listing = client.get("/eval").text
    assert f'data-run="{first}"' in listing and f'data-run="{second}"' in listing

    made = client.post(f"/eval/runs/{first}/baseline", data={"csrf": csrf})
    assert made.status_code == 303
    assert "data-baseline" in client.get(f"/eval/runs/{first}").text
    gated = client.get(f"/eval/runs/{second}").text
    assert 'data-gate="pass"' in gated, "the same search on more queries keeps recall@10 and nDCG@10"
    assert re.search(rf'data-run="{second}" data-gate="pass"', client.get("/eval").text)


def test_an_admin_sees_the_pages_too(client):
    login(client, "ivar")
    assert client.get("/eval").status_code == 200
    assert client.get("/eval/new").status_code == 200


def test_an_organisation_set_runs_as_the_evaluator_and_never_scores_what_they_cannot_read(client, web_services):
    """A set exported from feedback judges the handbook and the board minutes; eva (group everyone) starts
    it from the page: it runs on the main collection as eva, the board question is dropped before the run,
    and the stored run names neither the board document nor its text."""
    from app.db.evaluation import EvalRun
    from app.evaluation.org_data import Origin, write_origin
    from eval.beir import write_beir

    ids = web_services.doc_ids
    folder = web_services.settings.data_dir / "datasets" / "org-feedback"
    write_beir(folder, [], {"qa": "How many vacation days do employees get?", "qb": "What did the board approve?"},
               {"qa": {ids["handbook.md"]: 1}, "qb": {ids["board-minutes.md"]: 1}})
    write_origin(folder, Origin(web_services.settings.collection, {
        ids["handbook.md"]: {"groups": ["everyone"], "public": False},
        ids["board-minutes.md"]: {"groups": ["board"], "public": False}}))

    login(client, "eva")
    new = client.get("/eval/new").text
    assert 'value="org-feedback"' in new and "runs as you" in new
    started = client.post("/eval/runs", data={"dataset": "org-feedback", "modes": ["hybrid"], "ks": "1,10",
                                              "csrf": csrf_of(new)})
    run_id = wait_done(client, started.headers["location"])
    with web_services.session() as session:
        run = session.get(EvalRun, run_id)
        assert run.settings["as_user"] == "eva" and run.collection == web_services.settings.collection
        assert set(run.qrels) == {"qa"}, "the question judged only on a board document is dropped"
        stored = str(run.qrels) + str([r.rankings for r in run.results])
    assert ids["board-minutes.md"] not in stored
    page = client.get(f"/eval/runs/{run_id}").text
    assert "as eva" in page and SECRET not in page and ids["board-minutes.md"] not in page


def test_a_drilldown_shows_one_querys_hits_with_their_ranks_and_judgments(client):
    """From a run's per-query table to one query: its hits searched again with the run's profile, dense and
    sparse ranks and scores, the judged hit marked, and the missed relevant documents listed."""
    login(client, "eva")
    csrf = csrf_of(client.get("/eval/new").text)
    started = client.post("/eval/runs", data={"dataset": "tiny", "modes": ["hybrid", "sparse"], "ks": "1,10",
                                              "limit": "4", "csrf": csrf})
    run_id = wait_done(client, started.headers["location"])
    page = client.get(f"/eval/runs/{run_id}").text
    links = re.findall(rf'href="(/eval/runs/{run_id}/queries/[^"?]+)"', page)
    assert len(set(links)) == 4, "one drill-down link per query"
    drill = client.get(links[0] + "?mode=hybrid")
    assert drill.status_code == 200 and 'data-page="eval-query"' in drill.text and 'data-mode="hybrid"' in drill.text
    assert "data-question>" in drill.text and "data-withheld" not in drill.text
    rows = re.findall(r'<tr data-hit="(\d+)"', drill.text)
    assert rows and rows[0] == "1"
    assert re.search(r'<td class="num">#\d+<br>', drill.text), "dense / sparse ranks shown"
    judged = 'data-judged="' in drill.text
    missed = "data-missed>" in drill.text
    assert judged or missed, "a relevant document is either among the hits (marked) or listed as missed"
    assert client.get(f"/eval/runs/{run_id}/queries/no-such-query").status_code == 404
    assert client.get(links[0] + "?mode=everything").status_code == 404


def test_an_evaluator_drilling_into_a_board_query_sees_no_byte_of_it(client, web_services):
    """A run of the organisation's set made as bob (in the board group, as `inhouse eval run --as bob` does):
    its board question's hits include the board minutes. eva (group everyone) opens that query: the hit is
    withheld (rank only), the missed-document list names nothing of it, the question is withheld, and no
    byte of the document (title, text, id, the secret) is in the page. The handbook question she may read."""
    from app.accounts.actor import Actor
    from app.evaluation.background import EvalRunner
    from app.evaluation.org_data import Origin, write_origin
    from eval.beir import write_beir

    ids = web_services.doc_ids
    folder = web_services.settings.data_dir / "datasets" / "org-board"
    write_beir(folder, [], {"qa": "How many vacation days do employees get?",
                            "qb": "What acquisition did the board approve, and the code word?"},
               {"qa": {ids["handbook.md"]: 1}, "qb": {ids["board-minutes.md"]: 1}})
    write_origin(folder, Origin(web_services.settings.collection, {
        ids["handbook.md"]: {"groups": ["everyone"], "public": False},
        ids["board-minutes.md"]: {"groups": ["board"], "public": False}}))
    runner = EvalRunner(web_services)
    job = runner.start(Actor("bob", "employee"), "org-board", ["hybrid"], [1, 10], None)
    deadline = time.monotonic() + 300
    while not job.final:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert job.state == "done", job.error

    login(client, "sofie")
    assert client.get(f"/eval/runs/{job.run_id}/queries/qb").status_code == 403

    login(client, "eva")
    run_page = client.get(f"/eval/runs/{job.run_id}").text
    assert "as bob" in run_page and 'data-query="qb"' in run_page
    page = client.get(f"/eval/runs/{job.run_id}/queries/qb")
    assert page.status_code == 200
    body = page.text
    for secret in (SECRET, ids["board-minutes.md"], "Board minutes", "Brekke", "48 million", "board-minutes.md",
                   "What acquisition did the board approve"):
        assert secret not in body, secret
    assert "data-withheld" in body and "withheld: a passage of a document outside your groups" in body
    assert "data-question-withheld" in body

    mine = client.get(f"/eval/runs/{job.run_id}/queries/qa").text
    assert "How many vacation days" in mine and 'data-judged="1"' in mine and "Employee handbook" in mine
    assert SECRET not in mine and ids["board-minutes.md"] not in mine


def test_a_running_evaluation_shows_time_left_and_can_be_cancelled(client, web_services):
    """A set of 400 queries (the tiny corpus, its questions asked again under new ids) run in two modes:
    while it runs the fragment says how long is left; another evaluator cannot cancel it, a forged form
    cannot either; eva cancels it, it stops before its last query and stores no run. A second run queued
    behind it is cancelled at once, before it starts."""
    from app.db.evaluation import EvalRun
    from eval.beir import load_beir, write_beir

    with web_services.session() as session:
        add_user(session, "evan", role="evaluator", groups=["everyone"], password=PASSWORD)
    tiny = load_beir(web_services.settings.data_dir / "datasets" / "tiny")
    queries, qrels = {}, {}
    for n in range(400):
        qid = list(tiny.queries)[n % len(tiny.queries)]
        queries[f"{qid}-{n}"], qrels[f"{qid}-{n}"] = tiny.queries[qid], tiny.qrels[qid]
    write_beir(web_services.settings.data_dir / "datasets" / "long", list(tiny.corpus.values()), queries, qrels)
    with web_services.session() as session:
        runs_before = session.query(EvalRun).count()

    login(client, "eva")
    csrf = csrf_of(client.get("/eval/new").text)
    first = client.post("/eval/runs", data={"dataset": "long", "modes": ["sparse", "hybrid+rerank"], "ks": "10",
                                            "csrf": csrf}).headers["location"].rsplit("/", 1)[1]
    second = client.post("/eval/runs", data={"dataset": "tiny", "modes": ["sparse"], "ks": "10",
                                             "csrf": csrf}).headers["location"].rsplit("/", 1)[1]
    assert 'data-state="queued"' in client.get(f"/eval/jobs/{second}/progress").text
    assert client.post(f"/eval/jobs/{second}/cancel", data={"csrf": csrf}).status_code == 303
    assert "data-cancelled" in client.get(f"/eval/jobs/{second}/progress").text

    deadline = time.monotonic() + 300
    while True:
        fragment = client.get(f"/eval/jobs/{first}/progress").text
        done = re.search(r'data-done="(\d+)"', fragment)
        if done and int(done.group(1)) >= 5 and re.search(r'data-eta="\d+"', fragment):
            break
        assert 'data-state="done"' not in fragment and 'data-state="failed"' not in fragment, fragment
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert re.search(r"About \d+ (s|min) left", fragment) and "data-cancel>" in fragment

    assert client.post(f"/eval/jobs/{first}/cancel", data={"csrf": "forged"}).status_code == 403
    login(client, "evan")
    other = client.get(f"/eval/jobs/{first}/progress").text
    assert "data-cancel>" not in other, "no cancel button for a run someone else started"
    assert client.post(f"/eval/jobs/{first}/cancel", data={"csrf": csrf_of(client.get("/eval/new").text)}).status_code == 403

    login(client, "eva")
    csrf = csrf_of(client.get("/eval/new").text)
    assert client.post(f"/eval/jobs/{first}/cancel", data={"csrf": csrf}).status_code == 303
    while 'data-state="cancelled"' not in (fragment := client.get(f"/eval/jobs/{first}/progress").text):
        assert 'data-state="done"' not in fragment, "cancelled before its last query"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert "hx-get" not in fragment and "Cancelled by eva" in fragment
    assert int(re.search(r'data-done="(\d+)"', fragment).group(1)) < 800 if "data-done" in fragment else True
    assert client.post(f"/eval/jobs/{first}/cancel", data={"csrf": csrf}).status_code == 409
    with web_services.session() as session:
        assert session.query(EvalRun).count() == runs_before, "a cancelled run stores nothing"


def test_answer_quality_is_measured_from_the_browser_and_shown_as_a_run(client):
    """eval answers from the new-run page on the tiny set (gold answers): queued like a run, its progress
    polled, stored as a run of kind answers whose table shows answer recall, citation precision, the
    unsupported share, the not-found rate and latency. A set without gold answers, the organisation's own set,
    an unknown name, a forged form and an employee are refused."""
    login(client, "sofie")
    assert client.post("/eval/answers", data={"dataset": "tiny", "csrf": csrf_of(client.get("/").text)}
                       ).status_code == 403
    login(client, "eva")
    new = client.get("/eval/new").text
    answers_form = re.search(r'<form[^>]*action="/eval/answers".*?</form>', new, re.S).group(0)
    assert '<option value="tiny">' in answers_form
    assert '<option value="org-feedback">' not in answers_form
    csrf = csrf_of(new)
    assert client.post("/eval/answers", data={"dataset": "tiny"}).status_code == 403
    assert client.post("/eval/answers", data={"dataset": "nope", "csrf": csrf}).status_code == 404
    assert client.post("/eval/answers", data={"dataset": "org-feedback", "csrf": csrf}).status_code == 400
    assert client.post("/eval/answers", data={"dataset": "tiny", "limit": "0", "csrf": csrf}).status_code == 400
    started = client.post("/eval/answers", data={"dataset": "tiny", "limit": "3", "csrf": csrf})
    assert started.status_code == 303
    run_id = wait_done(client, started.headers["location"])
    page = client.get(f"/eval/runs/{run_id}").text
    assert 'data-mode="answers (extractive)"' in page
    for column in ("answer recall", "citation precision", "unsupported share", "not found rate", "p95 ms"):
        assert f">{column}<" in page, column
    assert "Answer quality" in page and "<svg" not in page and 'id="queries"' not in page
    assert re.search(rf'data-run="{run_id}"', client.get("/eval").text) and ">answers<" in client.get("/eval").text
    assert "Make this the baseline" not in page
    refused = client.post(f"/eval/runs/{run_id}/baseline", data={"csrf": csrf})
    assert refused.status_code == 400, "an answers run is no baseline for the retrieval gate"
