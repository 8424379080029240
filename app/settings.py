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
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

if TYPE_CHECKING:
    from ingest.pipeline import PrepareConfig


# asymmetric signatures only: "none" proves nothing, and HS* would make the client secret a signing key
SignatureAlg = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


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
    query_instruction: str | None = Field(
        default=None,
        description="prefix of every dense query; unset: the model's own (bge's retrieval instruction for a "
        "bge folder, none otherwise); empty: none",
    )

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

    # the ingestion job queue (app/library/job_queue.py)
    web_worker: bool = Field(
        default=True, description="run the job worker inside `inhouse serve`; false where `inhouse worker` "
                                  "processes run the queue (needs the Qdrant server backend)",
    )
    job_heartbeat_s: float = Field(default=5.0, gt=0, description="how often a worker says it still runs a job")
    job_stale_s: float = Field(
        default=60.0, gt=0, description="a running job whose heartbeat is older than this is taken over",
    )
    job_max_attempts: int = Field(default=3, ge=1, description="a job taken over this often fails with the reason")

    # --- retrieval and evaluation (issue 4) ---
    rerank_model: str = Field(
        default="ms-marco-MiniLM-L-12-v2", description="cross-encoder folder under models_dir, or a path"
    )
    rerank_backend: Literal["auto", "onnx", "sentence-transformers"] = "auto"
    rerank_batch_size: int = 16

    # --- inference (issue 5) ---
    generator_backend: Literal["auto", "vllm", "llamacpp", "openai"] = Field(
        default="auto",
        description="auto: openai if openai_url is set, else vllm for a model folder on a GPU, else llamacpp",
    )
    generator_model: str = Field(
        default="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="GGUF file (llamacpp) or Hugging Face model folder (vllm), under models_dir or a path",
    )
    generator_max_model_len: int | None = Field(
        default=None, ge=256, description="context window in tokens; default llamacpp 2048, vllm the model's"
    )
    generator_max_tokens: int = Field(default=256, ge=1, description="answer length limit in tokens")
    generator_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    generator_top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    generator_threads: int | None = Field(default=None, ge=1, description="llamacpp CPU threads")
    vllm_dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    vllm_quantization: Literal["awq", "awq_marlin", "gptq", "gptq_marlin", "fp8", "compressed-tensors",
                               "bitsandbytes"] | None = None
    vllm_gpu_memory_utilization: float = Field(default=0.90, gt=0.0, le=1.0)
    vllm_tensor_parallel_size: int = Field(default=1, ge=1)
    vllm_load_format: Literal["auto", "safetensors", "pt", "dummy"] = "auto"
    vllm_enforce_eager: bool = Field(default=False, description="skip CUDA graphs: faster start, slower decode")
    vllm_max_num_seqs: int | None = Field(default=None, ge=1, description="requests batched at once")
    vllm_tokenizer: str | None = Field(default=None, description="tokenizer folder if not the model's")
    openai_url: str | None = Field(default=None, description="OpenAI-compatible base URL, e.g. http://llm:8000/v1")
    openai_failover_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str | None = Field(default=None, description="model name on the server; default generator_model")
    openai_timeout_s: float = Field(default=60.0, gt=0, description="longest wait for the next byte")
    openai_connect_timeout_s: float = Field(default=5.0, gt=0)
    openai_retries: int = Field(default=2, ge=0, description="retries per URL before failing over")
    openai_backoff_s: float = Field(default=0.5, ge=0)
    openai_tokenizer: str | None = Field(default=None, description="served model's tokenizer folder, for budgets")
    answer_passages: int = Field(default=6, ge=1, le=50, description="passages retrieved per question")
    answer_min_support: float = Field(
        default=0.5, ge=0.0, le=1.0, description="cross-encoder probability for a sentence to count as supported"
    )
    review_support_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="answers with less support than this go to the review queue"
    )
    answer_rewrite: Literal["model", "concat", "off"] = "model"
    answer_history_turns: int = Field(default=6, ge=0, description="earlier messages kept for follow-ups")
    answer_mode: Literal["auto", "generative", "extractive"] = Field(
        default="auto",
        description="extractive: quote the passage sentences that answer, no generator; generative: the model "
                    "writes the answer; auto: extractive for a CPU-sized GGUF model or none, else generative",
    )
    answer_extractive_min_score: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="cross-encoder probability a sentence needs to be quoted; below it the answer is 'not found'",
    )

    # web
    web_session_idle_minutes: int = Field(default=60, ge=1, description="a session ends after this long unused")
    web_session_absolute_hours: int = Field(default=12, ge=1, description="and this long after login, used or not")
    web_secure_cookies: Literal["auto", "always", "never"] = Field(
        default="auto", description="Secure flag on cookies: auto sets it when the request came over https",
    )
    web_login_attempts: int = Field(
        default=5, ge=1, description="failed logins allowed per user and per address within web_login_window_s",
    )
    web_login_window_s: int = Field(default=300, ge=1)
    web_answer_slots: int = Field(
        default=0, ge=0,
        description="answers worked on at once; the rest wait their turn, told they are queued. "
                    "0: one per CPU core when answers run on this machine's CPU, 32 with vLLM or a remote server",
    )

    # single sign-on through a gateway's trusted headers (web/trusted_headers.py); off unless chosen
    trusted_headers: Literal["off", "oauth2-proxy", "envoy", "custom"] = Field(
        default="off",
        description="take the user from headers a gateway sets: oauth2-proxy (X-Forwarded-User/-Email/-Groups), "
                    "envoy (x-jwt-sub/-email/-groups from claim_to_headers) or custom (the three names below)",
    )
    trusted_header_user: str | None = Field(default=None, description="overrides the preset's user header")
    trusted_header_email: str | None = Field(default=None, description="overrides the preset's e-mail header")
    trusted_header_groups: str | None = Field(default=None, description="overrides the preset's groups header")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or CIDRs of the gateway (the TCP peer); identity headers from anyone else are "
                    "refused, and with the list empty they are refused from everyone",
    )
    trusted_header_groups_max_bytes: int = Field(default=65536, ge=1, description="a longer groups value is refused")
    trusted_header_groups_max: int = Field(default=256, ge=1, description="more groups than this are refused")
    trusted_header_create_groups: bool = Field(
        default=False, description="create a group named in the header that does not exist yet (else it is skipped)",
    )
    trusted_header_role_groups: dict[str, str] = Field(
        default_factory=dict,
        description="gateway group -> role (e.g. {'inhouse-admins': 'admin'}); when set, a header user's role comes "
                    "only from it on every request; no header names a role directly",
    )
    trusted_header_logout_url: str = Field(
        default="/oauth2/sign_out", description="where logging out sends a header user (the gateway's sign-out)",
    )

    # OpenID Connect login (web/oidc.py); off while oidc_issuer is unset
    oidc_issuer: str | None = Field(
        default=None, description="the provider's issuer URL, exactly as its discovery document and tokens say it",
    )
    oidc_client_id: str = "inhouse"
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid email profile"
    oidc_redirect_url: str | None = Field(
        default=None, description="this server's callback as registered at the provider; default "
                                  "<the request's base URL>/login/oidc/callback",
    )
    oidc_name_claim: str = Field(default="preferred_username", description="the user name; falls back to e-mail")
    oidc_groups_claim: str = Field(
        default="groups", description="a dotted path to a list or a space/comma separated string (realm_access.roles)",
    )
    oidc_create_groups: bool = False
    oidc_role_groups: dict[str, str] = Field(default_factory=dict, description="IdP group -> role, as for headers")
    oidc_algorithms: list[SignatureAlg] = Field(
        default_factory=lambda: ["RS256", "PS256", "ES256"],
        description="ID token signatures accepted; none and HS* (a shared secret) cannot be listed",
    )
    oidc_clock_skew_s: int = Field(default=60, ge=0, le=60)
    web_local_login: bool = Field(default=True, description="the local user name and password form; off: SSO only")

    @model_validator(mode="after")
    def _derive_paths(self) -> "Settings":
        if self.models_dir is None:
            self.models_dir = self.data_dir / "models"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'inhouse.db').resolve()}"
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.trusted_headers == "custom" and not self.trusted_header_user:
            raise ValueError("trusted_headers=custom needs trusted_header_user")
        from ipaddress import ip_network

        for entry in self.trusted_proxies:
            ip_network(entry, strict=False)  # a typo fails the start, not every request
        roles = {"employee", "owner", "evaluator", "admin"}
        bad = {*self.trusted_header_role_groups.values(), *self.oidc_role_groups.values()} - roles
        if bad:
            raise ValueError(f"trusted_header_role_groups maps to unknown roles: {sorted(bad)}")
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

    def preparation(self) -> "PrepareConfig":
        """What ``ingest.pipeline`` needs of these settings to turn a file into chunks."""
        from ingest.pipeline import PrepareConfig

        assert self.models_dir is not None
        return PrepareConfig(
            chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap,
            near_duplicate_threshold=self.near_duplicate_threshold, max_unpacked_bytes=self.max_unpacked_bytes,
            ocr_languages=self.ocr_languages, models_dir=self.models_dir,
        )

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
