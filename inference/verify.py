"""Check every sentence of an answer against the passages, with the cross-encoder.

Each sentence is scored against the passages it cites, or against every
passage the model was shown when it cites none, in one batch: (sentence,
passage) pairs through the same ms-marco cross-encoder that re-ranks search
results (logit → probability). Then:

* a sentence with markers is supported when one of its cited passages scores
  at least ``threshold``;
* a sentence without markers (small models forget them) is attributed to the
  passage that supports it best, marked *inferred*, if that passage reaches
  ``threshold``; otherwise it is unsupported;
* a sentence saying the passages do not answer is a refusal: neither
  supported nor unsupported.

Only passages the model was shown can be cited or inferred, and those came
from a search run with the user's ACL, so a citation never points at a passage
the user may not read. The answer's support score is the mean support of its
checked sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from inference.citations import ParsedAnswer
from inference.prompting import Passage, is_refusal
from retrieval.rerank import PairScorer, probability

MIN_WORDS = 3  # "Yes." or "[1]" alone carries no claim worth scoring
WINDOW_WORDS, STRIDE_WORDS = 200, 150


def windows(text: str) -> list[str]:
    """A passage cut into overlapping windows the cross-encoder reads whole.

    The cross-encoder truncates a pair at 512 tokens, and a passage merged from
    two neighbouring chunks is longer: a sentence quoted from its second half
    scored as unsupported (support 0.0003 for a verbatim quote). Each window
    is scored and the passage's support is the best window's.
    """
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return [text]
    return [" ".join(words[i:i + WINDOW_WORDS]) for i in range(0, len(words) - WINDOW_WORDS + STRIDE_WORDS, STRIDE_WORDS)]


@dataclass
class SentenceCheck:
    text: str
    cited: list[int] = field(default_factory=list)  # passage numbers (written or inferred)
    inferred: bool = False
    support: float = 0.0  # probability that its passage supports it
    status: str = "unsupported"  # supported | unsupported | refusal | unchecked

    def as_dict(self) -> dict:
        return {"text": self.text, "cited": self.cited, "inferred": self.inferred,
                "support": round(self.support, 4), "status": self.status}


@dataclass
class Verification:
    sentences: list[SentenceCheck]
    support: float  # mean support over checked sentences (0 when none)

    @property
    def unsupported(self) -> list[str]:
        return [s.text for s in self.sentences if s.status == "unsupported"]


def verify_answer(
    parsed: ParsedAnswer, passages: list[Passage], scorer: PairScorer, threshold: float = 0.5,
) -> Verification:
    by_n = {p.n: p for p in passages}
    checks: list[SentenceCheck] = []
    to_score: list[int] = []
    for s in parsed.sentences:
        cited = [n for n in s.cited if n in by_n]  # only passages the model was shown
        check = SentenceCheck(s.text, cited)
        if is_refusal(s.text):
            check.status = "refusal"
        elif len(re.findall(r"\w+", s.text)) < MIN_WORDS:
            check.status = "unchecked"
        else:
            to_score.append(len(checks))
        checks.append(check)
    if to_score and passages:
        pieces = {p.n: windows(p.text) for p in passages}
        # a cited sentence is judged on its cited passages alone (``_judge``), so only those are
        # scored; an uncited one is held against every passage to find the one that supports it
        asked = [(i, checks[i].cited or list(pieces)) for i in to_score]
        pairs = [(checks[i].text, window) for i, ns in asked for n in ns for window in pieces[n]]
        logits = iter(scorer.score(pairs))
        for i, ns in asked:
            probs = {n: max(probability(float(next(logits))) for _ in pieces[n]) for n in ns}
            _judge(checks[i], probs, threshold)
    scored = [c.support for c in checks if c.status in ("supported", "unsupported")]
    return Verification(checks, sum(scored) / len(scored) if scored else 0.0)


def _judge(check: SentenceCheck, probs: dict[int, float], threshold: float) -> None:
    if check.cited:
        check.support = max(probs[n] for n in check.cited)
        check.status = "supported" if check.support >= threshold else "unsupported"
        return
    best = max(probs, key=probs.get)
    check.support = probs[best]
    if check.support >= threshold:
        check.cited, check.inferred, check.status = [best], True, "supported"


def best_quote(passage_text: str, claims: list[str], max_chars: int = 300) -> str:
    """The passage sentence sharing most words with the claims that cite it: what to show as the quote."""
    words = {w for c in claims for w in re.findall(r"\w{3,}", c.lower())}
    candidates = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", passage_text) if s.strip()]
    if not candidates:
        return ""
    best = max(candidates, key=lambda s: len(words & set(re.findall(r"\w{3,}", s.lower()))))
    return best if len(best) <= max_chars else best[: max_chars - 1].rstrip() + "…"
