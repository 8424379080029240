"""Every knob of inhouse in one place.

Values come, highest priority first, from keyword arguments, ``INHOUSE_*``
environment variables, an optional TOML file (``INHOUSE_CONFIG`` or
``<data_dir>/inhouse.toml``) and the defaults below. Anything that has a
server form (database, Qdrant) is a URL setting so a site scales out by
configuration, not by code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _toml_path() -> Path:
    explicit = os.environ.get("INHOUSE_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("INHOUSE_DATA_DIR", "data")) / "inhouse.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INHOUSE_", extra="ignore")

    # storage
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/inhouse.db"
    )
    index_backend: Literal["edge", "server"] = Field(
        default="edge",
        description="edge: Qdrant Edge in-process (default); server: qdrant-client against qdrant_url",
    )
    qdrant_url: str | None = Field(
        default=None,
        description="Qdrant server URL for the server backend. Unset: qdrant-client local mode "
        "under <data_dir>/qdrant-local (a test double, slow, not for production)",
    )
    qdrant_api_key: str | None = None
    collection: str = "inhouse"

    # models
    models_dir: Path | None = Field(default=None, description="default <data_dir>/models")
    embed_model: str = Field(
        default="bge-small-en",
        description="folder name under models_dir, or an absolute path to a model folder",
    )
    embed_backend: Literal["auto", "onnx", "sentence-transformers"] = "auto"
    embed_batch_size: int = 32
    embed_max_tokens: int = 512
    query_instruction: str = "Represent this sentence for searching relevant passages: "

    # chunking and sparse
    chunk_size: int = Field(default=256, ge=32, description="tokens per chunk")
    chunk_overlap: int = Field(default=32, ge=0)
    bm25_language: str = "english"
    near_duplicate_threshold: float = Field(
        default=0.9, description="Jaccard similarity of word shingles above which a chunk is dropped"
    )

    # ingestion limits
    max_file_bytes: int = 200 * 1024 * 1024
    max_unpacked_bytes: int = 1024 * 1024 * 1024
    ocr_languages: str = "eng"

    # --- retrieval and evaluation (issue 4) ---
    rerank_model: str = Field(
        default="ms-marco-MiniLM-L-12-v2", description="cross-encoder folder under models_dir, or a path"
    )
    rerank_backend: Literal["auto", "onnx", "sentence-transformers"] = "auto"
    rerank_batch_size: int = 16

    # --- inference (issue 5) ---

    @model_validator(mode="after")
    def _derive_paths(self) -> "Settings":
        if self.models_dir is None:
            self.models_dir = self.data_dir / "models"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'inhouse.db').resolve()}"
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    def model_path(self, name: str) -> Path:
        """A model setting is a folder name under models_dir or an absolute path."""
        candidate = Path(name)
        if candidate.is_absolute():
            return candidate
        assert self.models_dir is not None
        return self.models_dir / name

    @property
    def qdrant_dir(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def embed_model_path(self) -> Path:
        candidate = Path(self.embed_model)
        if candidate.is_absolute():
            return candidate
        assert self.models_dir is not None
        return self.models_dir / self.embed_model

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_toml_path()),
        )
