"""Feedback: judgments only on visible passages, exported as a BEIR set the suite can run."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.directory import acl_tokens, add_group, add_user, get_user
from app.db.evaluation import FeedbackJudgment
from app.answering.service import AnswerService
from app.answering.feedback import AnswerNotFound, FeedbackError, PassageRef, export_feedback, judgments, query_id, record_feedback
from app.library.ingestion import IngestService
from eval.beir import load_beir
from eval.runner import run_modes
from retrieval.schema import IndexFilter


@pytest.fixture
def org(services, tmp_path):
    with services.session() as session:
        add_group(session, "hr")
        add_group(session, "eng")
        add_user(session, "alice", groups=["hr"])
        add_user(session, "bob", groups=["eng"])
        add_user(session, "carol", groups=["hr"])
    docs = {}
    for name, text, group in [
        ("leave.txt", "Birth parents receive sixteen weeks of paid parental leave.", "hr"),
        ("pension.txt", "The company pays seven percent of salary into the pension plan.", "hr"),
        ("gripper.txt", "Zero the torque sensor before calibrating the gripper.", "eng"),
    ]:
        path = tmp_path / name
        path.write_text(text)
        [r] = IngestService(services).ingest_paths([path], [group])
        assert r.status == "ready"
        docs[name] = r.id
    chunk = {name: next(iter(services.index.ids(IndexFilter(doc_ids=[d])))) for name, d in docs.items()}
    return services, docs, chunk


def test_thumbs_up_and_wrong_sources_become_graded_judgments(org):
    services, docs, chunk = org
    q = "How long is parental leave?"
    record_feedback(services, "alice", q, [PassageRef(docs["leave.txt"], chunk["leave.txt"])], "up")
    record_feedback(services, "alice", q, [PassageRef(docs["pension.txt"], chunk["pension.txt"])], "wrong_sources")
    with services.session() as session:
        rows = session.scalars(select(FeedbackJudgment).order_by(FeedbackJudgment.id)).all()
        assert [(r.doc_id, r.grade, r.verdict) for r in rows] == [
            (docs["leave.txt"], 1, "up"), (docs["pension.txt"], 0, "wrong_sources")]
        assert rows[0].query_id == query_id("how long is   parental leave?") and rows[0].chunk_id == chunk["leave.txt"]


def test_feedback_on_a_passage_the_user_cannot_see_is_refused(org):
    services, docs, chunk = org
    for ref in [
        PassageRef(docs["gripper.txt"], chunk["gripper.txt"]),  # another group's document
        PassageRef(docs["gripper.txt"]),  # … named by document only
        PassageRef(docs["leave.txt"], chunk["gripper.txt"]),  # a visible document with a hidden chunk
        PassageRef("no-such-document"),
    ]:
        with pytest.raises(FeedbackError, match="not among the passages you can see"):
            record_feedback(services, "alice", "torque?", [PassageRef(docs["leave.txt"]), ref], "up")
    with services.session() as session:
        assert session.scalars(select(FeedbackJudgment)).all() == [], "nothing is recorded from a refused request"
    record_feedback(services, "bob", "torque?", [PassageRef(docs["gripper.txt"], chunk["gripper.txt"])], "up")


def test_feedback_names_only_the_users_own_answer(org):
    """W10: an answer id that is another reader's (or no one's) is refused alike, as not found."""
    services, docs, chunk = org
    q, leave = "How long is parental leave?", PassageRef(docs["leave.txt"], chunk["leave.txt"])
    alices = AnswerService(services, mode="extractive").ask(q, "alice")
    assert alices.answer_id is not None
    refusals = []
    for answer_id in (str(alices.answer_id), "999999", "not-a-number"):
        with pytest.raises(AnswerNotFound) as refused:
            record_feedback(services, "carol", q, [leave], "up", answer_id=answer_id)  # carol sees the passage
        refusals.append(str(refused.value).replace(answer_id, "ID"))
    assert len(set(refusals)) == 1, "the refusal must not tell someone else's answer from a missing one"
    with services.session() as session:
        assert session.scalars(select(FeedbackJudgment)).all() == []
    [row] = record_feedback(services, "alice", q, [leave], "up", answer_id=str(alices.answer_id))
    assert row["grade"] == 1


def test_each_users_latest_verdict_counts_and_the_majority_decides(org):
    services, docs, chunk = org
    q, leave = "parental leave weeks", PassageRef(docs["leave.txt"], chunk["leave.txt"])
    record_feedback(services, "alice", q, [leave], "wrong_sources")
    record_feedback(services, "alice", q, [leave], "up")  # alice changed her mind
    record_feedback(services, "carol", q, [leave], "up")
    pension = PassageRef(docs["pension.txt"])
    record_feedback(services, "alice", q, [pension], "up")
    record_feedback(services, "carol", q, [pension], "wrong_sources")  # a tie is not relevant
    queries, qrels = judgments(services)
    assert queries == {query_id(q): q}
    assert qrels[query_id(q)] == {docs["leave.txt"]: 1, docs["pension.txt"]: 0}


def test_export_feedback_round_trips_through_the_beir_loader_and_the_runner(org, tmp_path):
    services, docs, chunk = org
    q1, q2 = "How long is parental leave?", "What does the company pay into the pension?"
    record_feedback(services, "alice", q1, [PassageRef(docs["leave.txt"], chunk["leave.txt"])], "up")
    record_feedback(services, "alice", q1, [PassageRef(docs["pension.txt"], chunk["pension.txt"])], "wrong_sources")
    record_feedback(services, "carol", q2, [PassageRef(docs["pension.txt"], chunk["pension.txt"])], "up")
    summary = export_feedback(services, tmp_path / "feedback")
    assert summary == {"out_dir": str(tmp_path / "feedback"), "collection": "inhouse", "queries": 2,
                       "documents": 2, "judgments": 3}
    ds = load_beir(tmp_path / "feedback", need_corpus=False)
    assert ds.queries == {query_id(q1): q1, query_id(q2): q2}
    assert ds.qrels[query_id(q1)] == {docs["leave.txt"]: 1, docs["pension.txt"]: 0}
    assert ds.corpus == {}, "no document text leaves the collection (issue 15, W1)"
    with services.session() as session:
        tokens = acl_tokens(session, get_user(session, "alice"))  # eval on own data reads as a user
    [result] = run_modes(lambda p: services.searcher_for(services.index, p), ds, ["hybrid"], [1, 10],
                         acl_tokens=tokens)
    assert result.metrics["recall@10"] == 1.0
