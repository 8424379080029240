"""The composition root: every service built from Settings, once, lazily.

The CLI and (later) the web app both call ``build_services(settings)``; tests
build their own with a temporary data directory. Models and the index open on
first use, so `inhouse users list` never loads an encoder.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from typing import Iterator

from sqlalchemy.orm import Session

from app.db import make_engine, migrate, session_factory
from app.errors import Conflict, NotFound
from app.settings import Settings
from app.tables import IndexCollection


class EmbedModelMismatchError(Conflict):
    code = "embed_model_mismatch"


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        assert settings.database_url is not None
        self.engine = make_engine(settings.database_url)
        migrate(self.engine)
        self.sessions = session_factory(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    @cached_property
    def encoder(self):
        from ingest.encoders import load_encoder

        s = self.settings
        return load_encoder(s.embed_model_path, s.embed_backend, s.embed_batch_size, s.embed_max_tokens)

    @cached_property
    def bm25(self):
        from ingest.sparse import Bm25Encoder

        return Bm25Encoder(language=self.settings.bm25_language)

    def open_index(self, collection: str | None = None):
        from retrieval.edge_index import EdgeIndex
        from retrieval.server_index import ServerIndex

        s = self.settings
        name = collection or s.collection
        if s.index_backend == "edge":
            return EdgeIndex(s.qdrant_dir / name)
        if s.qdrant_url:
            return ServerIndex(name, url=s.qdrant_url, api_key=s.qdrant_api_key)
        return ServerIndex(name, path=s.data_dir / "qdrant-local")

    @cached_property
    def index(self):
        return self.open_index()

    def check_collection(self, create: bool) -> None:
        """Refuse to mix vectors of two models in one collection."""
        model = self.settings.embed_model_path.name
        with self.session() as session:
            row = session.get(IndexCollection, self.settings.collection)
            if row is None:
                if not create:
                    return
                dim = self.encoder.dim
                self.index.ensure_collection(dim)
                session.add(IndexCollection(name=self.settings.collection, embed_model=model, dim=dim))
                return
            if row.embed_model != model:
                raise EmbedModelMismatchError(
                    f"collection {row.name!r} was built with the embedding model {row.embed_model!r}, "
                    f"but the settings ask for {model!r}. Either set INHOUSE_EMBED_MODEL={row.embed_model} "
                    f"or rebuild the index with the new model: `inhouse reindex`."
                )
            if create:
                self.index.ensure_collection(row.dim)

    @cached_property
    def cross_encoder(self):
        from retrieval.rerank import load_cross_encoder

        s = self.settings
        return load_cross_encoder(s.model_path(s.rerank_model), s.rerank_backend, s.rerank_batch_size)

    def search_profile(self, collection: str | None = None):
        """The collection's tuned profile (`inhouse eval tune`), or the defaults."""
        from retrieval.profile import SearchProfile

        with self.session() as session:
            row = session.get(IndexCollection, collection or self.settings.collection)
            return SearchProfile.from_dict(row.search_profile if row else None)

    def save_search_profile(self, profile, collection: str | None = None) -> None:
        with self.session() as session:
            row = session.get(IndexCollection, collection or self.settings.collection)
            if row is None:
                raise NotFound("the collection does not exist yet: ingest something first")
            row.search_profile = profile.as_dict()

    def searcher_for(self, index, profile=None):
        from retrieval.search import HybridSearcher

        return HybridSearcher(
            index, self.encoder, self.bm25, cross_encoder=lambda: self.cross_encoder,
            profile=profile or self.search_profile(),
        )

    @cached_property
    def searcher(self):
        return self.searcher_for(self.index)

    def close(self) -> None:
        if "index" in self.__dict__:
            self.index.close()
        self.engine.dispose()

    # --- inference (issue 5) ---
    @cached_property
    def generator(self):
        """The language model (vLLM, llama.cpp or a remote server, per settings), loaded on first question."""
        from inference.factory import load_generator

        return load_generator(self.settings)


def build_services(settings: Settings | None = None) -> Services:
    return Services(settings or Settings())
