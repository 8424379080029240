"""Plain data that flows between the ingestion steps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Block:
    """One parsed element: a paragraph, a title, a list item, a table row group."""

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    is_heading: bool = False


@dataclass
class ParsedDocument:
    kind: str  # pdf, docx, pptx, html, md, eml, csv, txt
    title: str | None
    blocks: list[Block]
    page_count: int | None = None
    ocr_pages: list[int] = field(default_factory=list)


@dataclass
class Chunk:
    chunk_no: int
    text: str
    page: int | None
    heading_path: tuple[str, ...]
    char_start: int  # span in the document's clean text
    char_end: int
    token_count: int
    text_sha: str = ""

    def embed_text(self, title: str) -> str:
        """What the encoders see: the text with its title and headings as context."""
        context = " > ".join(h for h in (title, *self.heading_path) if h)
        return f"{context}\n\n{self.text}" if context else self.text
