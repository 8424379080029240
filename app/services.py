"""The composition root: every service built from Settings, once, lazily.

The CLI and (later) the web app both call ``build_services(settings)``; tests
build their own with a temporary data directory. Models and the index open on
first use, so `inhouse users list` never loads an encoder. A caller that
already holds a part (a test's shared encoder, a scripted re-ranker, a
generator in a child process) hands it to the constructor; nothing replaces a
part after construction.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy.orm import Session

from app.db.engine import make_engine, migrate, session_factory
from app.errors import Conflict, NotFound
from app.runtime.installation import REINDEX, check_binding, installation_id, stamp
from app.runtime.private_files import open_data_dir
from app.settings import Settings
from app.db.library import IndexCollection

if TYPE_CHECKING:
    from inference.types import Generator
    from ingest.encoders import DenseEncoder
    from ingest.sparse import Bm25Encoder
    from retrieval.index import VectorIndex
    from retrieval.profile import SearchProfile
    from retrieval.rerank import PairScorer
    from retrieval.search import HybridSearcher


def index_folder(settings: Settings, collection: str | None = None) -> Path | None:
    """The folder whose lock one process at a time holds while the collection is open
    (``retrieval.lock``); None for a Qdrant server by URL, which takes any number of clients."""
    if settings.index_backend == "edge":
        return settings.qdrant_dir / (collection or settings.collection)
    return None if settings.qdrant_url else settings.data_dir / "qdrant-local"


class EmbedModelMismatchError(Conflict):
    code = "embed_model_mismatch"


class Services:
    def __init__(
        self, settings: Settings, *, encoder: "DenseEncoder | None" = None, bm25: "Bm25Encoder | None" = None,
        index: "VectorIndex | None" = None, cross_encoder: "PairScorer | None" = None,
        generator: "Generator | None" = None,
    ) -> None:
        self.settings = settings
        self._encoder, self._bm25, self._index = encoder, bm25, index
        self._cross_encoder, self._generator = cross_encoder, generator
        self._searcher: HybridSearcher | None = None
        # How long opening an Edge shard (or local-mode folder) waits for its lock (``retrieval.lock``)
        # before ``IndexBusyError``: 0 for tests and one-off calls; the server and the CLI wait.
        self.index_wait_s = 0.0
        open_data_dir(settings.data_dir)  # 0700 and a private umask, or refused if others can read it (W8)
        assert settings.database_url is not None
        self.engine = make_engine(settings.database_url)
        migrate(self.engine)
        self.sessions = session_factory(self.engine)
        with self.session() as session:
            self.installation_id = installation_id(session)
        if index is not None:  # a given index is held to the same rule as one opened here
            self._check_binding(index, settings.collection)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    @property
    def encoder(self) -> "DenseEncoder":
        if self._encoder is None:
            from ingest.encoders import load_encoder

            s = self.settings
            self._encoder = load_encoder(
                s.embed_model_path, s.embed_backend, s.embed_batch_size, s.embed_max_tokens, s.query_instruction
            )
        return self._encoder

    @property
    def bm25(self) -> "Bm25Encoder":
        if self._bm25 is None:
            from ingest.sparse import Bm25Encoder

            self._bm25 = Bm25Encoder(language=self.settings.bm25_language)
        return self._bm25

    def open_index(self, collection: str | None = None, *, bound: bool = True) -> "VectorIndex":
        """A new handle on a collection (default: the main one); the caller closes it.

        ``bound`` (always, but to drop an index for ``reindex``): refuse a collection another
        database built, or one with points and no installation id (app/runtime/installation.py).
        """
        from retrieval.edge_index import EdgeIndex
        from retrieval.server_index import ServerIndex

        s = self.settings
        name = collection or s.collection
        if s.index_backend == "edge":
            index = EdgeIndex(s.qdrant_dir / name, self.index_wait_s)
        elif s.qdrant_url:
            index = ServerIndex(name, url=s.qdrant_url, api_key=s.qdrant_api_key)
        else:
            index = ServerIndex(name, path=self.index_folder(name), wait_s=self.index_wait_s)
        if bound:
            try:
                self._check_binding(index, name)
            except BaseException:
                index.close()
                raise
        return index

    def index_folder(self, collection: str | None = None) -> Path | None:
        return index_folder(self.settings, collection)

    def _check_binding(self, index: "VectorIndex", name: str) -> None:
        s = self.settings
        if s.index_backend == "edge":
            where = str(s.qdrant_dir / name)
        else:
            where = f"collection {name!r} of {s.qdrant_url or s.data_dir / 'qdrant-local'}"
        rebuild = REINDEX if name == s.collection else "`inhouse eval run` on the dataset it was built from"
        database = self.engine.url.render_as_string(hide_password=True)
        check_binding(index, self.installation_id, where, database, rebuild)

    def drop_index(self) -> None:
        """Drop the main collection whoever built it (``reindex`` rebuilds it from this database)."""
        if self._index is None:
            index = self.open_index(bound=False)
            index.drop()
            index.close()
        else:
            self._index.drop()
        self.close_index()

    @property
    def index(self) -> "VectorIndex":
        """The main collection, opened once and closed by ``close``."""
        if self._index is None:
            self._index = self.open_index()
        return self._index

    def check_index(self, bound: bool = True) -> None:
        """Open the main collection now, and so hold its lock (``retrieval.lock``): one another database
        built stops a start, not a request. ``bound=False`` only for ``reindex``, which drops it."""
        if self._index is None:
            self._index = self.open_index(bound=bound)

    def close_index(self) -> None:
        """Close the main collection and forget it (and its searcher); the next use opens it again.

        Qdrant Edge lets one process at a time open a shard: a test hands it to a CLI
        subprocess this way, and ``reindex`` reopens the collection it dropped.
        """
        if self._index is not None:
            self._index.close()
        self._index, self._searcher = None, None

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
                stamp(self.index, self.installation_id)  # before any point: never a collection without its id
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
                stamp(self.index, self.installation_id)

    @property
    def cross_encoder(self) -> "PairScorer":
        if self._cross_encoder is None:
            from retrieval.rerank import load_cross_encoder

            s = self.settings
            self._cross_encoder = load_cross_encoder(s.model_path(s.rerank_model), s.rerank_backend,
                                                     s.rerank_batch_size)
        return self._cross_encoder

    def search_profile(self, collection: str | None = None) -> "SearchProfile":
        """The collection's tuned profile (`inhouse eval tune`), or the defaults."""
        from retrieval.profile import SearchProfile

        with self.session() as session:
            row = session.get(IndexCollection, collection or self.settings.collection)
            return SearchProfile.from_dict(row.search_profile if row else None)

    def save_search_profile(self, profile: "SearchProfile", collection: str | None = None) -> None:
        with self.session() as session:
            row = session.get(IndexCollection, collection or self.settings.collection)
            if row is None:
                raise NotFound("the collection does not exist yet: ingest something first")
            row.search_profile = profile.as_dict()
        self.refresh_search_profile(collection)

    def refresh_search_profile(self, collection: str | None = None) -> None:
        """After the main collection's profile changed: the cached searcher follows it from the next search."""
        if self._searcher is not None and (collection or self.settings.collection) == self.settings.collection:
            self._searcher.profile = self.search_profile()

    def searcher_for(self, index: "VectorIndex", profile: "SearchProfile | None" = None) -> "HybridSearcher":
        from retrieval.search import HybridSearcher

        return HybridSearcher(
            index, self.encoder, self.bm25, cross_encoder=lambda: self.cross_encoder,
            profile=profile or self.search_profile(),
        )

    @property
    def searcher(self) -> "HybridSearcher":
        """The main collection's searcher, following its tuned profile."""
        if self._searcher is None:
            self._searcher = self.searcher_for(self.index)
        return self._searcher

    def close(self) -> None:
        self.close_index()
        self.engine.dispose()

    @property
    def generator(self) -> "Generator":
        """The language model (vLLM, llama.cpp or a remote server, per settings), loaded on first question."""
        if self._generator is None:
            from inference.factory import load_generator

            self._generator = load_generator(self.settings)
        return self._generator

    @property
    def loaded_generator(self) -> "Generator | None":
        """The generator if something has loaded (or been given) one, without loading it."""
        return self._generator


def build_services(settings: Settings | None = None, **parts) -> Services:
    """Services for these settings; ``parts`` (encoder=, bm25=, index=, cross_encoder=, generator=) are used as given."""
    return Services(settings or Settings(), **parts)
