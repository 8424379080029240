"""Choose and build the generator the settings ask for.

``auto`` picks, in order: a remote server when ``openai_url`` is set; the
in-process vLLM engine when the model is a Hugging Face folder, vLLM is
importable and a GPU is visible; llama.cpp for a GGUF file. Anything else is
an error that names the setting to change, never a silent fallback to a
different model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ingest.encoders import cuda_available
from inference.types import Generator, GeneratorConfigError, GeneratorUnavailableError

LLAMACPP_DEFAULT_CONTEXT = 2048


def choose_backend(settings) -> str:
    if settings.generator_backend != "auto":
        return settings.generator_backend
    if settings.openai_url:
        return "openai"
    model = settings.model_path(settings.generator_model)
    if model.is_file() and model.suffix == ".gguf":
        return "llamacpp"
    if model.is_dir() and (model / "config.json").exists():
        if importlib.util.find_spec("vllm") is None:
            raise GeneratorUnavailableError(
                f"{model} is a Hugging Face model folder, which needs the vllm backend, but vLLM is not "
                "installed (`pip install 'inhouse[gpu]'`). On a CPU set INHOUSE_GENERATOR_MODEL to a GGUF file."
            )
        if not cuda_available():
            raise GeneratorUnavailableError(
                f"{model} needs the vllm backend and a GPU, and none is visible. On a CPU set "
                "INHOUSE_GENERATOR_MODEL to a GGUF file, or INHOUSE_OPENAI_URL to a remote server."
            )
        return "vllm"
    raise GeneratorUnavailableError(
        f"generator model {model} not found (INHOUSE_GENERATOR_MODEL); run `inhouse models fetch` for the "
        "default CPU model"
    )


def load_generator(settings) -> Generator:
    backend = choose_backend(settings)
    if backend == "llamacpp":
        from inference.llamacpp_isolated import IsolatedLlamaCppGenerator

        return IsolatedLlamaCppGenerator(  # a crash in llama.cpp fails one answer, not this process
            settings.model_path(settings.generator_model),
            n_ctx=settings.generator_max_model_len or LLAMACPP_DEFAULT_CONTEXT,
            n_threads=settings.generator_threads,
        )
    if backend == "vllm":
        from inference.vllm_config import VllmConfig
        from inference.vllm_engine import VllmGenerator

        return VllmGenerator(VllmConfig.from_settings(settings))
    if backend == "openai":
        from inference.openai_backend import OpenAIGenerator

        if not settings.openai_url:
            raise GeneratorConfigError("INHOUSE_GENERATOR_BACKEND=openai needs INHOUSE_OPENAI_URL")
        tok = settings.openai_tokenizer
        return OpenAIGenerator(
            [settings.openai_url, *([settings.openai_failover_url] if settings.openai_failover_url else [])],
            model=settings.openai_model or Path(settings.generator_model).name,
            api_key=settings.openai_api_key, max_model_len=settings.generator_max_model_len or 8192,
            timeout_s=settings.openai_timeout_s, connect_timeout_s=settings.openai_connect_timeout_s,
            retries=settings.openai_retries, backoff_s=settings.openai_backoff_s,
            tokenizer_dir=settings.model_path(tok) if tok else None,
        )
    raise GeneratorConfigError(f"unknown generator backend {backend!r}")


def default_params(settings):
    from inference.types import GenerationParams

    return GenerationParams(
        max_tokens=settings.generator_max_tokens, temperature=settings.generator_temperature,
        top_p=settings.generator_top_p,
    )
