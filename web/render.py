"""Templates and the few filters that turn stored text into safe HTML.

Jinja autoescapes every value. The filters here are the only places that
produce markup from text, and each escapes the text first and then adds its
own fixed tags: ``<mark>`` around matched words, ``<a class="cite">`` around
a citation marker whose passage is shown. A marker pointing at no shown
passage stays plain text, so no link ever leads nowhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

TEMPLATES_DIR = Path(__file__).parent / "templates"
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from has have how i if in into is it its may me my of on or "
    "our should so than that the their them then there these they this to was we what when where which who why "
    "will with would you your".split()
)
WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)


def query_terms(query: str) -> list[str]:
    return sorted({w.lower() for w in WORD.findall(query or "") if w.lower() not in STOPWORDS}, key=len, reverse=True)


def highlight(text: str, query: str) -> Markup:
    """The text, escaped, with the query's words marked (whole words, any case)."""
    terms = query_terms(query)
    if not text:
        return Markup("")
    if not terms:
        return escape(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\b", re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last:m.start()]))
        out.append(Markup("<mark>") + escape(m.group(0)) + Markup("</mark>"))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def cite_link(answer_id: int, n: int, shown: set[int], inferred: bool = False) -> Markup:
    if n not in shown:
        return escape(f"[{n}]")
    label = f"passage {n}" + (", attributed by the checker" if inferred else "")
    cls = "cite inferred" if inferred else "cite"
    return Markup('<a class="{}" href="/sources/{}/{}" aria-label="{}" data-cite="{}">[{}]</a>').format(
        cls, answer_id, n, label, n, n)


MARKER = re.compile(r"\[(\d{1,3})\]")


def linkify(text: str, answer_id: int, shown: set[int]) -> Markup:
    """Answer text with complete ``[n]`` markers as links to shown passages (the rest stays text)."""
    out, last = [], 0
    for m in MARKER.finditer(text or ""):
        out.append(escape(text[last:m.start()]))
        out.append(cite_link(answer_id, int(m.group(1)), shown))
        last = m.end()
    out.append(escape((text or "")[last:]))
    return Markup("").join(out)


def tidy(text: str) -> str:
    """Passage text for a card: runs of blank lines become one line break."""
    return re.sub(r"\n\s*\n+", "\n", text or "").strip()


def ms(value: float | int | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters.update(highlight=highlight, linkify=linkify, ms=ms, tidy=tidy)
    env.globals.update(cite_link=cite_link)
    return templates
