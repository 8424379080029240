"""The CPU backend: llama.cpp (llama-cpp-python) over a GGUF file.

This is what a machine without a GPU generates with, so `make run` and the test
suite produce real text (SmolLM2-135M-Instruct by default, ~120 tokens/s on two
cores). llama.cpp holds one context, so requests are served one at a time
behind an asyncio lock; concurrent users are the vLLM backend's job. The
blocking token loop runs in a worker thread and hands pieces to the event loop,
so a slow CPU never blocks the web server, and a consumer that goes away stops
the loop after the current token.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import AsyncIterator, Iterator

from inference.types import (
    ChatMessage,
    GenerationParams,
    GenerationStats,
    GeneratorConfigError,
    GeneratorUnavailableError,
    PromptTooLongError,
)

log = logging.getLogger(__name__)

# llama.cpp's OpenMP threads spin while they wait for each other. On a small CPU that
# is also running the encoders or another process, a spinning thread that lost its
# core stalls every step (measured here: 3.5 s per token instead of 10 ms). Passive
# waiting costs little when the CPU is idle. Read once, when libgomp loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Used only when a GGUF file carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_DONE = object()


def chat_formatter(template: str, bos_token: str, eos_token: str):
    """The GGUF's own chat template as a callable; pure Python (Jinja2), no native code."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        template=template, eos_token=eos_token, bos_token=bos_token, add_generation_prompt=True
    )


class LlamaCppGenerator:
    backend = "llamacpp"

    def __init__(
        self, model_path: Path, n_ctx: int = 2048, n_threads: int | None = None, seed: int = 0,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - it is a core dependency
            raise GeneratorUnavailableError(
                "llama-cpp-python is not installed; `pip install llama-cpp-python` (it compiles, ~4 min)"
            ) from exc
        if not model_path.is_file():
            raise GeneratorUnavailableError(
                f"GGUF model not found at {model_path}; run `inhouse models fetch` or set INHOUSE_GENERATOR_MODEL"
            )
        if n_ctx < 256:
            raise GeneratorConfigError(f"max_model_len {n_ctx} is too small to hold a prompt and an answer")
        self.model_id = model_path.stem
        self._llm = Llama(
            model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count() or 1,
            seed=seed, verbose=False,
        )
        trained = self._llm._model.n_ctx_train()  # what the GGUF says the model was trained for
        if n_ctx > trained:
            raise GeneratorConfigError(
                f"max_model_len {n_ctx} exceeds the {trained} tokens {self.model_id} was trained for"
            )
        self.max_model_len = self._llm.n_ctx()
        self.chat_template = self._llm.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        self.eos_token = self._token_text(self._llm.token_eos())
        self.bos_token = self._token_text(self._llm.token_bos())
        self._formatter = chat_formatter(self.chat_template, self.bos_token, self.eos_token)
        # an asyncio.Lock belongs to one event loop (the CLI runs one per command, the web app one for life)
        self._locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._busy = threading.Lock()  # and across loops/threads, the context itself

    def _token_text(self, token_id: int) -> str:
        if token_id < 0:
            return ""
        return self._llm.detokenize([token_id], special=True).decode("utf-8", errors="replace")

    # ---- the interface ---------------------------------------------------
    def render(self, messages: list[ChatMessage]) -> str:
        return self._formatter(messages=[dict(m) for m in messages]).prompt

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    @property
    def context_tokens(self) -> int:
        """llama.cpp's own count of the tokens its context holds (prompt and answer so far)."""
        return self._llm.n_tokens

    def close(self) -> None:
        self._llm.close()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, add_bos=False))

    def stream_tokens(
        self, prompt: list[int], params: GenerationParams, stop: threading.Event
    ) -> Iterator[tuple[str, str]]:
        """The blocking token loop: ``("text", piece)`` and ``("finish", reason)`` events.

        Shared by the in-process generator below and by the generator's child
        process (``inference.llamacpp_worker``), so both decode exactly alike.
        Setting ``stop`` ends the loop after the current token with ``abort``.
        """
        with self._busy:
            stream = self._llm.create_completion(
                prompt=prompt, max_tokens=params.max_tokens, temperature=params.temperature,
                top_p=params.top_p, stop=list(params.stop) or None, stream=True, seed=params.seed,
                **({"logit_bias": {self._llm.token_eos(): -1e9}} if params.ignore_eos else {}),
            )
            for chunk in stream:
                if stop.is_set():
                    stream.close()
                    yield "finish", "abort"
                    return
                choice = chunk["choices"][0]
                if choice.get("text"):
                    yield "text", choice["text"]
                if choice.get("finish_reason"):
                    yield "finish", choice["finish_reason"]

    def check_fits(self, prompt: list[int], params: GenerationParams) -> None:
        if len(prompt) + params.max_tokens > self.max_model_len:
            raise PromptTooLongError(
                f"prompt of {len(prompt)} tokens + {params.max_tokens} answer tokens exceeds "
                f"max_model_len {self.max_model_len}"
            )

    async def generate(
        self, messages: list[ChatMessage], params: GenerationParams, stats: GenerationStats | None = None
    ) -> AsyncIterator[str]:
        stats = stats if stats is not None else GenerationStats()
        prompt = self.tokenize(self.render(messages), add_bos=True)
        self.check_fits(prompt, params)
        stats.prompt_tokens = len(prompt)
        lock = self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock:  # one llama.cpp context: one sequence at a time
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue = asyncio.Queue()
            stop = threading.Event()
            pieces: list[str] = []

            def work() -> None:
                try:
                    for event in self.stream_tokens(prompt, params, stop):
                        loop.call_soon_threadsafe(queue.put_nowait, event)
                except BaseException as exc:  # handed to the consumer, raised there
                    loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
                finally:
                    loop.call_soon_threadsafe(queue.put_nowait, ("done", _DONE))

            worker = loop.run_in_executor(None, work)
            try:
                while True:
                    kind, value = await queue.get()
                    if kind == "text":
                        pieces.append(value)
                        yield value
                    elif kind == "finish":
                        stats.finish_reason = value
                    elif kind == "error":
                        raise value
                    else:
                        break
            finally:
                stop.set()  # the consumer left (or we finished): end the token loop
                await asyncio.shield(worker)
                stats.completion_tokens = self.count_tokens("".join(pieces))
                if stats.finish_reason is None:
                    stats.finish_reason = "abort"

    async def aclose(self) -> None:
        self.close()
