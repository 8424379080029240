"""The ask path end to end: real ingestion, search as the user, llama.cpp, cross-encoder, SQL.

Three small documents: two for everyone, one for HR only. Sofie is in
"everyone", Alice in "everyone" and "hr", Nina (a contractor) in no group.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.answers import AnswerPassage, AnswerRecord
from app.answering.service import AnswerService, readable_hits
from inference.prompting import NOT_FOUND_ANSWER

REPO = Path(__file__).resolve().parents[2]
INHOUSE = str(Path(sys.executable).parent / "inhouse")  # the installed console script

HANDBOOK = """# Leave and Remote Work Handbook

## Vacation

Permanent employees receive 25 days of paid vacation per calendar year.
Up to five unused vacation days may be carried over to the next year.

## Remote work

Employees may work remotely up to three days per week after their probation period.
"""

CONTRACTORS = """# Contractors vs Employees

## Vacation for contractors

Contractors are not entitled to paid vacation from the company.
Their contracts specify billable days only, and time off is unpaid.
"""

SALARIES = """# Salary Bands 2025

## Engineering

The salary band for a Senior Engineer is 820,000 to 960,000 NOK per year.
The salary band for a Staff Engineer is 990,000 to 1,150,000 NOK per year.
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory, models_dir, shared_encoder, shared_bm25, llama_generator, cross_encoder):
    from app.accounts.directory import add_group, add_user
    from app.library.ingestion import IngestService
    from app.services import build_services
    from app.settings import Settings

    root = tmp_path_factory.mktemp("answering")
    docs = root / "docs"
    docs.mkdir()
    for name, text in (("handbook.md", HANDBOOK), ("contractors.md", CONTRACTORS), ("salaries.md", SALARIES)):
        (docs / name).write_text(text)
    settings = Settings(data_dir=root / "data", models_dir=models_dir, generator_max_tokens=48, answer_passages=3,
                        answer_mode="generative")
    services = build_services(settings, encoder=shared_encoder, bm25=shared_bm25, generator=llama_generator,
                              cross_encoder=cross_encoder)
    with services.session() as s:
        add_group(s, "everyone")
        add_group(s, "hr")
        add_user(s, "sofie", groups=["everyone"])
        add_user(s, "alice", groups=["everyone", "hr"])
        add_user(s, "nina")
    ingest = IngestService(services)
    public = ingest.ingest_paths([docs / "handbook.md", docs / "contractors.md"], groups=["everyone"])
    secret = ingest.ingest_paths([docs / "salaries.md"], groups=["hr"])
    assert [r.status for r in public + secret] == ["ready"] * 3
    ids = {Path(r.path).stem: r.id for r in public + secret}
    yield {"services": services, "ids": ids, "root": root, "settings": settings}
    services.close()


def ask(world, question, user, history=None, generator=None):
    service = AnswerService(world["services"], generator=generator)
    return service.ask(question, user, history)


def test_an_answer_cites_the_passage_that_holds_it_and_is_stored(world):
    result = ask(world, "How many days of paid vacation do permanent employees get?", "sofie")
    assert not result.not_found and result.answer.strip()
    assert result.citations, result.answer
    assert world["ids"]["handbook"] in {c.doc_id for c in result.citations}
    for c in result.citations:
        assert c.doc_id in (world["ids"]["handbook"], world["ids"]["contractors"])
        assert c.quote and c.source.endswith(".md") and 0 < c.support <= 1
    assert 0 <= result.support <= 1
    assert result.prompt_tokens > 0 and 0 < result.completion_tokens <= 50
    with world["services"].session() as s:
        row = s.get(AnswerRecord, result.answer_id)
        assert row.answer == result.answer and row.question.startswith("How many days")
        assert row.citations == [c.as_dict() for c in result.citations]
        shown = s.scalars(select(AnswerPassage).where(AnswerPassage.answer_id == row.id)).all()
        assert len(shown) == len(result.passages) and any(p.cited for p in shown)


def test_a_passage_the_user_may_not_read_is_never_shown_or_cited(world):
    question = "What is the salary band for a Senior Engineer?"
    sofie = ask(world, question, "sofie")
    secret = world["ids"]["salaries"]
    assert secret not in {p.doc_id for p in sofie.passages}
    assert secret not in {c.doc_id for c in sofie.citations}
    assert "820,000" not in sofie.answer
    from app.accounts.directory import acl_tokens, get_user

    services = world["services"]
    with services.session() as s:
        alice = acl_tokens(s, get_user(s, "alice"))
    assert secret in {h.doc_id for h in services.searcher.search(question, alice, k=3)}  # HR's search finds it


def test_the_second_gate_drops_hits_whose_points_do_not_carry_the_users_tokens(world):
    from app.accounts.directory import acl_tokens, get_user

    services = world["services"]
    with services.session() as s:
        alice, sofie = (acl_tokens(s, get_user(s, n)) for n in ("alice", "sofie"))
    hits = services.searcher.search("Senior Engineer salary band", alice, k=3)
    secret = [h for h in hits if h.doc_id == world["ids"]["salaries"]]
    assert secret
    assert readable_hits(services.searcher.index, secret, alice) == secret
    assert readable_hits(services.searcher.index, secret, sofie) == []


def test_nothing_readable_means_not_found_without_calling_the_model(world, counting_generator):
    result = ask(world, "How many days of paid vacation do permanent employees get?", "nina",
                 generator=counting_generator)
    assert result.not_found and result.answer == NOT_FOUND_ANSWER
    assert result.citations == [] and result.passages == []
    assert counting_generator.calls == 0
    with world["services"].session() as s:
        assert s.get(AnswerRecord, result.answer_id).not_found is True


def test_tokens_stream_before_the_answer_arrives(world):
    """Typed events, and timed: a stream that buffered the whole answer would arrive all at once."""
    import time

    from app.answering.events import Answer, Status, Token
    from app.accounts.directory import acl_tokens, get_user

    services = world["services"]
    with services.session() as s:
        tokens = acl_tokens(s, get_user(s, "sofie"))

    async def go():
        arrived = []
        async for event in AnswerService(services).stream("Can I work remotely?", tokens, store=False):
            arrived.append((time.perf_counter(), event))
        return arrived

    arrived = asyncio.run(go())
    events = [e for _, e in arrived]
    assert [e.stage for e in events if isinstance(e, Status)] == ["searching", "found", "generating", "verifying"]
    assert isinstance(events[-1], Answer) and sum(isinstance(e, Answer) for e in events) == 1
    token_times = [t for t, e in arrived if isinstance(e, Token)]
    assert len(token_times) > 1
    result = events[-1].result
    timings = result.timings_ms
    writing_s = (timings["generate"] - timings["first_token"]) / 1000  # from the first token to the last
    assert writing_s > 0.05
    # the tokens reached us while the model wrote them, not in one burst at the end
    assert token_times[-1] - token_times[0] > 0.5 * writing_s
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert result.answer_id is None  # store=False
    assert result.answer.split()[:2] == streamed.split()[:2]
    assert {"event": events[0].name, "data": events[0].data()} == {"event": "status", "data": {"stage": "searching"}}


def test_a_follow_up_retrieves_what_it_refers_to(world):
    history = [
        {"role": "user", "content": "How many days of paid vacation do permanent employees get?"},
        {"role": "assistant", "content": "Permanent employees get 25 days of paid vacation [1]."},
    ]
    result = ask(world, "and for contractors?", "sofie", history)
    assert result.rewrite_method in ("model", "concat")
    assert "contractors" in result.query.lower()
    assert result.passages[0].doc_id == world["ids"]["contractors"]


def test_deleting_a_document_deletes_the_answers_built_on_it(world):
    """Through the delete use case the CLI calls; the handbook itself stays for the tests below."""
    from app.accounts.actor import Actor
    from app.library.ingestion import IngestService
    from app.library.actions import delete_document

    services = world["services"]
    memo = world["root"] / "docs" / "carry-over.md"
    memo.write_text("# Carry-over memo\n\nUnused vacation days may be carried over until the end of March.\n")
    [ingested] = IngestService(services).ingest_paths([memo], groups=["everyone"])
    result = ask(world, "Can unused vacation days be carried over?", "sofie")
    assert ingested.id in {p.doc_id for p in result.passages}
    deleted = delete_document(services, Actor.operator(), ingested.id)
    assert deleted.answers >= 1
    with services.session() as s:
        assert s.get(AnswerRecord, result.answer_id) is None
        assert not s.scalars(select(AnswerPassage).where(AnswerPassage.answer_id == result.answer_id)).all()
        assert not s.scalars(select(AnswerPassage).where(AnswerPassage.document_id == ingested.id)).all()


def release_index(world) -> None:
    """Qdrant Edge is one process's at a time: let the CLI subprocess open it."""
    world["services"].close_index()


def test_cli_ask_json_prints_one_document_and_streams_to_stderr(world, models_dir, tmp_path):
    release_index(world)
    history = tmp_path / "conversation.json"
    env = {**os.environ, "INHOUSE_DATA_DIR": str(world["settings"].data_dir), "INHOUSE_MODELS_DIR": str(models_dir),
           "INHOUSE_GENERATOR_MAX_TOKENS": "40", "INHOUSE_ANSWER_PASSAGES": "3", "INHOUSE_ANSWER_MODE": "generative"}
    proc = subprocess.run(
        [INHOUSE, "ask", "Can I work remotely?", "--as", "sofie", "--json",
         "--history-file", str(history)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)  # exactly one JSON document
    assert {"answer", "citations", "support", "unsupported_sentences"} <= payload.keys()
    for c in payload["citations"]:
        assert {"n", "doc_id", "title", "source", "page", "quote"} <= c.keys()
    first_words = " ".join(payload["answer"].split()[:2])
    assert first_words and first_words in " ".join(proc.stderr.split())  # the tokens went to stderr
    turns = json.loads(history.read_text())
    assert [t["role"] for t in turns] == ["user", "assistant"] and turns[1]["content"] == payload["answer"]


def test_cli_ask_names_an_unknown_user(world, models_dir):
    release_index(world)
    env = {**os.environ, "INHOUSE_DATA_DIR": str(world["settings"].data_dir), "INHOUSE_MODELS_DIR": str(models_dir)}
    proc = subprocess.run([INHOUSE, "ask", "Hello?", "--as", "mallory"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "mallory" in proc.stderr and proc.stdout == ""


# ---- extractive answers: quoted sentences, no generator --------------------------------------
def extractive(world, question, user, generator=None):
    return AnswerService(world["services"], generator=generator, mode="extractive").ask(question, user)


def test_an_extractive_answer_quotes_the_sentence_that_holds_it_and_never_calls_the_model(
        world, counting_generator):
    result = extractive(world, "How many days of paid vacation do permanent employees get?", "sofie",
                        counting_generator)
    assert counting_generator.calls == 0
    assert result.mode == "extractive" and result.backend == "extractive" and not result.not_found
    assert "25 days of paid vacation per calendar year" in result.answer
    assert [c.doc_id for c in result.citations][:1] == [world["ids"]["handbook"]]
    assert all(c.support >= 0.5 for c in result.citations) and not result.unsupported_sentences
    shape = result.as_dict()
    assert shape["mode"] == "extractive" and {"answer", "citations", "support", "unsupported_sentences"} <= set(shape)
    with world["services"].session() as s:
        assert s.get(AnswerRecord, result.answer_id).answer == result.answer  # stored like a generated one


def test_an_extractive_answer_never_quotes_a_document_the_user_may_not_read(world):
    sofie = extractive(world, "What is the salary band for a Senior Engineer?", "sofie")
    assert "820,000" not in sofie.answer
    assert world["ids"]["salaries"] not in {c.doc_id for c in sofie.citations} | {p.doc_id for p in sofie.passages}
    alice = extractive(world, "What is the salary band for a Senior Engineer?", "alice")
    assert "820,000 to 960,000 NOK" in alice.answer  # HR may read it, and gets it quoted


def test_an_extractive_answer_says_not_found_rather_than_quote_something_weak(world):
    result = extractive(world, "Who won the football world cup in 1998?", "sofie")
    assert result.not_found and result.answer == NOT_FOUND_ANSWER and result.citations == []


def test_auto_mode_quotes_on_a_cpu_sized_model_and_lets_a_server_write(make_settings, tmp_path):
    from inference.answer_mode import resolve_answer_mode

    assert resolve_answer_mode(make_settings()) == "extractive"  # SmolLM2-135M, 98 MB
    assert resolve_answer_mode(make_settings(openai_url="http://llm:8000/v1")) == "generative"
    assert resolve_answer_mode(make_settings(generator_model=str(tmp_path / "none.gguf"))) == "extractive"
    assert resolve_answer_mode(make_settings(answer_mode="generative")) == "generative"  # asked for explicitly
    big = tmp_path / "big.gguf"
    with big.open("wb") as fh:
        fh.truncate(2 << 30)  # a sparse 2 GiB file: a model too big to be a CPU stand-in
    assert resolve_answer_mode(make_settings(generator_model=str(big))) == "generative"


def test_cli_ask_answers_extractively_by_default(world, models_dir):
    release_index(world)
    env = {**os.environ, "INHOUSE_DATA_DIR": str(world["settings"].data_dir), "INHOUSE_MODELS_DIR": str(models_dir)}
    proc = subprocess.run([INHOUSE, "ask", "What must employees do to request vacation?", "--as", "sofie", "--json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["mode"] == "extractive" and payload["backend"] == "extractive"
    assert payload["citations"] and payload["answer"].endswith(("].", "]!", "]?"))
