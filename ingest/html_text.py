"""HTML and Markdown paragraphs are body text: skip unstructured's spaCy check of them.

unstructured classifies every ``<p>`` of an HTML (or Markdown, which it turns
into HTML) file as ``NarrativeText`` or ``Text`` by running a full spaCy
pipeline (tagger and parser) over it. Headings there come from ``<h1>``–``<h6>``,
not from that check, and we treat both outcomes alike, so the check bought
nothing and cost 70 % of parsing a Markdown file (20 ms a paragraph on a CPU
core). List items, addresses and e-mail addresses are still recognised.
unstructured is pinned; tests/ingest/test_sniff_and_chunk.py guards this.
"""

from __future__ import annotations


def _element_type_without_nlp(text: str):
    from unstructured.documents.elements import Address, EmailAddress, ListItem, Text
    from unstructured.partition.text_type import is_bulleted_text, is_email_address, is_us_city_state_zip

    if is_bulleted_text(text):
        return ListItem
    if is_us_city_state_zip(text):
        return Address
    if is_email_address(text):
        return EmailAddress
    return Text if len(text) >= 2 else None


def skip_narrative_check() -> None:
    """Swap unstructured's HTML text classifier for one that needs no NLP (idempotent)."""
    from unstructured.partition.html import parser

    parser.derive_element_type_from_text = _element_type_without_nlp
