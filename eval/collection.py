"""Turn a BEIR corpus into index points the way an uploaded document becomes them (pure: no SQL, no app).

The corpus goes through the same pieces as an uploaded document: cleaning,
token-sized chunking with the embedder's tokenizer, near-duplicate removal,
``Chunk.embed_text`` (title as context), the dense encoder and BM25, and the
same writer (``ingest.writer``: payload layout and point ids; readable by
everyone: ``acl`` is ``["public"]``; ``doc_id`` is the corpus id). The chunks
and their dense vectors are cached on disk under ``embed_key`` (corpus,
embedding model, chunk settings), without the BM25 parameters, so trying other
BM25 settings never re-embeds. Which collection a corpus is built into, and
whether it is already there, is the application's business
(``app.evaluation.collections``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from eval.beir import BeirDataset, CorpusDoc
from eval.progress import Progress, no_progress
from ingest.chunk import chunk_document, make_splitter
from ingest.clean import clean_document
from ingest.dedup import drop_duplicates
from ingest.document import Block, Chunk, ParsedDocument
from ingest.encoders import DenseEncoder
from ingest.pipeline import PrepareConfig
from ingest.sparse import Bm25Encoder
from ingest.writer import ChunkWriter, DocumentFields
from retrieval.index import VectorIndex
from retrieval.schema import PUBLIC_TOKEN
from retrieval.sparse_stats import keep_average_length

# Bump when the way a corpus becomes points changes (chunking, embed text, payload).
BUILD_VERSION = "1"
EMBED_BATCH = 512  # texts per encoder call, across documents: long batches sort by length well

CorpusChunks = list[tuple[str, Chunk]]  # (corpus document id, chunk), in corpus order


def embed_key(dataset: BeirDataset, embed_model: str, embed_max_tokens: int, config: PrepareConfig) -> str:
    """What the chunks and their dense vectors depend on."""
    parts = [
        BUILD_VERSION, dataset.corpus_hash, embed_model, str(embed_max_tokens),
        str(config.chunk_size), str(config.chunk_overlap), str(config.near_duplicate_threshold),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def chunk_corpus_doc(doc: CorpusDoc, splitter, count_tokens, threshold: float) -> list[Chunk]:
    parsed = clean_document(ParsedDocument("txt", doc.title or None, [Block(doc.text)]))
    _, chunks = chunk_document(parsed, splitter, count_tokens)
    return drop_duplicates(chunks, threshold)


def corpus_document_fields(dataset: BeirDataset, doc: CorpusDoc, embed_model: str, built_at: str) -> DocumentFields:
    """A corpus document's shared payload: public, typed as text, sourced to its line in the corpus."""
    return DocumentFields(
        doc_id=doc.id, doc_sha=hashlib.sha256(f"{doc.title}\n{doc.text}".encode()).hexdigest(), title=doc.title,
        source=f"{dataset.name}/corpus.jsonl#{doc.id}", acl=[PUBLIC_TOKEN], groups=[], owner=None, doc_type="txt",
        created_at=built_at, embed_model=embed_model,
    )


# ---- chunks and dense vectors, cached on disk ---------------------------------
def load_cached(folder: Path) -> tuple[list[tuple[str, Chunk]], np.ndarray] | None:
    chunks_file, vectors_file = folder / "chunks.jsonl", folder / "dense.npy"
    if not (chunks_file.exists() and vectors_file.exists()):
        return None
    rows = []
    with chunks_file.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            rows.append((r.pop("doc_id"), Chunk(**{**r, "heading_path": tuple(r["heading_path"])})))
    vectors = np.load(vectors_file)
    return (rows, vectors) if len(rows) == len(vectors) else None


def save_cached(folder: Path, rows: list[tuple[str, Chunk]], vectors: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "chunks.jsonl.partial"
    with tmp.open("w", encoding="utf-8") as fh:
        for doc_id, c in rows:
            fh.write(json.dumps({"doc_id": doc_id, **asdict(c), "heading_path": list(c.heading_path)}) + "\n")
    np.save(folder / "dense.partial.npy", vectors)
    (folder / "dense.partial.npy").replace(folder / "dense.npy")
    tmp.replace(folder / "chunks.jsonl")  # written last: its presence means the cache is whole


def chunk_and_embed(
    dataset: BeirDataset, encoder: DenseEncoder, config: PrepareConfig, progress: Progress = no_progress
) -> tuple[CorpusChunks, np.ndarray]:
    splitter = make_splitter(config.chunk_size, config.chunk_overlap, lambda text: [0] * encoder.count_tokens(text))
    rows: CorpusChunks = []
    parts: list[np.ndarray] = []
    done = 0
    docs = list(dataset.corpus.values())
    for number, doc in enumerate(docs, 1):
        rows.extend((doc.id, c) for c in chunk_corpus_doc(doc, splitter, encoder.count_tokens,
                                                          config.near_duplicate_threshold))
        if len(rows) - done >= EMBED_BATCH or number == len(docs):
            batch = rows[done:]
            parts.append(encoder.encode_documents([c.embed_text(dataset.corpus[d].title) for d, c in batch]))
            done = len(rows)
            progress("embed corpus", number, len(docs))
    vectors = np.concatenate(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)
    return rows, vectors.astype(np.float32)


def cached_chunks(
    folder: Path, dataset: BeirDataset, encoder: DenseEncoder, config: PrepareConfig, progress: Progress = no_progress
) -> tuple[CorpusChunks, np.ndarray, bool]:
    """(chunks, dense vectors, whether the encoder ran): from ``folder`` when a whole cache is there."""
    cached = load_cached(folder)
    if cached is not None:
        return *cached, False
    rows, vectors = chunk_and_embed(dataset, encoder, config, progress)
    save_cached(folder, rows, vectors)
    return rows, vectors, True


def write_corpus(
    index: VectorIndex, dataset: BeirDataset, rows: CorpusChunks, vectors: np.ndarray, bm25: Bm25Encoder,
    embed_model: str, built_at: str, progress: Progress = no_progress,
) -> None:
    """Rebuild ``index`` from scratch with the corpus's points, durable on disk when this returns."""
    index.drop()  # a half-built earlier attempt is rebuilt from scratch
    index.ensure_collection(vectors.shape[1])
    writer = ChunkWriter(index)
    fields = {d.id: corpus_document_fields(dataset, d, embed_model, built_at) for d in dataset.corpus.values()}
    for start in range(0, len(rows), EMBED_BATCH):
        batch = rows[start : start + EMBED_BATCH]
        sparse = bm25.encode_documents([c.embed_text(dataset.corpus[d].title) for d, c in batch])
        writer.write_many([(fields[d], c) for d, c in batch], vectors[start : start + len(batch)], sparse)
        progress("index corpus", start + len(batch), len(rows))
    writer.flush()  # on disk before SQL says ready: a crash after this never leaves a "ready" half-index
    keep_average_length(index, bm25)  # BM25 normalised by this corpus's own average length (issue 16)
