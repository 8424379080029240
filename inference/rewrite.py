"""Turn a follow-up ("and for contractors?") into a standalone search query.

The model is asked first, with a short prompt and a tight token limit. Its
rewrite is accepted only if it keeps every content word of the follow-up and
stays short; a small model that drifts, answers the question instead, or adds
a paragraph falls back to concatenating the previous question and the
follow-up, which retrieves well because hybrid search sees both.

History and question reach the rewrite prompt through the same ``neutralise``
as the answer prompt: an earlier turn is user-controlled text, and llama.cpp
tokenizes chat-control markup in it as real turn boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inference.prompting import neutralise
from inference.types import ChatMessage, GenerationParams, Generator

REWRITE_SYSTEM = (
    "Rewrite the user's last question as one standalone question that can be understood without the "
    "conversation. Keep all its words and add what it refers to. Reply with the question only."
)

_STOP = {
    "what", "which", "when", "where", "who", "whom", "whose", "why", "how", "and", "the", "for", "about",
    "does", "did", "do", "is", "are", "was", "were", "can", "could", "would", "should", "will", "that",
    "this", "those", "these", "with", "from", "into", "then", "than", "also", "they", "them", "their",
    "there", "have", "has", "had", "our", "your", "you", "its", "any", "much", "many", "what's",
}


@dataclass(frozen=True)
class Rewrite:
    query: str
    method: str  # none | model | concat


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[\w'-]{3,}", text.lower()) if w not in _STOP}


def last_user_question(history: list[ChatMessage]) -> str | None:
    for turn in reversed(history):
        if turn["role"] == "user" and turn["content"].strip():
            return turn["content"].strip()
    return None


# Words by which a question leans on the conversation before it ("does it", "those ones", "there").
_REFERRING = {
    "it", "its", "it's", "they", "them", "their", "theirs", "those", "these", "that", "this", "there", "then",
    "he", "she", "him", "her", "his", "hers", "one", "ones", "same", "such", "also", "too", "else", "other",
    "above", "former", "latter", "which", "both", "either", "neither",
}


def is_standalone(question: str) -> bool:
    """A question that names what it asks about and refers to nothing before it.

    In a conversation people also ask new, unrelated questions; joining each to
    the last one (or asking a model to) pulls the search toward the old topic:
    "Can I work remotely?" after a question about badges was answered about
    badges. A question with content words and no referring word
    is searched as it is (two content words are enough when
    nothing refers back: "Can I work remotely?").
    """
    words = re.findall(r"[\w'-]+", question.lower())
    if any(w in _REFERRING for w in words) or words[:1] in (["and"], ["but"], ["or"], ["so"]):
        return False
    if words[:2] in (["what", "about"], ["how", "about"]):
        return False
    return len(content_words(question)) >= 2


def concat_query(history: list[ChatMessage], question: str) -> str:
    previous = last_user_question(history)
    return f"{previous} {question.strip()}" if previous else question.strip()


def accept(candidate: str, question: str, previous: str) -> str | None:
    """The cleaned rewrite, or None when it should not be trusted."""
    text = candidate.strip().strip('"\'`').strip()
    text = re.sub(r"^(?:(?:(?:standalone )?(?:question|query)|user|assistant)\s*:\s*)+", "", text, flags=re.IGNORECASE).strip()
    if question.strip().endswith("?") and not text.endswith("?"):
        return None  # an answer, not a question
    if re.match(r"(yes|no)\b", text, flags=re.IGNORECASE):
        return None
    if not text or "\n" in text or len(text) > 2 * (len(previous) + len(question)) + 40:
        return None
    if not content_words(question) <= content_words(text):
        return None  # it lost part of what was asked
    return text


async def rewrite_followup(
    gen: Generator | None, history: list[ChatMessage] | None, question: str, mode: str = "model",
) -> Rewrite:
    history = [t for t in history or [] if t["role"] in ("user", "assistant")]
    previous = last_user_question(history)
    if not previous or mode == "off" or is_standalone(question):
        return Rewrite(question.strip(), "none")
    if mode == "model" and gen is not None:
        convo = "\n".join(f"{t['role']}: {neutralise(t['content']).strip()}" for t in history[-4:])
        messages: list[ChatMessage] = [
            {"role": "system", "content": REWRITE_SYSTEM},
            {"role": "user", "content": f"Conversation:\n{convo}\n\nLast question: {neutralise(question).strip()}"},
        ]
        params = GenerationParams(max_tokens=48, temperature=0.0, stop=("\n",))
        pieces = [piece async for piece in gen.generate(messages, params)]
        accepted = accept("".join(pieces), question, previous)
        if accepted:
            return Rewrite(accepted, "model")
    return Rewrite(concat_query(history, question), "concat")
