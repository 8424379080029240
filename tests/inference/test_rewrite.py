"""Follow-up questions become standalone queries: by the model when it behaves, by concatenation otherwise."""

from __future__ import annotations

import asyncio

from inference.rewrite import accept, concat_query, content_words, rewrite_followup

HISTORY = [
    {"role": "user", "content": "How many days of paid vacation do permanent employees get?"},
    {"role": "assistant", "content": "Permanent employees get 25 days of paid vacation [1]."},
]


def test_first_questions_are_searched_as_asked(counting_generator):
    result = asyncio.run(rewrite_followup(counting_generator, [], "How do I set up the VPN?"))
    assert (result.query, result.method) == ("How do I set up the VPN?", "none")
    assert counting_generator.calls == 0


def test_concatenation_carries_the_topic_over():
    assert concat_query(HISTORY, "and for contractors?") == (
        "How many days of paid vacation do permanent employees get? and for contractors?"
    )


def test_a_rewrite_must_keep_every_content_word_of_the_follow_up():
    previous = HISTORY[0]["content"]
    assert accept("How many vacation days do contractors get?", "and for contractors?", previous)
    assert accept("user: Query: vacation days for contractors?", "and for contractors?", previous) == (
        "vacation days for contractors?"
    )
    assert accept("No, contractors get no vacation.", "and for contractors?", previous) is None  # an answer
    assert accept("How many vacation days do employees get?", "and for contractors?", previous) is None
    assert accept("Contractors\nget nothing", "and for contractors?", previous) is None
    assert accept("contractors " * 100, "and for contractors?", previous) is None
    assert content_words("and for contractors?") == {"contractors"}


def test_the_real_model_rewrite_always_keeps_the_question_and_adds_context(counting_generator):
    result = asyncio.run(rewrite_followup(counting_generator, HISTORY, "and for contractors?"))
    assert counting_generator.calls == 1
    assert result.method in ("model", "concat")
    assert "contractors" in result.query.lower()
    assert "vacation" in result.query.lower()  # the context the follow-up leaves out, by either method


def test_concat_mode_never_calls_the_model(counting_generator):
    result = asyncio.run(rewrite_followup(counting_generator, HISTORY, "and for contractors?", mode="concat"))
    assert result.method == "concat" and counting_generator.calls == 0
