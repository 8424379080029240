"""Build (once) the index collection a BEIR corpus is evaluated in, and keep its SQL bookkeeping.

The collection is named after a cache key over the corpus bytes, the
embedding model, the chunk settings and the BM25 parameters, so a second run
with the same inputs reuses it; change any of them and a new collection is
built beside it. Turning the corpus into points is ``eval.collection``'s job
(pure, cached on disk); this module decides whether to build, records the
build in ``eval_collections`` and ``index_collections``, and refuses to search
a collection another embedding model made. A corpus holding this installation's own
documents is refused: everyone can read an eval collection (``org_data``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from app.errors import Invalid, NotFound
from app.runtime.installation import IndexBindingError, stamp
from app.db.evaluation import EvalCollection
from app.evaluation.org_data import refuse_organisation_corpus
from app.progress import Progress, no_progress
from app.services import EmbedModelMismatchError, Services
from app.db.library import IndexCollection
from eval.beir import BeirDataset
from eval.collection import cached_chunks, embed_key, write_corpus


@dataclass
class BuiltCollection:
    name: str
    documents: int
    chunks: int
    reused: bool  # the collection was already there
    embedded: bool = False  # the dense encoder ran (no cached vectors)


def _embed_key(services: Services, dataset: BeirDataset) -> str:
    s = services.settings
    return embed_key(dataset, s.embed_model_path.name, s.embed_max_tokens, s.preparation())


def cache_key(services: Services, dataset: BeirDataset) -> str:
    """What the collection depends on: the chunks and vectors, and the BM25 parameters."""
    bm25 = services.bm25
    parts = [_embed_key(services, dataset), bm25.model_id, str(getattr(bm25, "avg_len", ""))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def collection_name(services: Services, dataset: BeirDataset) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", dataset.name.lower()).strip("-")[:40] or "dataset"
    return f"eval-{slug}-{cache_key(services, dataset)[:12]}"


def cache_dir(services: Services, dataset: BeirDataset) -> Path:
    """Where the corpus's chunks and dense vectors are kept between builds."""
    return services.settings.data_dir / "eval-cache" / _embed_key(services, dataset)[:24]


def ensure_collection(services: Services, dataset: BeirDataset, progress: Progress = no_progress) -> BuiltCollection:
    """The dataset's collection, built now unless an identical build is already there."""
    if not dataset.corpus:
        raise Invalid(f"{dataset.path} has no corpus.jsonl to build a collection from")
    refuse_organisation_corpus(services, dataset)  # an eval collection is public (issue 15, W1)
    name = collection_name(services, dataset)
    try:
        index = services.open_index(name)
    except IndexBindingError:  # another database's (or an unmarked) build of it: a cache, so rebuild it
        stale = services.open_index(name, bound=False)
        stale.drop()
        stale.close()
        index = services.open_index(name)
    try:
        with services.session() as session:
            row = session.get(EvalCollection, name)
            if row is not None and row.status == "ready" and index.exists() and index.count() == row.chunks:
                return BuiltCollection(name, row.documents, row.chunks, reused=True)
        return _build(services, dataset, name, index, progress)
    finally:
        index.close()


def _build(services: Services, dataset: BeirDataset, name: str, index, progress: Progress) -> BuiltCollection:
    s, encoder = services.settings, services.encoder
    with services.session() as session:
        row = session.get(EvalCollection, name) or EvalCollection(name=name)
        row.dataset, row.corpus_hash, row.cache_key = dataset.name, dataset.corpus_hash, cache_key(services, dataset)
        row.status, row.documents, row.chunks = "building", len(dataset.corpus), 0
        session.merge(row)
        if session.get(IndexCollection, name) is None:
            session.add(IndexCollection(name=name, embed_model=s.embed_model_path.name, dim=encoder.dim))
    rows, vectors, embedded = cached_chunks(cache_dir(services, dataset), dataset, encoder, s.preparation(), progress)
    built_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    write_corpus(index, dataset, rows, vectors, services.bm25, s.embed_model_path.name, built_at, progress)
    stamp(index, services.installation_id)
    with services.session() as session:
        row = session.get(EvalCollection, name)
        row.status, row.chunks, row.built_at = "ready", len(rows), datetime.now(timezone.utc)
    return BuiltCollection(name, len(dataset.corpus), len(rows), reused=False, embedded=embedded)


def check_embed_model(services: Services, name: str) -> None:
    """Refuse to search a collection whose vectors another embedding model made."""
    model = services.settings.embed_model_path.name
    with services.session() as session:
        row = session.get(IndexCollection, name)
        if row is None:
            raise NotFound(f"no collection named {name!r}: nothing has been ingested into it")
        if row.embed_model != model:
            raise EmbedModelMismatchError(
                f"collection {name!r} was built with the embedding model {row.embed_model!r}, "
                f"but the settings ask for {model!r}; set INHOUSE_EMBED_MODEL={row.embed_model} or rebuild it"
            )
