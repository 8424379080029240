"""One file to a list of chunks: sniff → parse → clean → chunk → de-duplicate.

The steps take a ``PrepareConfig`` of plain values, not the application's
settings: ``ingest`` knows nothing of ``app`` (``Settings.preparation()`` builds
one), and a caller such as a benchmark can prepare files with no settings at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from llama_index.core.node_parser import SentenceSplitter

from ingest.chunk import chunk_document, make_splitter
from ingest.clean import clean_document
from ingest.dedup import drop_duplicates
from ingest.document import Chunk
from ingest.encoders import DenseEncoder
from ingest.errors import NoTextError
from ingest.offline import use_local_spacy
from ingest.parse import parse
from ingest.page_progress import PageProgress, no_pages
from ingest.sniff import FileKind, sniff


@dataclass(frozen=True)
class PrepareConfig:
    chunk_size: int = 256  # tokens per chunk, counted with the embedder's tokenizer
    chunk_overlap: int = 32
    near_duplicate_threshold: float = 0.9  # Jaccard similarity of word shingles above which a chunk is dropped
    max_unpacked_bytes: int = 1024 * 1024 * 1024  # an archive-based file inflating past this is refused
    ocr_languages: str = "eng"
    models_dir: Path = Path("data") / "models"  # where the local spaCy model lives (never downloaded)


@dataclass
class PreparedDocument:
    kind: FileKind
    title: str | None
    page_count: int | None
    clean_text: str
    chunks: list[Chunk]
    ocr_pages: list[int]


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int, encoder) -> SentenceSplitter:
    # SentenceSplitter only needs len() of the token list; counting is the encoder's job.
    return make_splitter(chunk_size, chunk_overlap, lambda text: [0] * encoder.count_tokens(text))


def prepare_chunks(
    path: Path, config: PrepareConfig, encoder: DenseEncoder, name: str | None = None,
    progress: PageProgress = no_pages,
) -> PreparedDocument:
    """``name``: the original file name (the stored copy has none), a tie-breaker for text types.
    ``progress`` hears ("parse", 0, 0) when the file's parse starts, a PDF's or a deck's pages as they
    are read ("parse" and "ocr", n of m), then ("chunk", 0, 0) when the text is being cleaned and
    chunked: what a library row shows while a file is prepared."""
    progress("parse", 0, 0)  # this file's parse starts now (until then it waits behind the others)
    use_local_spacy(config.models_dir)
    kind = sniff(path, config.max_unpacked_bytes, name)
    parsed = parse(path, kind, config.ocr_languages, progress)
    progress("chunk", 0, 0)
    parsed = clean_document(parsed)
    splitter = _splitter(config.chunk_size, config.chunk_overlap, encoder)
    clean_text, chunks = chunk_document(parsed, splitter, encoder.count_tokens)
    chunks = drop_duplicates(chunks, config.near_duplicate_threshold)
    if not chunks:
        raise NoTextError("the document holds no text to index")
    return PreparedDocument(kind, parsed.title, parsed.page_count, clean_text, chunks, parsed.ocr_pages)


WARM_UP_TEXT = """# Warm-up

## Why

The first document a process parses pays for importing the parsers (unstructured's
Markdown and HTML partitioners, its tokenizer module, lxml): about four seconds.

## When

A server pays it once at start-up, not on a user's first upload.
"""


def warm_up(config: PrepareConfig, encoder: DenseEncoder) -> None:
    """Parse and chunk a tiny Markdown document so the first real upload is not seconds slower."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="inhouse-warm-") as folder:
        path = Path(folder) / "warm-up.md"
        path.write_text(WARM_UP_TEXT, encoding="utf-8")
        prepare_chunks(path, config, encoder)
