"""Find the ``[n]`` markers in an answer and split it into sentences that carry them.

Models write markers in several ways: ``[1]``, ``[1, 3]``, ``[1; 3]``,
``[1-3]``, ``[1][2]``, and often after the full stop (``... days. [2]``).
A marker that points to no passage shown to the model (``[7]`` with five
passages, ``[0]``) is dropped from the answer text, so the reader never sees
a citation that leads nowhere. Markers stay in the answer text; each
``Sentence`` also has its text without markers, which is what verification
scores against the passage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# [1] [1, 3] [1;3] [1-3] [1 , 2] — digits separated by commas, semicolons or a range dash
MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*(?:[,;]|[-–])\s*\d{1,3})*)\s*\]")
_RUN = re.compile(rf"{MARKER.pattern}(?:[ \t]*{MARKER.pattern})*")  # [1][2] [3] as one group
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\s*\d[\d\s,;\-–]*\])+")


@dataclass
class Sentence:
    text: str  # without markers, whitespace normalised
    raw: str  # as written (valid markers kept)
    cited: list[int] = field(default_factory=list)  # passage numbers, in order, de-duplicated


@dataclass
class ParsedAnswer:
    text: str  # the answer with markers that point nowhere removed
    sentences: list[Sentence]
    dropped_markers: list[int] = field(default_factory=list)

    @property
    def cited(self) -> list[int]:
        seen: list[int] = []
        for s in self.sentences:
            seen.extend(n for n in s.cited if n not in seen)
        return seen


def marker_numbers(inner: str) -> list[int]:
    """'1, 3' -> [1, 3]; '2-4' -> [2, 3, 4] (ranges capped at 20 numbers)."""
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", inner.strip()):
        bounds = re.split(r"\s*[-–]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            out.extend(range(lo, min(hi, lo + 19) + 1) if hi >= lo else [lo, hi])
        elif part.isdigit():
            out.append(int(part))
    return out


def _clean_markers(answer: str, n_passages: int) -> tuple[str, list[int]]:
    dropped: list[int] = []

    def keep_valid(run: re.Match) -> str:
        nums = [n for m in MARKER.finditer(run.group(0)) for n in marker_numbers(m.group(1))]
        valid = [n for n in nums if 1 <= n <= n_passages]
        dropped.extend(n for n in nums if not 1 <= n <= n_passages)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    text = _RUN.sub(keep_valid, answer)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)  # "days [9]." -> "days."
    return re.sub(r"[ \t]{2,}", " ", text).strip(), dropped


def split_sentences(text: str) -> list[str]:
    """Sentence-ish spans; markers that open a span belong to the sentence before it."""
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    out: list[str] = []
    for part in parts:
        lead = _LEADING_MARKERS.match(part)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(0).strip()}"
            part = part[lead.end():].strip()
        if part:
            out.append(part)
    return out


def parse_citations(answer: str, n_passages: int) -> ParsedAnswer:
    text, dropped = _clean_markers(answer, n_passages)
    sentences: list[Sentence] = []
    for raw in split_sentences(text):
        cited = list(dict.fromkeys(n for m in MARKER.finditer(raw) for n in marker_numbers(m.group(1))))
        plain = re.sub(r"\s+", " ", MARKER.sub("", raw)).strip()
        plain = re.sub(r"\s+([.,;:!?])", r"\1", plain)
        if plain.strip(" .,;:!?-*"):
            sentences.append(Sentence(plain, raw, cited))
        elif sentences and cited:  # a line holding only markers: they cite the sentence before
            sentences[-1].cited.extend(n for n in cited if n not in sentences[-1].cited)
    return ParsedAnswer(text, sentences, dropped)
