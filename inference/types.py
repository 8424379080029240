"""The generator interface every backend implements, and the errors it raises.

One async interface (``generate`` streams text pieces) so that the answer
service, the web app's SSE stream and the benchmarks do not care whether the
tokens come from an in-process vLLM engine, llama.cpp on a CPU or a remote
OpenAI-compatible server. Token counting is part of the interface because the
prompt budget must be measured with the generator's own tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Literal, Protocol, TypedDict, runtime_checkable


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerationParams:
    """Sampling for one request. Defaults come from settings (``generator_*``)."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # Benchmarks need every request to produce exactly max_tokens tokens.
    ignore_eos: bool = False

    def with_(self, **changes) -> "GenerationParams":
        return replace(self, **changes)


@dataclass
class GenerationStats:
    """What one finished request cost; filled in by the backend as it streams."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None  # "stop" | "length" | "abort"
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """A language model that turns chat messages into a stream of text pieces.

    ``max_model_len`` is the context window (prompt + answer) in tokens;
    ``count_tokens`` measures a rendered prompt or any text with the model's
    own tokenizer; ``render`` applies the model's chat template so the count
    matches what is actually sent.
    """

    backend: str
    model_id: str
    max_model_len: int

    def render(self, messages: list[ChatMessage]) -> str: ...

    def count_tokens(self, text: str) -> int: ...

    def generate(
        self, messages: list[ChatMessage], params: GenerationParams, stats: GenerationStats | None = None
    ) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...


class GeneratorError(RuntimeError):
    """Generation failed; the message says what to do about it."""


class GeneratorUnavailableError(GeneratorError):
    """The backend cannot run here (package missing, no GPU, model file missing)."""


class ModelDoesNotFitError(GeneratorError):
    """The model (weights + one full-length sequence of KV cache) exceeds the GPU memory allowed."""


class PromptTooLongError(GeneratorError):
    """A prompt does not fit the context window even after dropping every optional part."""


class GeneratorConfigError(GeneratorError, ValueError):
    """The settings for a backend are inconsistent."""


class GeneratorCrashedError(GeneratorError):
    """The generator's process died (a native crash); this answer was not generated, the next one restarts it."""
