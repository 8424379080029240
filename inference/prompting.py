"""What the model is told: answer from the numbered passages only, cite them as [n].

Passages go into the user turn, numbered in the order the budget kept them, so
a marker ``[n]`` maps straight back to ``passages[n - 1]``. Passage text comes
from documents anyone in a group could have written, so strings that look like
chat-template control tokens (``<|im_end|>``, ``</s>``, ``[INST]``) are
neutralised before they reach the template: a document must not be able to
close the user turn and speak as the system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inference.types import ChatMessage

NOT_FOUND_ANSWER = "not found in the documents you can access"

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages from the organisation's documents. "
    "Use only facts stated in the passages, never outside knowledge. "
    "After each sentence, cite the passage it comes from by its number in square brackets, like [1] or [2][3]. "
    "If the passages do not contain the answer, reply exactly: "
    "\"The documents you can access do not answer this question.\" "
    "Answer in one to three short sentences."
)

ANSWER_REMINDER = (
    "Using only the passages above, answer this question in one sentence and cite the passage number like [1]."
)

REFUSAL_PHRASES = (
    "do not answer this question", "does not answer this question", "do not contain", "does not contain",
    "no information", "not mentioned", "cannot find", "can't find", "not found in the documents",
)

_CONTROL = re.compile(r"<\|[^<>|]{0,40}\|>|</?s>|\[/?INST\]|<<\/?SYS>>", re.IGNORECASE)


@dataclass(frozen=True)
class Passage:
    """One retrieved passage as the prompt shows it; ``n`` is its 1-based number there."""

    n: int
    text: str
    title: str = ""
    doc_id: str = ""
    chunk_id: str = ""
    source: str = ""
    page: int | None = None
    score: float = 0.0
    char_start: int = 0
    char_end: int = 0

    def numbered(self, n: int) -> "Passage":
        from dataclasses import replace

        return replace(self, n=n)


def neutralise(text: str) -> str:
    return _CONTROL.sub(" ", text)


def format_passage(p: Passage) -> str:
    where = p.title or p.source
    if p.page is not None:
        where = f"{where}, page {p.page}"
    head = f"[{p.n}] ({neutralise(where)})" if where else f"[{p.n}]"
    return f"{head}\n{neutralise(p.text).strip()}"


def user_turn(question: str, passages: list[Passage]) -> str:
    blocks = "\n\n".join(format_passage(p) for p in passages)
    # Repeating the rule after the passages, next to the question, is what small models follow.
    return f"Passages:\n\n{blocks}\n\n{ANSWER_REMINDER}\nQuestion: {neutralise(question).strip()}"


def build_messages(
    question: str, passages: list[Passage], history: list[ChatMessage] | None = None,
    system_prompt: str = SYSTEM_PROMPT,
) -> list[ChatMessage]:
    """System rules, earlier turns (as they were said), then passages + question."""
    messages: list[ChatMessage] = [{"role": "system", "content": system_prompt}]
    for turn in history or []:
        if turn["role"] in ("user", "assistant") and turn["content"].strip():
            messages.append({"role": turn["role"], "content": neutralise(turn["content"])})
    messages.append({"role": "user", "content": user_turn(question, passages)})
    return messages


def is_refusal(sentence: str) -> bool:
    lowered = sentence.lower()
    return any(p in lowered for p in REFUSAL_PHRASES)
