"""Build (once) the index collection a BEIR corpus is evaluated in.

The corpus goes through the same pieces as an uploaded document: cleaning,
token-sized chunking with the embedder's tokenizer, near-duplicate removal,
``Chunk.embed_text`` (title as context), the dense encoder and BM25, and the
same writer (``ingest.writer``: payload layout and point ids; readable by
everyone: ``acl`` is ``["public"]``; ``doc_id`` is the corpus id). The collection is named after a
cache key over the corpus bytes, the embedding model, the chunk settings and
the BM25 parameters, so a second run with the same inputs reuses it; change
any of them and a new collection is built beside it. The chunks and their
dense vectors are cached on disk (``<data_dir>/eval-cache``) under a key
without the BM25 parameters, so trying other BM25 settings never re-embeds.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from app.eval_tables import EvalCollection
from app.progress import Progress, no_progress
from app.tables import IndexCollection
from eval.beir import BeirDataset, CorpusDoc
from ingest.chunk import chunk_document, make_splitter
from ingest.clean import clean_document
from ingest.dedup import drop_duplicates
from ingest.document import Block, Chunk, ParsedDocument
from ingest.writer import ChunkWriter, DocumentFields
from retrieval.schema import PUBLIC_TOKEN
from retrieval.sparse_stats import keep_average_length

# Bump when the way a corpus becomes points changes (chunking, embed text, payload).
BUILD_VERSION = "1"
EMBED_BATCH = 512  # texts per encoder call, across documents: long batches sort by length well



@dataclass
class BuiltCollection:
    name: str
    documents: int
    chunks: int
    reused: bool  # the collection was already there
    embedded: bool = False  # the dense encoder ran (no cached vectors)


def embed_key(services, dataset: BeirDataset) -> str:
    """What the chunks and their dense vectors depend on."""
    s = services.settings
    parts = [
        BUILD_VERSION, dataset.corpus_hash, s.embed_model_path.name, str(s.embed_max_tokens),
        str(s.chunk_size), str(s.chunk_overlap), str(s.near_duplicate_threshold),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def cache_key(services, dataset: BeirDataset) -> str:
    """What the collection depends on: the chunks and vectors, and the BM25 parameters."""
    bm25 = services.bm25
    parts = [embed_key(services, dataset), bm25.model_id, str(getattr(bm25, "avg_len", ""))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def collection_name(services, dataset: BeirDataset) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", dataset.name.lower()).strip("-")[:40] or "dataset"
    return f"eval-{slug}-{cache_key(services, dataset)[:12]}"


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


def ensure_collection(services, dataset: BeirDataset, progress: Progress = no_progress) -> BuiltCollection:
    """The dataset's collection, built now unless an identical build is already there."""
    if not dataset.corpus:
        raise ValueError(f"{dataset.path} has no corpus.jsonl to build a collection from")
    name = collection_name(services, dataset)
    index = services.open_index(name)
    try:
        with services.session() as session:
            row = session.get(EvalCollection, name)
            if row is not None and row.status == "ready" and index.exists() and index.count() == row.chunks:
                return BuiltCollection(name, row.documents, row.chunks, reused=True)
        return _build(services, dataset, name, index, progress)
    finally:
        index.close()


# ---- chunks and dense vectors, cached on disk ---------------------------------
def _cache_dir(services, dataset: BeirDataset) -> Path:
    return services.settings.data_dir / "eval-cache" / embed_key(services, dataset)[:24]


def _load_cached(folder: Path) -> tuple[list[tuple[str, Chunk]], np.ndarray] | None:
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


def _save_cached(folder: Path, rows: list[tuple[str, Chunk]], vectors: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "chunks.jsonl.partial"
    with tmp.open("w", encoding="utf-8") as fh:
        for doc_id, c in rows:
            fh.write(json.dumps({"doc_id": doc_id, **asdict(c), "heading_path": list(c.heading_path)}) + "\n")
    np.save(folder / "dense.partial.npy", vectors)
    (folder / "dense.partial.npy").replace(folder / "dense.npy")
    tmp.replace(folder / "chunks.jsonl")  # written last: its presence means the cache is whole


def _chunk_and_embed(services, dataset: BeirDataset, progress: Progress) -> tuple[list[tuple[str, Chunk]], np.ndarray]:
    s, encoder = services.settings, services.encoder
    splitter = make_splitter(s.chunk_size, s.chunk_overlap, lambda text: [0] * encoder.count_tokens(text))
    rows: list[tuple[str, Chunk]] = []
    parts: list[np.ndarray] = []
    done = 0
    docs = list(dataset.corpus.values())
    for number, doc in enumerate(docs, 1):
        rows.extend((doc.id, c) for c in chunk_corpus_doc(doc, splitter, encoder.count_tokens, s.near_duplicate_threshold))
        if len(rows) - done >= EMBED_BATCH or number == len(docs):
            batch = rows[done:]
            parts.append(encoder.encode_documents([c.embed_text(dataset.corpus[d].title) for d, c in batch]))
            done = len(rows)
            progress("embed corpus", number, len(docs))
    vectors = np.concatenate(parts) if parts else np.zeros((0, encoder.dim), dtype=np.float32)
    return rows, vectors.astype(np.float32)


def _build(services, dataset: BeirDataset, name: str, index, progress: Progress) -> BuiltCollection:
    s, encoder, bm25 = services.settings, services.encoder, services.bm25
    with services.session() as session:
        row = session.get(EvalCollection, name) or EvalCollection(name=name)
        row.dataset, row.corpus_hash, row.cache_key = dataset.name, dataset.corpus_hash, cache_key(services, dataset)
        row.status, row.documents, row.chunks = "building", len(dataset.corpus), 0
        session.merge(row)
        if session.get(IndexCollection, name) is None:
            session.add(IndexCollection(name=name, embed_model=s.embed_model_path.name, dim=encoder.dim))
    folder = _cache_dir(services, dataset)
    cached = _load_cached(folder)
    embedded = cached is None
    if cached is None:
        cached = _chunk_and_embed(services, dataset, progress)
        _save_cached(folder, *cached)
    rows, vectors = cached
    index.drop()  # a half-built earlier attempt is rebuilt from scratch
    index.ensure_collection(encoder.dim)
    built_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    writer = ChunkWriter(index)
    fields = {d.id: corpus_document_fields(dataset, d, s.embed_model_path.name, built_at)
              for d in dataset.corpus.values()}
    for start in range(0, len(rows), EMBED_BATCH):
        batch = rows[start : start + EMBED_BATCH]
        sparse = bm25.encode_documents([c.embed_text(dataset.corpus[d].title) for d, c in batch])
        writer.write_many([(fields[d], c) for d, c in batch], vectors[start : start + len(batch)], sparse)
        progress("index corpus", start + len(batch), len(rows))
    writer.flush()  # on disk before SQL says ready: a crash after this never leaves a "ready" half-index
    keep_average_length(index, bm25)  # BM25 normalised by this corpus's own average length (issue 16)
    with services.session() as session:
        row = session.get(EvalCollection, name)
        row.status, row.chunks, row.built_at = "ready", len(rows), datetime.now(timezone.utc)
    return BuiltCollection(name, len(dataset.corpus), len(rows), reused=False, embedded=embedded)


def check_embed_model(services, name: str) -> None:
    """Refuse to search a collection whose vectors another embedding model made."""
    from app.services import EmbedModelMismatchError

    model = services.settings.embed_model_path.name
    with services.session() as session:
        row = session.get(IndexCollection, name)
        if row is None:
            raise ValueError(f"no collection named {name!r}: nothing has been ingested into it")
        if row.embed_model != model:
            raise EmbedModelMismatchError(
                f"collection {name!r} was built with the embedding model {row.embed_model!r}, "
                f"but the settings ask for {model!r}; set INHOUSE_EMBED_MODEL={row.embed_model} or rebuild it"
            )
