"""Tuning from the browser, applying and restoring the profile, an evaluator's own judgment from a query's
page, and two answer-quality runs compared, through the real app (real models, index and SQL).

Forbidden cases first: an employee gets 403 on every new form, a form without its CSRF token is refused,
an evaluator cannot judge a passage outside their groups (404, nothing stored) nor a question withheld
from them."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from app.accounts.actor import Actor
from app.accounts.directory import add_user, get_user
from app.db.evaluation import EvalResult, EvalRun, FeedbackJudgment, SearchProfileChange
from app.evaluation.background import EvalRunner
from retrieval.profile import SearchProfile
from retrieval.schema import IndexFilter
from tests.eval.conftest import write_tiny_beir
from tests.web.conftest import PASSWORD, SECRET, csrf_of, login
from tests.web.test_eval_routes import wait_done

ODD = SearchProfile(mode="hybrid", fusion="rrf", rrf_k=7, dense_weight=0.45, candidates=33)  # no tune picks this


@pytest.fixture(scope="module", autouse=True)
def people_and_sets(web_services):
    from app.evaluation.org_data import Origin, write_origin
    from eval.beir import write_beir

    with web_services.session() as session:
        add_user(session, "eva", role="evaluator", groups=["everyone"], password=PASSWORD)
    datasets = web_services.settings.data_dir / "datasets"
    write_tiny_beir(datasets / "tiny")
    ids = web_services.doc_ids
    readable = {"handbook.md": ["everyone"], "badges.md": ["everyone"], "parking.pdf": ["everyone"],
                "board-minutes.md": ["board"]}
    queries = {"qa": "How many vacation days do employees get?", "qr": "Is remote work allowed?",
               "qv": "What do I do when I lose my visitor badge?", "qp": "Where do visitors park?",
               "qb": "What acquisition did the board approve, and the code word?"}
    qrels = {"qa": {ids["handbook.md"]: 1}, "qr": {ids["handbook.md"]: 1}, "qv": {ids["badges.md"]: 1},
             "qp": {ids["parking.pdf"]: 1}, "qb": {ids["board-minutes.md"]: 1}}
    write_beir(datasets / "org", [], queries, qrels)
    write_origin(datasets / "org", Origin(web_services.settings.collection, {
        ids[name]: {"groups": groups, "public": False} for name, groups in readable.items()}))


def wait(job, seconds: float = 600):
    deadline = time.monotonic() + seconds
    while not job.final:
        assert time.monotonic() < deadline, job.state
        time.sleep(0.3)
    assert job.state == "done", job.error
    return job.run_id


def a_run_as(web_services, who: str, dataset: str, modes: list[str]) -> int:
    return wait(EvalRunner(web_services).start(Actor(who, "evaluator"), dataset, modes, [1, 10], None))


def test_an_employee_gets_403_on_tune_apply_restore_and_judge(client):
    login(client, "sofie")
    csrf = csrf_of(client.get("/").text)
    for url, data in (("/eval/tune", {"dataset": "tiny"}), ("/eval/runs/1/apply", {}), ("/eval/runs/1/restore", {}),
                      ("/eval/runs/1/queries/qa/judgments", {"doc_id": "x", "grade": "1"})):
        assert client.post(url, data={**data, "csrf": csrf}).status_code == 403, url


def test_tune_apply_restore_and_judge_need_the_csrf_token(client, web_services):
    login(client, "eva")
    with web_services.session() as session:
        before = session.scalar(select(func.count()).select_from(FeedbackJudgment))
    for url, data in (("/eval/tune", {"dataset": "tiny"}), ("/eval/runs/1/apply", {}), ("/eval/runs/1/restore", {}),
                      ("/eval/runs/1/queries/qa/judgments", {"doc_id": web_services.doc_ids["handbook.md"],
                                                             "grade": "1"})):
        assert client.post(url, data=data).status_code == 403, url
        assert client.post(url, data={**data, "csrf": "forged"}).status_code == 403, url
    with web_services.session() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackJudgment)) == before


def test_a_tune_shows_its_choice_before_it_is_applied_and_applying_is_on_record_and_reversible(client, web_services):
    """eva tunes the tiny set from the new-run page. Its run shows the chosen profile and its held-out nDCG@10
    next to every fixed mode, and the collection's profile now; nothing changes until Apply. Apply sets the
    profile and records who, when, from which run and what it was before; Restore puts the old one back."""
    login(client, "eva")
    new = client.get("/eval/new").text
    assert 'action="/eval/tune"' in new
    started = client.post("/eval/tune", data={"dataset": "tiny", "csrf": csrf_of(new)})
    assert started.status_code == 303
    run_id = wait_done(client, started.headers["location"])
    with web_services.session() as session:
        run = session.get(EvalRun, run_id)
        assert run.kind == "tune" and "tuned_profile" in run.settings and "tune" in run.settings
        collection, chosen = run.collection, SearchProfile.from_dict(run.settings["tuned_profile"])
        assert {r.mode for r in run.results} >= {"dense", "sparse", "hybrid", "hybrid+rerank", "tuned"}
    web_services.save_search_profile(ODD, collection)  # whatever was chosen differs from what is in use

    page = client.get(f"/eval/runs/{run_id}").text
    assert "data-tune" in page and 'data-in-use="no"' in page and 'data-action="apply"' in page
    for mode in ("dense", "sparse", "hybrid", "hybrid+rerank", "tuned"):
        assert f'data-tune-mode="{mode}"' in page, mode
    assert ">held out<" in page and re.search(r"data-tuned-ndcg>\d\.\d{4}<", page)
    assert "hybrid rrf k=7" in page, "the collection's profile now is shown next to the choice"
    assert 'data-action="restore"' not in page, "nothing applied yet, nothing to restore"
    assert web_services.search_profile(collection) == ODD, "a tune changes nothing by itself"

    csrf = csrf_of(page)
    applied = client.post(f"/eval/runs/{run_id}/apply", data={"csrf": csrf})
    assert applied.status_code == 303
    assert web_services.search_profile(collection) == chosen
    with web_services.session() as session:
        [change] = session.scalars(select(SearchProfileChange).where(SearchProfileChange.collection == collection)).all()
        assert (change.action, change.changed_by, change.run_id) == ("apply", "eva", run_id)
        assert change.before == ODD.as_dict() and change.after == chosen.as_dict() and change.changed_at is not None
    page = client.get(applied.headers["location"]).text
    assert "data-applied" in page and 'data-in-use="yes"' in page and 'data-action="apply"' not in page
    assert 'data-action="restore"' in page and 'data-change="apply"' in page
    assert client.post(f"/eval/runs/{run_id}/apply", data={"csrf": csrf}).status_code == 409, "already in use"

    restored = client.post(f"/eval/runs/{run_id}/restore", data={"csrf": csrf})
    assert restored.status_code == 303
    assert web_services.search_profile(collection) == ODD
    with web_services.session() as session:
        changes = session.scalars(select(SearchProfileChange).where(SearchProfileChange.collection == collection)
                                  .order_by(SearchProfileChange.id)).all()
        assert [(c.action, c.changed_by) for c in changes] == [("apply", "eva"), ("restore", "eva")]
        assert changes[1].after == ODD.as_dict() and changes[0].reverted_by == changes[1].id
    page = client.get(restored.headers["location"]).text
    assert "data-restored" in page and 'data-action="apply"' in page and 'data-action="restore"' not in page
    assert client.post(f"/eval/runs/{run_id}/restore", data={"csrf": csrf}).status_code == 409, "nothing left to undo"

    plain = a_run_as(web_services, "eva", "tiny", ["sparse"])
    assert client.post(f"/eval/runs/{plain}/apply", data={"csrf": csrf}).status_code == 400, "only a tune's choice"


def test_tuning_the_organisations_set_runs_as_the_evaluator_and_the_applied_profile_serves_the_next_search(
        client, web_services):
    """The organisation's own set is tuned on the main collection as eva: the board question (outside her
    groups) is dropped before the tune, the stored run names nothing of it; once applied, the server's
    search (the cached searcher) follows the new profile without a restart."""
    login(client, "eva")
    csrf = csrf_of(client.get("/eval/new").text)
    started = client.post("/eval/tune", data={"dataset": "org", "rerank": "", "csrf": csrf})
    run_id = wait_done(client, started.headers["location"])
    main = web_services.settings.collection
    with web_services.session() as session:
        run = session.get(EvalRun, run_id)
        assert run.settings["as_user"] == "eva" and run.collection == main
        stored = str(run.settings) + str(run.qrels) + str([r.rankings for r in run.results])
        chosen = SearchProfile.from_dict(run.settings["tuned_profile"])
    assert web_services.doc_ids["board-minutes.md"] not in stored and SECRET not in stored
    page = client.get(f"/eval/runs/{run_id}").text
    assert SECRET not in page and web_services.doc_ids["board-minutes.md"] not in page

    web_services.save_search_profile(ODD)
    assert web_services.searcher.profile == ODD
    assert client.post(f"/eval/runs/{run_id}/apply", data={"csrf": csrf}).status_code == 303
    assert web_services.searcher.profile == chosen, "the next question searches with the applied profile"
    assert client.post(f"/eval/runs/{run_id}/restore", data={"csrf": csrf}).status_code == 303
    assert web_services.searcher.profile == ODD
    web_services.save_search_profile(SearchProfile())


def judgment_count(web_services) -> int:
    with web_services.session() as session:
        return session.scalar(select(func.count()).select_from(FeedbackJudgment))


def test_an_evaluator_adds_a_judgment_from_a_query_page_and_export_feedback_takes_it(client, web_services, tmp_path):
    """A run of the organisation's set made as bob (board member). On the vacation question eva marks the
    handbook passage relevant from its form: stored as hers (user, time, origin evaluator), marked as hers on
    the page, and exported by `inhouse eval export-feedback`; marking it not relevant later wins."""
    from app.answering.feedback import export_feedback, judgments, query_id
    from eval.beir import load_beir

    run_id = a_run_as(web_services, "bob", "org", ["hybrid"])
    login(client, "eva")
    page = client.get(f"/eval/runs/{run_id}/queries/qa").text
    handbook = web_services.doc_ids["handbook.md"]
    form = re.search(rf'<form method="post" action="(/eval/runs/{run_id}/queries/qa/judgments)"[^>]*'
                     rf'data-judge="{handbook}">(.*?)</form>', page, re.S)
    assert form, "a judging form on the handbook's passage"
    chunk = re.search(r'name="chunk_id" value="([^"]*)"', form.group(2)).group(1)
    assert chunk, "the form names the passage, not only the document"
    before = judgment_count(web_services)
    added = client.post(form.group(1), data={"csrf": csrf_of(page), "doc_id": handbook, "chunk_id": chunk,
                                             "grade": "1", "mode": "hybrid"})
    assert added.status_code == 303 and added.headers["location"].startswith(f"/eval/runs/{run_id}/queries/qa")
    assert judgment_count(web_services) == before + 1
    qid = query_id("How many vacation days do employees get?")
    with web_services.session() as session:
        row = session.scalars(select(FeedbackJudgment).order_by(FeedbackJudgment.id.desc()).limit(1)).one()
        assert (row.origin, row.grade, row.doc_id, row.chunk_id, row.query_id) == ("evaluator", 1, handbook, chunk, qid)
        assert row.user_id == get_user(session, "eva").id and row.created_at is not None
        assert row.collection == web_services.settings.collection
    assert 'data-mine="1"' in client.get(added.headers["location"]).text

    out = tmp_path / "exported"
    export_feedback(web_services, out)
    exported = load_beir(out, need_corpus=False)
    assert exported.qrels[qid][handbook] == 1 and "vacation days" in exported.queries[qid]

    client.post(form.group(1), data={"csrf": csrf_of(page), "doc_id": handbook, "chunk_id": chunk, "grade": "0"})
    assert judgments(web_services)[1][qid][handbook] == 0, "the latest expert judgment decides"
    assert 'data-mine="0"' in client.get(f"/eval/runs/{run_id}/queries/qa").text


def test_an_evaluator_cannot_judge_a_passage_outside_their_groups_nor_a_withheld_question(client, web_services):
    """The same run made as bob: its board question's hit is the board minutes. eva posts a judgment on that
    passage (its real document and chunk ids) on a question she may see, and on the board question itself:
    404 both times, and nothing is stored. A made-up document id gets the same 404."""
    run_id = a_run_as(web_services, "bob", "org", ["hybrid"])
    board = web_services.doc_ids["board-minutes.md"]
    board_chunk = next(iter(web_services.index.ids(IndexFilter(doc_ids=[board]))))
    handbook = web_services.doc_ids["handbook.md"]
    login(client, "eva")
    csrf = csrf_of(client.get("/eval/new").text)
    before = judgment_count(web_services)
    for query, doc, chunk in (("qa", board, board_chunk), ("qa", board, ""), ("qb", board, board_chunk),
                              ("qb", handbook, ""), ("qa", "no-such-document", ""), ("nope", handbook, "")):
        refused = client.post(f"/eval/runs/{run_id}/queries/{query}/judgments",
                              data={"csrf": csrf, "doc_id": doc, "chunk_id": chunk, "grade": "1"})
        assert refused.status_code == 404, (query, doc, chunk)
        assert SECRET not in refused.text and "Board minutes" not in refused.text
    assert judgment_count(web_services) == before, "nothing stored"
    assert "data-judge" not in client.get(f"/eval/runs/{run_id}/queries/qb").text, "no form on a withheld question"
    bad = client.post(f"/eval/runs/{run_id}/queries/qa/judgments", data={"csrf": csrf, "doc_id": handbook,
                                                                          "grade": "5"})
    assert bad.status_code in (400, 422) and judgment_count(web_services) == before


def test_two_answer_quality_runs_compare_metric_by_metric_and_question_by_question(client, web_services):
    """Two answer runs on the tiny set (extractive, three questions): the compare page shows answer recall,
    citation precision, unsupported share, not-found rate and latency side by side with differences and
    paired p-values; a question one run answered and the other did not is a win (or loss). An answers run
    against a retrieval run is refused."""
    runner = EvalRunner(web_services)
    first = wait(runner.start_answers(Actor("eva", "evaluator"), "tiny", 3))
    second = wait(runner.start_answers(Actor("eva", "evaluator"), "tiny", 3))
    with web_services.session() as session:
        result = session.scalars(select(EvalResult).where(EvalResult.run_id == first)).one()
        numbers = dict(result.rankings)
        assert set(numbers) == {"q1", "q2", "q3"} and {"answer_hit", "seconds"} <= set(numbers["q1"])
        hit = next(q for q, v in numbers.items() if v["answer_hit"] == 1.0)
        numbers[hit] = {**numbers[hit], "answer_hit": 0.0}  # run 1 missed one question run 2 answered
        result.rankings = numbers
    login(client, "eva")
    page = client.get(f"/eval/compare?a={first}&b={second}")
    assert page.status_code == 200 and 'data-kind="answers"' in page.text
    for metric in ("answer_recall", "citation_precision", "unsupported_share", "not_found_rate", "latency_p50_ms",
                   "latency_p95_ms"):
        assert f'data-metric="{metric}"' in page.text, metric
    assert "McNemar" in page.text and f'data-win="{hit}"' in page.text and "data-loss=" not in page.text
    run_page = client.get(f"/eval/runs/{first}").text
    assert 'action="/eval/compare"' in run_page and f'<option value="{second}">' in run_page

    retrieval = a_run_as(web_services, "eva", "tiny", ["sparse"])
    assert client.get(f"/eval/compare?a={first}&b={retrieval}").status_code == 400
    login(client, "sofie")
    assert client.get(f"/eval/compare?a={first}&b={second}").status_code == 403
