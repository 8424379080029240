"""Token-sized chunks that remember where they came from.

Sections (runs of blocks under the same heading path) are split separately
with llama-index's SentenceSplitter, counting tokens with the embedder's own
tokenizer, so a chunk never straddles two headings and each chunk's page,
heading path and character span in the document's clean text are exact.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable

from llama_index.core.node_parser import SentenceSplitter

from ingest.document import Chunk, ParsedDocument

SECTION_SEP = "\n\n"


@dataclass
class Section:
    heading_path: tuple[str, ...]
    start: int  # offset of the section in the clean text
    text: str
    block_offsets: list[tuple[int, int | None]]  # (offset within section, page)


def text_sha(text: str) -> str:
    return hashlib.sha256(re.sub(r"\s+", " ", text).strip().lower().encode()).hexdigest()


def build_sections(doc: ParsedDocument) -> tuple[str, list[Section]]:
    """Lay the blocks out as one clean text and cut it into heading sections."""
    sections: list[Section] = []
    parts: list[str] = []
    offset = 0
    current: Section | None = None
    for block in doc.blocks:
        if current is None or block.heading_path != current.heading_path or block.is_heading:
            if current is not None and current.text:
                parts.append(current.text)
                sections.append(current)
                offset += len(current.text) + len(SECTION_SEP)
            current = Section(block.heading_path, offset, "", [])
        if current.text:
            current.text += SECTION_SEP
        current.block_offsets.append((len(current.text), block.page))
        current.text += block.text
    if current is not None and current.text:
        parts.append(current.text)
        sections.append(current)
    return SECTION_SEP.join(parts), sections


def _page_at(section: Section, pos: int) -> int | None:
    page = None
    for start, block_page in section.block_offsets:
        if start > pos:
            break
        page = block_page if block_page is not None else page
    return page


def make_splitter(chunk_size: int, chunk_overlap: int, tokenize: Callable[[str], list]) -> SentenceSplitter:
    return SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=tokenize)


def chunk_document(
    doc: ParsedDocument, splitter: SentenceSplitter, count_tokens: Callable[[str], int]
) -> tuple[str, list[Chunk]]:
    clean_text, sections = build_sections(doc)
    chunks: list[Chunk] = []
    for section in sections:
        cursor = 0
        for piece in splitter.split_text(section.text):
            if not piece.strip():
                continue
            found = section.text.find(piece, cursor)
            if found < 0:  # the splitter normalised whitespace: anchor on the first words
                found = section.text.find(piece[:40], cursor)
            start = max(found, 0)
            end = min(start + len(piece), len(section.text))
            cursor = start + 1
            chunks.append(
                Chunk(
                    chunk_no=len(chunks),
                    text=piece,
                    page=_page_at(section, start),
                    heading_path=section.heading_path,
                    char_start=section.start + start,
                    char_end=section.start + end,
                    token_count=count_tokens(piece),
                    text_sha=text_sha(piece),
                )
            )
    return clean_text, pack_small(clean_text, chunks, splitter.chunk_size, count_tokens)


def pack_small(
    clean_text: str, chunks: list[Chunk], chunk_size: int, count_tokens: Callable[[str], int]
) -> list[Chunk]:
    """Glue neighbouring small pieces (short sections, table cells, slide bullets) together
    up to the chunk size: a four-token chunk is too little context to embed or to cite."""
    packed: list[Chunk] = []
    for chunk in chunks:
        prev = packed[-1] if packed else None
        if prev is not None and prev.token_count + chunk.token_count + 2 <= chunk_size and chunk.char_start >= prev.char_start:
            text = clean_text[prev.char_start : max(prev.char_end, chunk.char_end)]
            packed[-1] = Chunk(
                chunk_no=prev.chunk_no, text=text, page=prev.page, heading_path=prev.heading_path,
                char_start=prev.char_start, char_end=max(prev.char_end, chunk.char_end),
                token_count=count_tokens(text), text_sha=text_sha(text),
            )
            continue
        packed.append(chunk)
    for number, chunk in enumerate(packed):
        chunk.chunk_no = number
    return packed
