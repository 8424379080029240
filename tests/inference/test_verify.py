"""Sentence-by-sentence verification with the real ms-marco cross-encoder."""

from __future__ import annotations

from inference.citations import parse_citations
from inference.prompting import Passage
from inference.verify import best_quote, verify_answer

PASSAGES = [
    Passage(1, "Permanent employees receive 25 days of paid vacation per calendar year. Up to five unused days "
               "may be carried over to the next year.", "Leave Handbook", "doc-leave"),
    Passage(2, "Contractors are not entitled to paid vacation. Their contracts specify billable days only.",
            "Contractors vs Employees", "doc-contractors"),
    Passage(3, "The Gdansk office opens at 8:00 and closes at 18:00 on weekdays.", "Office Guide", "doc-office"),
]


def check(answer: str, cross_encoder, threshold: float = 0.5):
    return verify_answer(parse_citations(answer, len(PASSAGES)), PASSAGES, cross_encoder, threshold)


def test_a_cited_sentence_its_passage_states_is_supported(cross_encoder):
    v = check("Permanent employees receive 25 days of paid vacation per year [1].", cross_encoder)
    [s] = v.sentences
    assert (s.status, s.cited, s.inferred) == ("supported", [1], False)
    assert s.support > 0.9 and v.support == s.support and v.unsupported == []


def test_a_sentence_citing_the_wrong_passage_is_unsupported(cross_encoder):
    v = check("Permanent employees receive 25 days of paid vacation per year [3].", cross_encoder)
    [s] = v.sentences
    assert s.status == "unsupported" and s.cited == [3]
    assert v.unsupported == ["Permanent employees receive 25 days of paid vacation per year."]


def test_an_unmarked_sentence_is_attributed_to_the_passage_that_supports_it(cross_encoder):
    v = check("Contractors are not entitled to paid vacation.", cross_encoder)
    [s] = v.sentences
    assert (s.status, s.cited, s.inferred) == ("supported", [2], True)


def test_an_unmarked_claim_no_passage_supports_is_unsupported_and_uncited(cross_encoder):
    v = check("The company was founded on the Moon in 1802 by penguins.", cross_encoder)
    [s] = v.sentences
    assert (s.status, s.cited) == ("unsupported", [])
    assert v.support < 0.5


def test_a_refusal_is_neither_supported_nor_unsupported(cross_encoder):
    v = check("The documents you can access do not answer this question.", cross_encoder)
    assert [s.status for s in v.sentences] == ["refusal"] and v.unsupported == [] and v.support == 0.0


def test_mixed_answer_scores_each_sentence(cross_encoder):
    v = check(
        "Employees get 25 days of paid vacation [1]. The office opens at 8:00 on weekdays. "
        "Every employee gets a free car [2].",
        cross_encoder,
    )
    assert [(s.status, s.cited, s.inferred) for s in v.sentences] == [
        ("supported", [1], False), ("supported", [3], True), ("unsupported", [2], False)
    ]
    assert 0.3 < v.support < 0.9


def test_the_threshold_decides(cross_encoder):
    answer = "Up to five unused vacation days can be carried over [1]."
    assert check(answer, cross_encoder, threshold=0.5).sentences[0].status == "supported"
    assert check(answer, cross_encoder, threshold=1.0).sentences[0].status == "unsupported"


def test_the_quote_is_the_passage_sentence_the_claim_rests_on():
    quote = best_quote(PASSAGES[0].text, ["Unused days can be carried over to next year."])
    assert quote == "Up to five unused days may be carried over to the next year."
