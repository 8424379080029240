"""Extractive answers: the passage sentences that answer the question, each cited, no generator.

A CPU-sized generator (SmolLM2-135M) loses the answer it is shown: on SQuAD
its answers contained the gold answer 22 % of the time while the passages held
it every time. The cross-encoder the product already ships for re-ranking and
verification (ms-marco MiniLM, trained to judge whether a passage answers a
query) is good at exactly the step the small model fails at: it scores every
sentence of the retrieved passages against the question, and the best one or
two become the answer, each ending with its ``[n]``.

The answer is quoted, not written: every word of it is in a passage the user
may read (the passages come from the same ACL-filtered search), so it cannot
invent a fact. When no sentence scores well enough, the answer says that the
documents do not answer the question, rather than quoting something weak.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from inference.prompting import Passage
from retrieval.rerank import PairScorer, probability

# A sentence ends at . ! ? (optionally closed by a quote or bracket) before whitespace and an
# upper-case letter, digit or quote, or at a line break (table rows, list items and CSV records
# are lines of their own); "e.g. the", "U.S. Army" and "3.5" stay whole.
_BOUNDARY = re.compile(r"(?<=[.!?])([\"')\]]?)\s+(?=[A-Z0-9\"'(\[])|\n+")
_ABBREVIATION = re.compile(r"(?:\b(?:[A-Z]|Mr|Mrs|Ms|Dr|Prof|St|No|vs|etc|e\.g|i\.e|approx|Inc|Ltd|Co|Jr|Sr)\.)$")
MIN_WORDS = 4
MAX_CHARS = 400
# words that tell no sentence apart in the shortlist (a question's "what", "is", "the")
_STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or is are was were be been being do does did what which who whom "
    "whose when where why how that this these those it its as into than then there their they them he she his her "
    "i my me you your we our us can could should would may might must will shall not no if about after before "
    "during over under between per".split()
)


@dataclass(frozen=True)
class ExtractiveSettings:
    """Chosen on SQuAD dev questions and the sample questions (docs/inference.md, "Extractive answers")."""

    min_score: float = 0.1  # probability a sentence needs to be quoted at all
    second_ratio: float = 0.5  # a second sentence is added when it scores at least this share of the first
    max_sentences: int = 2
    # logits taken off per place a sentence's passage is below the first. The search's ranking
    # (dense + BM25) knows what the cross-encoder alone misses: asked for "vacation days per year",
    # the cross-encoder put "may work from another country for up to 20 working days per calendar
    # year" (passage 2) above "25 working days of paid annual leave per calendar year" (passage 1).
    # 0.5 (issue 17): SQuAD dev 200-299 recall 0.80 → 0.82, citation precision 0.85 → 0.87;
    # SQuAD 0-199 and the sample questions, docs/inference.md
    # 1.0 with ``reread_best`` (0.5 before it): chosen with passage_weight on SQuAD dev 200-399 and the
    # samples, read on 0-199 (docs/inference.md, "Which sentence answers")
    rank_weight: float = 1.0
    same_passage: bool = True  # a second sentence only from the first one's passage (one citation)
    # share of the whole passage's logit added to each of its sentences (ranking); 0.75 with
    # ``reread_best`` (1.0 before it): the sentence read with the one before it carries part of the passage
    passage_weight: float = 0.75
    # the best this many sentences (by their own logit) are read again after the sentence before them,
    # the two logits averaged (issue 17, quality): SQuAD dev 0-199 recall 0.795 → 0.835, citation
    # precision 0.861 → 0.883. Re-reading all 24 ranked no better than the best 6 and cost 1.6× the
    # extract step on the samples (docs/inference.md, "Which sentence answers"); 0 reads each once
    reread_best: int = 6
    # sentences the cross-encoder scores: the ones sharing most of the question's words (issue 17,
    # latency). A sample question brings ~90 candidates, a SQuAD one 23; 24 lost nothing against
    # scoring them all (SQuAD 0-199, the samples), 16 lost the first example, 8 and 12 lost
    # SQuAD answers (docs/inference.md, "The extract step"). None scores them all.
    max_candidates: int | None = 24


@dataclass(frozen=True)
class SentenceSpan:
    n: int  # the passage number
    text: str
    start: int  # character offsets in the passage text
    end: int
    logit: float = 0.0

    @property
    def probability(self) -> float:
        return probability(self.logit)


@dataclass
class ExtractiveAnswer:
    text: str  # sentences with their [n] markers, or "" when nothing answers
    picked: list[SentenceSpan] = field(default_factory=list)
    candidates: int = 0

    @property
    def not_found(self) -> bool:
        return not self.picked


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a passage (headings and list items are their own)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        closer = match.group(1) or ""
        if "\n" not in match.group(0) and _ABBREVIATION.search(text[start:match.start()]):
            continue  # "Dr. Smith", "e.g. This": not the end of a sentence
        spans.append((start, match.start() + len(closer)))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        chunk = text[s:e]
        s, e = s + len(chunk) - len(chunk.lstrip()), s + len(chunk.rstrip())
        if e > s:
            out.append((s, e))
    return out


def split_clauses(text: str, start: int, end: int, limit: int = MAX_CHARS) -> list[tuple[int, int]]:
    """A sentence too long to quote whole, as runs of its clauses of at most ``limit`` characters.

    Dropping such a sentence lost every answer in it: SQuAD dev 200-399 has a 432-character one
    ("…; during a week 6 game …, a portion of the turf collapsed under Baltimore Ravens kicker
    Justin Tucker …") that seven questions ask about. It is cut where a reader pauses — at a
    semicolon first, else at a comma — and neighbouring clauses are joined again while they fit,
    so each piece is as long a stretch of the sentence as may be quoted."""
    if end - start <= limit:
        return [(start, end)]
    for mark in ("; ", ", "):
        cuts = [m.end() for m in re.finditer(re.escape(mark), text[start:end])]
        if not cuts:
            continue
        bounds = [start, *(start + c for c in cuts), end]
        pieces: list[tuple[int, int]] = []
        for a, b in zip(bounds, bounds[1:]):
            if pieces and b - pieces[-1][0] <= limit:
                pieces[-1] = (pieces[-1][0], b)  # still fits: one longer piece
            else:
                pieces.append((a, b))
        out = []
        for a, b in pieces:
            b = a + len(text[a:b].rstrip(" ;,"))
            out.extend(split_clauses(text, a, b, limit) if mark == "; " else [(a, b)])
        return out
    return [(start, end)]  # no place to cut: too long to quote (dropped by the caller)


def _units(text: str) -> list[tuple[int, int]]:
    """The passage's sentences in order, a sentence too long to quote whole by its clauses."""
    return [piece for start, end in split_sentences(text) for piece in split_clauses(text, start, end)]


def candidate_sentences(passages: Sequence[Passage]) -> list[SentenceSpan]:
    """Every sentence worth quoting: long enough to be a statement, short enough to read.

    A sentence over ``MAX_CHARS`` is offered by its clauses (``split_clauses``) instead."""
    found = []
    for p in passages:
        for start, end in _units(p.text):
            text = p.text[start:end]
            if start == 0 and text[:1].islower():
                continue  # chunks overlap, so one may begin in the middle of a sentence: no answer there
            if len(re.findall(r"\w+", text)) >= MIN_WORDS and len(text) <= MAX_CHARS and not text.startswith("#"):
                found.append(SentenceSpan(p.n, text, start, end))
    return found


def preceding_sentences(passages: Sequence[Passage]) -> dict[tuple[int, int], str]:
    """For each sentence (by passage ``n`` and start offset), the sentence before it in its passage.

    What a sentence leaves to the one before it — "They then beat the New England Patriots in the
    AFC Championship Game", whose "they" is the Broncos — the cross-encoder cannot see in the
    sentence alone. Headings and half-sentences count: they are context, even where they are not
    quotable."""
    before: dict[tuple[int, int], str] = {}
    for p in passages:
        units = _units(p.text)
        for (a, b), (start, _) in zip(units, units[1:]):
            before[(p.n, start)] = p.text[a:b]
    return before


def _with_marker(text: str, n: int) -> str:
    """'... per year.' → '... per year [1].' (the marker inside the sentence it supports)."""
    stripped = text.rstrip()
    if stripped and stripped[-1] in ".!?":
        return f"{stripped[:-1].rstrip()} [{n}]{stripped[-1]}"
    return f"{stripped} [{n}]."


def _terms(text: str) -> set[str]:
    """Content words cut to six letters, so "employees" meets "employee" and "reported" meets "report"."""
    return {w[:6] for w in re.findall(r"\w+", text.lower()) if w not in _STOPWORDS}


def shortlist(question: str, candidates: Sequence[SentenceSpan], titles: Mapping[int, str | None],
              keep: int | None) -> list[SentenceSpan]:
    """The ``keep`` candidates that share the most question words, each word weighted by its rarity.

    Scoring a pair with the cross-encoder is the whole cost of an extractive answer; sharing no
    rare word with the question is cheap to see. Rarity is counted among the candidates
    themselves (a word in every sentence of a handbook tells none apart), and the title counts
    as part of each sentence, as in the pair the cross-encoder reads. Ties keep the search's
    order (the sort is stable and the candidates come passage by passage)."""
    if keep is None or len(candidates) <= keep:
        return list(candidates)
    asked = _terms(question)
    words = [_terms(f"{titles.get(c.n) or ''} {c.text}") & asked for c in candidates]
    weight = {t: math.log(1 + len(words) / (1 + sum(t in w for w in words))) for t in asked}
    overlap = [sum(weight[t] for t in w) for w in words]
    best = sorted(range(len(candidates)), key=lambda i: overlap[i], reverse=True)[:keep]
    return [candidates[i] for i in sorted(best)]


def score_alone(scorer: PairScorer, pairs: Sequence[tuple[str, str]]) -> list[float]:
    """Each pair scored in a call of its own: for whole passages, which a batch pads to the longest.

    Six passages of 60–512 tokens in one batch were all padded to the longest, and the padding
    was most of the extract step's time: scored one by one they took 3.2× less on this 2-core CPU
    (docs/inference.md). A passage's logit also no longer depends on what shares its batch (the
    int8 model's scale is per batch). Sentence pairs (20–100 tokens) gained little from it and
    stay batched."""
    return [float(scorer.score([pair])[0]) for pair in pairs]


def extract_answer(
    question: str, passages: Sequence[Passage], scorer: PairScorer,
    settings: ExtractiveSettings = ExtractiveSettings(), passage_logits: Mapping[int, float] | None = None,
) -> ExtractiveAnswer:
    """Score the shortlisted candidate sentences against the question and quote the best.

    ``passage_logits``: the cross-encoder's logit for each whole passage (by ``n``) when the
    search already computed it (re-ranking); otherwise the passages that hold a shortlisted
    sentence are scored here too (a passage without one cannot be quoted, so its score is unused).
    """
    found = candidate_sentences(passages)
    if not found:
        return ExtractiveAnswer("", [], 0)
    titles = {p.n: p.title for p in passages}
    order = {p.n: i for i, p in enumerate(passages)}
    candidates = shortlist(question, found, titles, settings.max_candidates)
    logits = _sentence_logits(question, candidates, passages, titles, scorer, settings)
    context = _passage_context(question, passages, {c.n for c in candidates}, scorer, settings, passage_logits)
    # ranked by the sentence, its passage and the passage's place; quoted only on the sentence's own score
    ranked = sorted(
        ((logit + context[c.n] - settings.rank_weight * order[c.n], SentenceSpan(c.n, c.text, c.start, c.end, logit))
         for c, logit in zip(candidates, logits)),
        key=lambda pair: pair[0], reverse=True,
    )
    best = ranked[0][1]
    if best.probability < settings.min_score:
        return ExtractiveAnswer("", [], len(found))
    picked = [best]
    for _, other in ranked[1:]:
        if len(picked) == settings.max_sentences:
            break
        if other.probability >= max(settings.min_score, settings.second_ratio * best.probability) and (
                not settings.same_passage or other.n == best.n):
            picked.append(other)
    # read in the order the text has them: passage by passage, sentence by sentence
    picked.sort(key=lambda s: (order[s.n], s.start))
    return ExtractiveAnswer(" ".join(_with_marker(s.text, s.n) for s in picked), picked, len(found))


def _sentence_logits(
    question: str, candidates: Sequence[SentenceSpan], passages: Sequence[Passage], titles: Mapping[int, str | None],
    scorer: PairScorer, settings: ExtractiveSettings,
) -> list[float]:
    """Each candidate's logit: the sentence alone, for the best few averaged with a second reading
    after the sentence before it.

    Read alone, a sentence loses what the one before it said ("The $1.2 billion stadium opened in
    2014" does not say which stadium); read with it, it also borrows that sentence's answer. The
    mean of the two readings ranked better than either on SQuAD dev 0-399 and the sample questions
    (docs/inference.md, "Which sentence answers"). Only the ``reread_best`` contenders are read
    twice: re-reading the rest changed no answer and cost most of the time. The second readings are
    scored in a call of their own (a batch's int8 scale is shared, and the longer pairs would pad
    the shorter ones); a passage's first sentence has no second reading."""
    def pair(c: SentenceSpan, text: str) -> tuple[str, str]:
        return question, f"{titles[c.n]}. {text}" if titles[c.n] else text

    alone = [float(x) for x in scorer.score([pair(c, c.text) for c in candidates])]
    if not settings.reread_best:
        return alone
    before = preceding_sentences(passages)
    best = sorted(range(len(candidates)), key=lambda i: alone[i], reverse=True)[:settings.reread_best]
    again = [i for i in sorted(best) if (candidates[i].n, candidates[i].start) in before]
    if not again:
        return alone
    read = scorer.score([pair(candidates[i], f"{before[(candidates[i].n, candidates[i].start)]} {candidates[i].text}")
                         for i in again])
    mixed = list(alone)
    for i, logit in zip(again, read):
        mixed[i] = (alone[i] + float(logit)) / 2
    return mixed


def _passage_context(
    question: str, passages: Sequence[Passage], wanted: set[int], scorer: PairScorer,
    settings: ExtractiveSettings, passage_logits: Mapping[int, float] | None,
) -> dict[int, float]:
    """What each passage as a whole adds to its sentences' rank (context a sentence alone lacks)."""
    if not settings.passage_weight:
        return {p.n: 0.0 for p in passages}
    if passage_logits is not None:
        return {p.n: settings.passage_weight * passage_logits[p.n] for p in passages}
    scored = [p for p in passages if p.n in wanted]
    logits = dict(zip((p.n for p in scored), score_alone(scorer, [(question, p.text) for p in scored])))
    return {p.n: settings.passage_weight * logits.get(p.n, 0.0) for p in passages}
