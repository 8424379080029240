"""Fit question + passages + history + answer into the model's context window.

Measured with the generator's own tokenizer on the prompt as rendered by its
own chat template, because that is what the engine will see. The answer's
``max_tokens`` is reserved first. Earlier conversation turns may use at
most half of the rest (oldest dropped first); passages fill what remains,
and when they do not all fit the weakest give way (retrieval order is best
first). A passage is never cut: one that does not fit is dropped
whole and reported in ``dropped``, so the UI can say what the model did not
see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inference.prompting import Passage, build_messages, format_passage
from inference.types import ChatMessage, Generator, PromptTooLongError

# Template tokens the rendered string does not show (BOS, a trailing newline);
# a few tokens of slack so "fits" here always means "fits" in the engine.
SAFETY_TOKENS = 8
HISTORY_SHARE = 0.5  # of the prompt room, at most, for earlier turns


@dataclass
class BudgetedPrompt:
    messages: list[ChatMessage]
    passages: list[Passage]  # what the model sees, numbered 1..k in prompt order
    dropped: list[Passage] = field(default_factory=list)  # as retrieved (old numbering), did not fit
    history_turns_dropped: int = 0
    prompt_tokens: int = 0
    max_tokens: int = 0
    limit: int = 0  # max_model_len

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.max_tokens


def _prompt_tokens(gen: Generator, messages: list[ChatMessage]) -> int:
    return gen.count_tokens(gen.render(messages)) + SAFETY_TOKENS


def fit_prompt(
    gen: Generator, question: str, ranked: list[Passage], history: list[ChatMessage] | None,
    max_tokens: int, system_prompt: str | None = None,
) -> BudgetedPrompt:
    extra = {"system_prompt": system_prompt} if system_prompt else {}
    limit = gen.max_model_len - max_tokens
    if limit <= 0:
        raise PromptTooLongError(f"max_tokens {max_tokens} leaves no room for a prompt in {gen.max_model_len}")
    history = list(history or [])
    dropped_turns = 0
    alone = _prompt_tokens(gen, build_messages(question, [], [], **extra))
    if alone > limit:
        raise PromptTooLongError(
            f"the question alone needs {alone} tokens; with {max_tokens} for the answer that exceeds "
            f"max_model_len {gen.max_model_len}"
        )
    # The conversation may take at most half the room: passages are what answers are made of.
    history_room = (limit - alone) * HISTORY_SHARE
    base = _prompt_tokens(gen, build_messages(question, [], history, **extra))
    while history and base - alone > history_room:
        cut = 2 if len(history) >= 2 else 1  # a user turn and its answer go together
        history, dropped_turns = history[cut:], dropped_turns + cut
        base = _prompt_tokens(gen, build_messages(question, [], history, **extra))

    # Best first: keep the longest prefix of the ranking that fits. A passage too big
    # for the whole budget on its own is skipped (reported), it does not end the prefix.
    kept: list[Passage] = []
    dropped: list[Passage] = []
    room = limit - base
    stopped = False
    for p in ranked:
        cost = gen.count_tokens("\n\n" + format_passage(p.numbered(len(kept) + 1)))
        if not stopped and cost <= room:
            kept.append(p)
            room -= cost
        else:
            dropped.append(p)
            if cost <= limit - base:
                stopped = True  # a weaker passage never displaces a stronger one
    # The sum of parts is an estimate (templates join strings); check the whole and trim.
    while True:
        shown = [p.numbered(i + 1) for i, p in enumerate(kept)]
        messages = build_messages(question, shown, history, **extra)
        total = _prompt_tokens(gen, messages)
        if total <= limit or not kept:
            break
        dropped.insert(0, kept.pop())
    return BudgetedPrompt(messages, shown, dropped, dropped_turns, total, max_tokens, gen.max_model_len)

