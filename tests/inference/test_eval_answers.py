"""`inhouse eval answers`: the metrics, and the harness on a tiny QA set written here."""

from __future__ import annotations

import json

import pytest

from app.answering.service import AnswerResult, Citation
from app.evaluation.answers import QuestionOutcome, contains_any, run_answer_eval, summarise
from eval.metrics import normalise_answer
from inference.prompting import Passage


def test_normalisation_is_squads():
    assert normalise_answer("The  Denver Broncos!") == "denver broncos"
    assert contains_any("It was won by the Denver Broncos in 2016.", ["Denver Broncos"])
    assert not contains_any("Denverite Broncosaurus", ["Denver Broncos"])  # whole words only
    assert not contains_any("anything", ["", "  "])


def outcome(answer: str, citations: list[tuple[int, bool]], statuses: list[str], not_found: bool = False):
    passages = [Passage(1, "Super Bowl 50 was won by the Denver Broncos."), Passage(2, "Levi's Stadium is in Santa Clara.")]
    result = AnswerResult(
        question="Who won Super Bowl 50?", query="Who won Super Bowl 50?", answer=answer, not_found=not_found,
        citations=[Citation(n, "d", "t", "s", None, "q", "c", 0, 0, inferred, 0.9) for n, inferred in citations],
        sentences=[{"status": s} for s in statuses], passages=passages, support=0.5, timings_ms={"total": 1200.0},
    )
    return QuestionOutcome.score("q1", ["Denver Broncos", "Broncos"], result)


def test_a_correct_cited_answer_scores_on_every_metric():
    o = outcome("The Denver Broncos won [1].", [(1, False)], ["supported"])
    assert (o.answer_hit, o.context_hit, o.citations, o.citations_correct) == (True, True, 1, 1)
    assert (o.written_citations, o.written_correct, o.unsupported_sentences) == (1, 1, 0)


def test_a_citation_to_a_passage_without_the_answer_is_imprecise():
    o = outcome("The Broncos won. It was at Levi's Stadium.", [(1, True), (2, False)], ["supported", "unsupported"])
    assert (o.citations, o.citations_correct, o.written_citations, o.written_correct) == (2, 1, 1, 0)
    report = summarise("ds", "coll", [o, outcome("No idea.", [], ["unsupported"])], "m", "llamacpp")
    assert report.answer_recall == 0.5 and report.citation_precision == 0.5
    assert report.written_citation_precision == 0.0
    assert report.unsupported_share == pytest.approx(2 / 3, abs=1e-4)
    assert report.latency_p50_s == 1.2


def test_not_found_is_never_a_hit():
    o = outcome("not found in the documents you can access (Denver Broncos)", [], [], not_found=True)
    assert not o.answer_hit


def tiny_qa(tmp_path):
    """Three one-fact documents, each question's gold answer in exactly one of them."""
    from eval.beir import CorpusDoc, write_beir

    return write_beir(
        tmp_path / "tiny-qa",
        [CorpusDoc("0-0", "Badges", "Visitor badges are blue. Employee badges are green."),
         CorpusDoc("0-1", "Parking", "Parking in the Gdansk office costs 10 PLN per day."),
         CorpusDoc("0-2", "Canteen", "The canteen serves lunch from 11:30 to 13:30.")],
        {"q1": "What colour are visitor badges?", "q2": "How much does parking cost in Gdansk?",
         "q3": "When is lunch served?"},
        {"q1": {"0-0": 1}, "q2": {"0-1": 1}, "q3": {"0-2": 1}},
        {"q1": ["blue"], "q2": ["10 PLN"], "q3": ["11:30 to 13:30"]},
    )


def test_the_harness_runs_the_ask_path_over_a_beir_folder(tmp_path, make_services, llama_generator, cross_encoder):
    folder = tiny_qa(tmp_path)
    services = make_services(generator_max_tokens=24, answer_passages=2, answer_mode="generative",
                             generator=llama_generator, cross_encoder=cross_encoder)
    report = run_answer_eval(services, folder, limit=2)
    assert report.questions == 2 and [o.id for o in report.outcomes] == ["q1", "q2"]
    assert report.context_recall == 1.0  # both gold answers were in the passages shown
    assert report.not_found_rate == 0.0
    for o in report.outcomes:  # the figures are computed from what the real model wrote
        assert o.answer.strip() and o.context_hit
        assert o.answer_hit == any(g.lower() in o.answer.lower() for g in o.gold), o  # an independent oracle
    assert report.answer_recall == sum(o.answer_hit for o in report.outcomes) / 2
    assert report.backend == "llamacpp" and report.collection.startswith("eval-tiny-qa-")
    again = run_answer_eval(services, folder, limit=1)  # the collection is reused, not rebuilt
    assert again.collection == report.collection and again.questions == 1


def test_a_folder_without_gold_answers_is_refused(tmp_path, make_services):
    from eval.beir import CorpusDoc, DatasetError, write_beir

    folder = write_beir(tmp_path / "no-answers", [CorpusDoc("a", "A", "text")], {"q": "text?"}, {"q": {"a": 1}})
    with pytest.raises(DatasetError, match="answers.jsonl"):
        run_answer_eval(make_services(), folder)


def test_extractive_answers_are_measured_through_the_same_harness(tmp_path, make_services, cross_encoder):
    folder = tiny_qa(tmp_path)
    services = make_services(answer_passages=2, cross_encoder=cross_encoder)
    report = run_answer_eval(services, folder, mode="extractive")
    assert report.backend == "extractive" and services.loaded_generator is None  # no model was loaded
    assert report.answer_recall == 1.0 and report.citation_precision == 1.0  # each quote holds its gold answer
    assert report.unsupported_share == 0.0 and report.not_found_rate == 0.0
    # a second slice: the judged questions after the first ``offset`` (a setting tuned on one slice, read on the next)
    later = run_answer_eval(services, folder, limit=1, mode="extractive", offset=1)
    assert [o.id for o in later.outcomes] == ["q2"] and later.collection == report.collection
    assert [o.id for o in run_answer_eval(services, folder, mode="extractive", offset=2).outcomes] == ["q3"]


def test_eval_answers_prints_one_json_document_per_question_from_the_shell(tmp_path, models_dir, monkeypatch):
    from typer.testing import CliRunner

    from app.cli import app

    folder = tiny_qa(tmp_path)
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    result = CliRunner().invoke(app, ["eval", "answers", str(folder), "--mode", "extractive", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["backend"] == "extractive" and report["questions"] == 3 and report["answer_recall"] == 1.0
    assert [q["id"] for q in report["per_question"]] == ["q1", "q2", "q3"]
    sliced = CliRunner().invoke(app, ["eval", "answers", str(folder), "--mode", "extractive", "--offset", "1",
                                      "--limit", "1", "--json"])
    assert sliced.exit_code == 0, sliced.output
    assert [q["id"] for q in json.loads(sliced.stdout)["per_question"]] == ["q2"]
    assert all(q["answer_hit"] and q["citations_correct"] == q["citations"] > 0 for q in report["per_question"])
    refused = CliRunner().invoke(app, ["eval", "answers", str(folder), "--mode", "poetic"])
    assert refused.exit_code == 1 and "unknown mode" in refused.output
