"""The review queue and the usage dashboard through the real app (in-process HTTP).

Forbidden cases first: no session, an employee, CSRF missing, and an owner of
one group who must not see (listed or by URL) an item resting on a document
of a group they cannot read. Then the loop closed end to end: an employee
rates an answer down, an administrator reviews it, writes the correct answer,
picks the passage that holds it, and ``export_feedback`` carries the judgment.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from app.db.answers import AnswerPassage, AnswerRecord
from app.accounts.directory import add_user
from app.db.accounts import Membership, User
from tests.web.conftest import PASSWORD, SECRET, csrf_of, login
from tests.web.test_ask_routes import ask_streamed, final_answer


@pytest.fixture(scope="module")
def answers(web_services, web_app):
    """olga owns the group "everyone" (not "board"); sofie and bob each asked and rated down."""
    from starlette.testclient import TestClient

    with web_services.session() as session:
        olga = add_user(session, "olga", role="owner", groups=["everyone"], password=PASSWORD)
        session.flush()
        session.scalar(select(Membership).where(Membership.user_id == olga.id)).owner = True
    made = {}
    for name, question in (("sofie", "How many vacation days do employees get?"),
                           ("bob", "What did the board approve about Brekke AS?")):
        with TestClient(web_app, base_url="http://testserver", follow_redirects=False) as c:
            assert login(c, name).status_code == 303
            csrf = csrf_of(c.get("/").text)
            events, _, _ = ask_streamed(c, csrf, question)
            final_answer(events)
            with web_services.session() as session:
                uid = session.scalar(select(User.id).where(User.name == name))
                answer_id = session.scalar(select(func_max()).where(AnswerRecord.user_id == uid))
            r = c.post(f"/answers/{answer_id}/rating", data={"csrf": csrf, "rating": "down",
                                                             "reasons": ["incomplete"], "comment": "too short"})
            assert r.status_code in (200, 303), r.text
            made[name] = answer_id
    with web_services.session() as session:
        docs = set(session.scalars(select(AnswerPassage.document_id).where(AnswerPassage.answer_id == made["bob"])))
    assert web_services.doc_ids["board-minutes.md"] in docs, "bob's answer rests on the board minutes"
    return made


def func_max():
    from sqlalchemy import func

    return func.max(AnswerRecord.id)


def signed_in(client, name: str) -> str:
    assert login(client, name).status_code == 303
    return csrf_of(client.get("/").text)


def test_no_session_is_sent_to_log_in(client, answers):
    for path in ("/review", f"/review/{answers['sofie']}", "/admin/usage", "/admin/usage.csv"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    r = client.post(f"/review/{answers['sofie']}/reviewed", data={})
    assert r.status_code in (303, 401) and SECRET not in r.text


def test_an_employee_may_not_review_or_see_usage(client, answers):
    signed_in(client, "sofie")
    for path in ("/review", f"/review/{answers['sofie']}", "/admin/usage", "/admin/usage.csv"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert SECRET not in r.text and "vacation" not in r.text.lower() or path == "/review"
    assert 'href="/review"' not in client.get("/").text


def test_an_owner_does_not_see_an_item_resting_on_a_board_document(client, answers):
    signed_in(client, "olga")
    page = client.get("/review")
    assert page.status_code == 200
    assert f'data-answer="{answers["sofie"]}"' in page.text
    assert f'data-answer="{answers["bob"]}"' not in page.text and SECRET not in page.text
    assert "Brekke" not in page.text
    assert client.get(f"/review/{answers['bob']}").status_code == 404
    csrf = csrf_of(client.get(f"/review/{answers['sofie']}").text)
    for action, data in (("reviewed", {}), ("judgment", {"correct_answer": "x", "passages": ["1"]})):
        r = client.post(f"/review/{answers['bob']}/{action}", data={"csrf": csrf, **data})
        assert r.status_code == 404 and SECRET not in r.text
    item = client.get(f"/review/{answers['sofie']}")
    assert "too short" in item.text, "the reader's reasons are shown"
    assert 'data-asker' not in item.text and "sofie" not in item.text.split("</header>", 1)[1], \
        "an owner does not learn who asked"
    assert 'href="/review"' in client.get("/").text


def test_an_admin_sees_every_item_and_who_asked(client, answers):
    signed_in(client, "ivar")
    page = client.get("/review")
    assert f'data-answer="{answers["bob"]}"' in page.text
    item = client.get(f"/review/{answers['bob']}")
    assert item.status_code == 200 and "<span data-asker>bob</span>" in item.text


def test_writes_need_csrf(client, answers):
    signed_in(client, "ivar")
    for action in ("reviewed", "judgment"):
        r = client.post(f"/review/{answers['sofie']}/{action}", data={"correct_answer": "x", "passages": ["1"]})
        assert r.status_code == 403, action
        r = client.post(f"/review/{answers['sofie']}/{action}", data={"csrf": "forged", "passages": ["1"]})
        assert r.status_code == 403, action


def test_mark_reviewed_takes_the_item_off_the_open_queue(client, answers):
    csrf = signed_in(client, "olga")
    r = client.post(f"/review/{answers['sofie']}/reviewed", data={"csrf": csrf})
    assert r.status_code == 303
    assert f'data-answer="{answers["sofie"]}"' not in client.get("/review").text
    shown = client.get("/review?show=all").text
    assert f'data-answer="{answers["sofie"]}" data-state="reviewed"' in shown


def test_a_review_becomes_a_judgment_that_export_feedback_carries(client, answers, web_services, tmp_path):
    from app.db.evaluation import FeedbackJudgment
    from app.answering.feedback import export_feedback, query_id
    from eval.beir import load_beir

    csrf = signed_in(client, "ivar")
    answer_id = answers["bob"]
    board = web_services.doc_ids["board-minutes.md"]
    with web_services.session() as session:
        record = session.get(AnswerRecord, answer_id)
        query = record.query
        n = next(p.n for p in record.passages if p.document_id == board)
    r = client.post(f"/review/{answer_id}/judgment", data={"csrf": csrf, "passages": []})
    assert r.status_code == 400, "a judgment needs a passage"
    r = client.post(f"/review/{answer_id}/judgment", data={"csrf": csrf, "passages": ["99"]})
    assert r.status_code == 400
    r = client.post(f"/review/{answer_id}/judgment", data={
        "csrf": csrf, "correct_answer": "The board approved buying Brekke AS for 48 million kroner.",
        "passages": [str(n)]})
    assert r.status_code == 303, r.text
    item = client.get(f"/review/{answer_id}").text
    assert "48 million kroner" in item and 'data-state="reviewed"' in item
    with web_services.session() as session:
        rows = session.scalars(select(FeedbackJudgment).where(FeedbackJudgment.answer_id == str(answer_id))).all()
    assert rows and all(r.origin == "review" for r in rows)
    assert {r.doc_id for r in rows if r.grade == 1} == {board}
    export_feedback(web_services, tmp_path / "fb")
    ds = load_beir(tmp_path / "fb", need_corpus=False)
    assert ds.queries[query_id(query)] == query
    assert ds.qrels[query_id(query)][board] == 1, "the reviewer's pick outweighs the asker's thumbs down"


def test_usage_dashboard_counts_from_the_database(client, answers):
    signed_in(client, "ivar")
    page = client.get("/admin/usage")
    assert page.status_code == 200
    assert '<dd data-figure="questions">' in page.text and 'data-chart="questions-per-day"' in page.text
    assert "<svg" in page.text and "style=" not in page.text
    assert 'aria-current="page">Usage' in page.text
    export = client.get("/admin/usage.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = {(s, k): v for s, k, v in list(csv.reader(io.StringIO(export.text)))[1:]}
    assert int(rows[("summary", "questions")]) >= 2
    assert int(rows[("summary", "thumbs_down")]) >= 2
    assert int(rows[("summary", "documents_indexed")]) == 4
    assert ("most_disliked", "Board minutes") in rows
    assert SECRET not in export.text
