"""Real models for the inference tests, loaded once per session.

The generator is SmolLM2-135M-Instruct (GGUF) through llama.cpp, the CPU
default, in the child process the app runs it in (so a native crash fails the
tests that generate, never the whole run); the verifier is the ms-marco cross-encoder. Greedy decoding
(temperature 0) keeps outputs repeatable within a run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def gguf_path(models_dir: Path) -> Path:
    path = models_dir / GGUF_NAME
    if not path.exists():
        pytest.fail(f"{path} missing: run `make models` (or `inhouse models fetch`)")
    return path


@pytest.fixture(scope="session")
def llama_generator(gguf_path: Path):
    from inference.llamacpp_isolated import IsolatedLlamaCppGenerator

    generator = IsolatedLlamaCppGenerator(gguf_path, n_ctx=2048)
    yield generator
    asyncio.run(generator.aclose())


@pytest.fixture(scope="session")
def cross_encoder(models_dir: Path):
    from retrieval.rerank import load_cross_encoder

    return load_cross_encoder(models_dir / "ms-marco-MiniLM-L-12-v2", "onnx")


class CountingGenerator:
    """Our own Generator interface, wrapping a real one and counting calls.

    Used where a test must prove the model was (or was not) called; the text
    still comes from the real model.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0
        self.backend, self.model_id, self.max_model_len = inner.backend, inner.model_id, inner.max_model_len

    def render(self, messages):
        return self.inner.render(messages)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    async def generate(self, messages, params, stats=None):
        self.calls += 1
        async for piece in self.inner.generate(messages, params, stats):
            yield piece

    async def aclose(self) -> None:
        pass


@pytest.fixture
def counting_generator(llama_generator):
    return CountingGenerator(llama_generator)
