"""The whole document lifecycle on PostgreSQL, not only its migrations: ingest, search, answer, regroup, delete.

The same commands as on SQLite, through the command line, against a throwaway
cluster (the ``postgres_url`` fixture; skipped with the reason where the server
binaries are absent). What differs between the two databases is exercised
here: JSON columns (stored answers, citations), cascades on delete, id-prefix
lookups, and the ACL tokens read fresh from SQL on every query.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import app


@pytest.fixture
def cli(tmp_path, models_dir, monkeypatch, postgres_url):
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("INHOUSE_DATABASE_URL", postgres_url)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args and code == 0 else " ".join(result.output.split())

    return invoke


def test_ingest_search_answer_regroup_and_delete_on_postgresql(cli, tmp_path, make_services, postgres_url):
    cli("users", "add", "alice", "--groups", "hr")
    cli("users", "add", "sam", "--groups", "staff")
    leave, salaries = tmp_path / "leave.md", tmp_path / "salaries.md"
    leave.write_text("# Leave\n\nEmployees get 25 days of paid leave a year. Contractors get none.\n")
    salaries.write_text("# Salary bands\n\nThe salary band for a Senior Engineer is 820,000 to 910,000 NOK.\n")
    docs = cli("ingest", str(leave), str(salaries), "--groups", "hr", "--json")["documents"]
    assert [d["status"] for d in docs] == ["ready", "ready"]
    leave_id, salaries_id = (d["id"] for d in docs)

    from sqlalchemy import func, select

    from app.db.answers import AnswerPassage, AnswerRecord
    from app.db.library import Chunk

    services = make_services(database_url=postgres_url)
    assert services.engine.dialect.name == "postgresql"

    def found(user: str, query: str) -> set[str]:
        return {h["doc_id"] for h in cli("search", query, "--as", user, "--json")["hits"]}

    assert leave_id in found("alice", "paid leave days")
    assert salaries_id in found("alice", "Senior Engineer salary band")
    assert found("sam", "Senior Engineer salary band") == set()

    answer = cli("ask", "How many days of paid leave do employees get?", "--as", "alice", "--json")
    assert "25 days" in answer["answer"] and answer["citations"][0]["doc_id"] == leave_id
    refused = cli("ask", "What is the salary band for a Senior Engineer?", "--as", "sam", "--json")
    assert refused["citations"] == [] and "820,000" not in refused["answer"]

    with services.session() as session:
        stored = session.get(AnswerRecord, answer["answer_id"]) if "answer_id" in answer else None
        assert session.scalar(select(func.count()).select_from(AnswerPassage)
                              .where(AnswerPassage.document_id == leave_id)) >= 1, "the answer's passages stored"
    assert stored is None or stored.citations[0]["doc_id"] == leave_id

    regrouped = cli("ingest", str(salaries), "--groups", "hr,staff", "--json")["documents"]
    assert regrouped[0]["status"] == "unchanged"
    assert salaries_id in found("sam", "Senior Engineer salary band"), "the new group reads it at once"

    [shown] = cli("docs", "show", leave_id[:8], "--json")["documents"]
    assert shown["id"] == leave_id and shown["groups"] == ["hr"]
    deleted = cli("docs", "delete", leave_id[:8], "--json")["documents"][0]
    assert deleted["status"] == "deleted"
    assert [d["id"] for d in cli("docs", "list", "--json")["documents"]] == [salaries_id]
    assert leave_id not in found("alice", "paid leave days")

    with services.session() as session:
        assert session.scalar(select(func.count()).select_from(Chunk).where(Chunk.document_id == leave_id)) == 0
        assert session.scalar(select(func.count()).select_from(AnswerPassage)
                              .where(AnswerPassage.document_id == leave_id)) == 0
        assert all(c["doc_id"] != leave_id for r in session.scalars(select(AnswerRecord)) for c in r.citations)
