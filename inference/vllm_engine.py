"""The GPU backend: vLLM's ``AsyncLLM`` engine inside our own process.

One engine per process, started on first use and shared by every request, so
concurrent users are batched continuously by vLLM's scheduler: there is no
lock around ``generate``. Each request streams deltas
(``RequestOutputKind.DELTA``); when the consumer goes away (the browser closed
its SSE stream, the CLI got Ctrl-C) the request is aborted in the engine so its
KV cache is freed at once. vLLM is imported lazily: it is only in the ``gpu``
extra, and a CPU machine must still be able to import this module and get a
clear error instead of an ImportError.

The prompt is rendered with the model's chat template and tokenised here with
the same tokenizer files the engine loads, and handed to the engine as token
ids, so the budget we computed is exactly what runs.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import AsyncIterator

from inference.types import (
    ChatMessage,
    GenerationParams,
    GenerationStats,
    GeneratorUnavailableError,
    PromptTooLongError,
)
from inference.vllm_config import VllmConfig, check_fits, translate_start_error

log = logging.getLogger(__name__)


def import_vllm():
    """vLLM's entry points, or a GeneratorUnavailableError that says how to get them."""
    try:
        import vllm
        from vllm.sampling_params import RequestOutputKind
        from vllm.v1.engine.async_llm import AsyncLLM
    except ImportError as exc:
        raise GeneratorUnavailableError(
            f"the vllm backend needs vLLM, which is not importable here ({exc}). Install the gpu extra "
            "(`pip install 'inhouse[gpu]'`) on a machine with an NVIDIA GPU, or choose another backend: "
            "INHOUSE_GENERATOR_BACKEND=llamacpp (CPU) or openai (a remote server)."
        ) from exc
    return vllm, AsyncLLM, RequestOutputKind


def gpu_memory_bytes() -> int:
    """Total memory of GPU 0, or a GeneratorUnavailableError when there is no usable GPU."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a core dependency
        raise GeneratorUnavailableError("the vllm backend needs torch with CUDA") from exc
    if not torch.cuda.is_available():
        raise GeneratorUnavailableError(
            "the vllm backend needs an NVIDIA GPU, and torch sees none (torch.cuda.is_available() is False). "
            "Use INHOUSE_GENERATOR_BACKEND=llamacpp on this machine, or point INHOUSE_OPENAI_URL at a GPU server."
        )
    return int(torch.cuda.get_device_properties(0).total_memory)


@dataclass
class BatchStats:
    """What the scheduler reported, step by step: proof that requests shared batches."""

    steps: int = 0
    peak_running: int = 0
    batched_steps: int = 0  # steps with more than one request running
    running: int = 0
    waiting: int = 0

    def observe(self, running: int, waiting: int) -> None:
        self.steps += 1
        self.running, self.waiting = running, waiting
        self.peak_running = max(self.peak_running, running)
        if running > 1:
            self.batched_steps += 1


def _stat_logger_factory(batch_stats: BatchStats):
    from vllm.v1.metrics.loggers import StatLoggerBase

    class SchedulerRecorder(StatLoggerBase):
        def __init__(self, vllm_config, engine_index: int = 0) -> None:
            self.engine_index = engine_index

        def record(self, scheduler_stats, iteration_stats, mm_cache_stats=None, engine_idx: int = 0) -> None:
            if scheduler_stats is not None:
                batch_stats.observe(scheduler_stats.num_running_reqs, scheduler_stats.num_waiting_reqs)

        def log_engine_initialized(self) -> None:
            pass

    return SchedulerRecorder


class VllmGenerator:
    backend = "vllm"

    def __init__(self, config: VllmConfig) -> None:
        hf = config.validate()
        self.config = config
        self._vllm, self._AsyncLLM, self._OutputKind = import_vllm()
        self.estimate = check_fits(hf, config, gpu_memory_bytes())
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(config.tokenizer or config.model), local_files_only=True)
        self.model_id = config.model.name
        self.max_model_len = config.resolved_max_model_len(hf)
        self.batch_stats = BatchStats()
        self._engine = None
        self._starting: asyncio.Lock | None = None

    # ---- engine life ------------------------------------------------------
    async def start(self):
        """Start the engine (about a minute on an H100); later calls return the running one."""
        if self._engine is not None:
            return self._engine
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._engine is None:
                args = self._vllm.AsyncEngineArgs(**self.config.engine_kwargs())
                try:
                    self._engine = self._AsyncLLM.from_engine_args(
                        args, stat_loggers=[_stat_logger_factory(self.batch_stats)]
                    )
                except Exception as exc:
                    raise translate_start_error(exc, self.config) from exc
        return self._engine

    @property
    def engine(self):
        return self._engine

    def unfinished_requests(self) -> int:
        return 0 if self._engine is None else self._engine.output_processor.get_num_unfinished_requests()

    async def aclose(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None

    # ---- the interface ----------------------------------------------------
    def render(self, messages: list[ChatMessage]) -> str:
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt_ids(self, messages: list[ChatMessage]) -> list[int]:
        return self.tokenizer.encode(self.render(messages), add_special_tokens=False)

    def sampling_params(self, params: GenerationParams):
        return self._vllm.SamplingParams(
            max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p,
            stop=list(params.stop) or None, seed=params.seed, ignore_eos=params.ignore_eos,
            output_kind=self._OutputKind.DELTA,
        )

    async def generate(
        self, messages: list[ChatMessage], params: GenerationParams, stats: GenerationStats | None = None
    ) -> AsyncIterator[str]:
        async for piece in self.generate_ids(self.prompt_ids(messages), params, stats):
            yield piece

    async def generate_ids(
        self, prompt_ids: list[int], params: GenerationParams, stats: GenerationStats | None = None,
        request_id: str | None = None,
    ) -> AsyncIterator[str]:
        stats = stats if stats is not None else GenerationStats()
        if len(prompt_ids) + params.max_tokens > self.max_model_len:
            raise PromptTooLongError(
                f"prompt of {len(prompt_ids)} tokens + {params.max_tokens} answer tokens exceeds "
                f"max_model_len {self.max_model_len}"
            )
        engine = await self.start()
        request_id = request_id or uuid.uuid4().hex
        stats.prompt_tokens = len(prompt_ids)
        finished = False
        try:
            async for out in engine.generate(
                {"prompt_token_ids": prompt_ids}, self.sampling_params(params), request_id
            ):
                completion = out.outputs[0]
                stats.completion_tokens += len(completion.token_ids)
                if completion.text:
                    yield completion.text
                if out.finished:
                    finished = True
                    stats.finish_reason = completion.finish_reason
        finally:
            if not finished:
                # The consumer left mid-stream: free the sequence's KV cache now, not at max_tokens.
                stats.finish_reason = "abort"
                await engine.abort(request_id)
