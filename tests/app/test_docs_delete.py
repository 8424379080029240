"""`inhouse docs delete` forgets a document completely, run as operators run it: the real CLI.

Alice (hr) asks about the leave policy, which only hr may read, and gives a
thumbs-up to the passages she was shown; Nina (no group) asks about travel,
which everyone may read, and judges that. Deleting the leave policy must leave
no row, index point, stored file, clean text, stored answer, answer passage or
feedback judgment of it behind, and must not touch what the travel policy has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[2]

LEAVE = "# Leave\n\nEmployees get 25 days of paid leave a year. Contractors get no paid leave.\n"
TRAVEL = "# Travel\n\nTrain tickets are booked through the travel desk. Flights need a manager's approval.\n"


def inhouse(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def ok_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def judge_shown_passages(settings, user: str, answer: dict) -> None:
    """Thumbs-up on every passage the stored answer showed (feedback has no CLI command yet)."""
    from app.db.answers import AnswerPassage
    from app.answering.feedback import PassageRef, record_feedback
    from app.services import build_services

    services = build_services(settings)
    try:
        with services.session() as session:
            shown = session.scalars(select(AnswerPassage).where(AnswerPassage.answer_id == answer["answer_id"]))
            refs = [PassageRef(p.document_id, p.chunk_id) for p in shown]
        assert refs
        record_feedback(services, user, answer["question"], refs, "up", answer_id=str(answer["answer_id"]))
    finally:
        services.close()  # Qdrant Edge: one process at a time


def test_deleting_a_document_through_the_cli_leaves_nothing_of_it(tmp_path, make_settings):
    settings = make_settings(generator_max_tokens=24, answer_passages=3)
    env = {**os.environ, "INHOUSE_DATA_DIR": str(settings.data_dir), "INHOUSE_MODELS_DIR": str(settings.models_dir),
           "INHOUSE_GENERATOR_MAX_TOKENS": "24", "INHOUSE_ANSWER_PASSAGES": "3"}
    (tmp_path / "leave.md").write_text(LEAVE)
    (tmp_path / "travel.md").write_text(TRAVEL)
    ok_json(inhouse(env, "users", "add", "alice", "--groups", "hr", "--json"))
    ok_json(inhouse(env, "users", "add", "nina", "--json"))
    [leave] = ok_json(inhouse(env, "ingest", str(tmp_path / "leave.md"), "--groups", "hr", "--json"))["documents"]
    [travel] = ok_json(inhouse(env, "ingest", str(tmp_path / "travel.md"), "--public", "--json"))["documents"]
    on_leave = ok_json(inhouse(env, "ask", "How many days of paid leave do employees get?", "--as", "alice",
                               "--json"))
    on_travel = ok_json(inhouse(env, "ask", "How are train tickets booked?", "--as", "nina", "--json"))
    judge_shown_passages(settings, "alice", on_leave)
    judge_shown_passages(settings, "nina", on_travel)

    refused = inhouse(env, "docs", "delete", "", "--json")
    assert refused.returncode == 1 and refused.stdout == ""  # an empty id names no document
    deleted = ok_json(inhouse(env, "docs", "delete", leave["id"][:8], "--json"))
    assert [(d["id"], d["status"]) for d in deleted["documents"]] == [(leave["id"], "deleted")]
    listed = ok_json(inhouse(env, "docs", "list", "--json"))["documents"]
    assert [d["id"] for d in listed] == [travel["id"]]

    from app.db.answers import AnswerPassage, AnswerRecord
    from app.db.evaluation import FeedbackJudgment
    from app.services import build_services
    from app.db.library import Chunk, Document, DocumentGroup, IngestJob
    from retrieval.schema import IndexFilter

    services = build_services(settings)
    try:
        with services.session() as s:
            def count(model, *where) -> int:
                return s.scalar(select(func.count()).select_from(model).where(*where))

            assert count(Document, Document.id == leave["id"]) == 0
            assert count(Chunk, Chunk.document_id == leave["id"]) == 0
            assert count(IngestJob, IngestJob.document_id == leave["id"]) == 0
            assert count(DocumentGroup, DocumentGroup.document_id == leave["id"]) == 0
            assert s.get(AnswerRecord, on_leave["answer_id"]) is None
            assert count(AnswerPassage, AnswerPassage.document_id == leave["id"]) == 0
            assert count(AnswerPassage, AnswerPassage.answer_id == on_leave["answer_id"]) == 0
            assert count(FeedbackJudgment, FeedbackJudgment.doc_id == leave["id"]) == 0
            assert count(FeedbackJudgment, FeedbackJudgment.answer_id == str(on_leave["answer_id"])) == 0
            # the travel policy, Nina's answer and her judgment are untouched
            assert s.get(AnswerRecord, on_travel["answer_id"]) is not None
            assert count(FeedbackJudgment, FeedbackJudgment.answer_id == str(on_travel["answer_id"])) >= 1
            assert count(Chunk, Chunk.document_id == travel["id"]) == travel["chunks"]
        assert services.index.count(IndexFilter(doc_ids=[leave["id"]])) == 0
        assert services.index.count(IndexFilter(doc_ids=[travel["id"]])) == travel["chunks"]
    finally:
        services.close()
    from app.library.documents import stored_file, text_file
    from ingest.hashing import sha256_file

    sha = sha256_file(tmp_path / "leave.md")
    assert not stored_file(settings.files_dir, sha).exists()
    assert not text_file(settings.data_dir, leave["id"]).exists()
    assert text_file(settings.data_dir, travel["id"]).exists()
