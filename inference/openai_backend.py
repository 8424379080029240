"""The remote backend: any OpenAI-compatible chat-completions server.

For sites that outgrow one process: a `vllm serve` fleet behind a load
balancer, a KServe InferenceService, a LiteLLM gateway. Streaming uses the
server-sent events of ``POST {url}/chat/completions`` with ``stream: true``.

Failure handling, in order: a connection error, a timeout (no byte for
``timeout_s``) or a retryable status (429, 5xx) is retried on the same URL with
exponential backoff (honouring ``Retry-After``); when the retries are spent the
next URL (the failover) is tried the same way. A request is only retried
before its first token: once text has reached the user, replaying would
duplicate it, so a stream that breaks mid-answer is an error.

Token counting uses the served model's ``tokenizer.json`` when a folder is
configured (``openai_tokenizer``); otherwise a conservative estimate (one token
per three characters, English averages four) so the budget errs on fitting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from pathlib import Path
from typing import AsyncIterator

import httpx

from inference.types import (
    ChatMessage,
    GenerationParams,
    GenerationStats,
    GeneratorError,
    GeneratorUnavailableError,
    PromptTooLongError,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MESSAGE_OVERHEAD_TOKENS = 8  # role markers and separators a chat template adds per message


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAIGenerator:
    backend = "openai"

    def __init__(
        self, urls: list[str], model: str, api_key: str | None = None, max_model_len: int = 8192,
        timeout_s: float = 60.0, connect_timeout_s: float = 5.0, retries: int = 2, backoff_s: float = 0.5,
        tokenizer_dir: Path | None = None,
    ) -> None:
        self.urls = [u.rstrip("/") for u in urls if u]
        if not self.urls:
            raise GeneratorUnavailableError("the openai backend needs INHOUSE_OPENAI_URL")
        self.model_id = model
        self.max_model_len = max_model_len
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._tokenizer = None
        if tokenizer_dir is not None:
            from tokenizers import Tokenizer

            path = tokenizer_dir / "tokenizer.json" if tokenizer_dir.is_dir() else tokenizer_dir
            if not path.exists():
                raise GeneratorUnavailableError(f"no tokenizer.json at {path} (INHOUSE_OPENAI_TOKENIZER)")
            self._tokenizer = Tokenizer.from_file(str(path))
        self.attempts: list[tuple[str, str]] = []  # (url, outcome) of the latest request, for logs and tests

    @property
    def exact_counts(self) -> bool:
        return self._tokenizer is not None

    def render(self, messages: list[ChatMessage]) -> str:
        """The server applies its own template; for counting, each message plus a fixed overhead."""
        pad = " " * (3 * MESSAGE_OVERHEAD_TOKENS)
        return "".join(f"{pad}{m['content']}" for m in messages)

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return math.ceil(len(text) / 3)

    def _client_for_loop(self) -> httpx.AsyncClient:
        """One pooled client per event loop (the CLI runs one loop per command, the web app one for life)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _body(self, messages: list[ChatMessage], params: GenerationParams) -> dict:
        body: dict = {
            "model": self.model_id, "messages": [dict(m) for m in messages], "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": params.max_tokens,
            "temperature": params.temperature, "top_p": params.top_p,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.ignore_eos:
            body["ignore_eos"] = True  # vLLM's extension; other servers ignore unknown fields
        return body

    async def generate(
        self, messages: list[ChatMessage], params: GenerationParams, stats: GenerationStats | None = None
    ) -> AsyncIterator[str]:
        stats = stats if stats is not None else GenerationStats()
        body = self._body(messages, params)
        self.attempts = []
        started = False
        for url in self.urls:
            for attempt in range(self.retries + 1):
                try:
                    async for piece in self._stream(url, body, stats):
                        started = True
                        yield piece
                    self.attempts.append((url, "ok"))
                    return
                except (httpx.TransportError, _Retryable) as exc:
                    outcome = exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
                    self.attempts.append((url, outcome))
                    if started:
                        raise GeneratorError(f"{url} broke off in the middle of an answer ({outcome})") from exc
                    log.warning("generation request to %s failed (%s), attempt %d", url, outcome, attempt + 1)
                    if attempt < self.retries:
                        delay = self.backoff_s * (2**attempt)
                        if isinstance(exc, _Retryable) and exc.retry_after is not None:
                            delay = min(max(delay, exc.retry_after), 30.0)
                        await asyncio.sleep(delay)
        tried = "; ".join(f"{u}: {o}" for u, o in self.attempts)
        raise GeneratorUnavailableError(f"no OpenAI-compatible server answered ({tried})")

    async def _stream(self, url: str, body: dict, stats: GenerationStats) -> AsyncIterator[str]:
        client = self._client_for_loop()
        async with client.stream("POST", f"{url}/chat/completions", json=body) as resp:
            if resp.status_code in RETRYABLE_STATUS:
                retry_after = resp.headers.get("retry-after")
                raise _Retryable(
                    f"HTTP {resp.status_code}", float(retry_after) if retry_after and retry_after.isdigit() else None
                )
            if resp.status_code >= 400:
                detail = (await resp.aread()).decode("utf-8", errors="replace")[:500]
                if "context length" in detail or "maximum context" in detail or "too long" in detail:
                    raise PromptTooLongError(f"{url} refused the prompt as too long: {detail}")
                raise GeneratorError(f"{url} answered HTTP {resp.status_code}: {detail}")
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments (": ping"), event names
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if event.get("error"):
                    raise GeneratorError(f"{url} reported an error mid-stream: {event['error']}")
                usage = event.get("usage")
                if usage:
                    stats.prompt_tokens = usage.get("prompt_tokens", stats.prompt_tokens)
                    stats.completion_tokens = usage.get("completion_tokens", stats.completion_tokens)
                for choice in event.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if choice.get("finish_reason"):
                        stats.finish_reason = choice["finish_reason"]
                    if text:
                        yield text
            if stats.finish_reason is None:
                raise _Retryable("the stream ended before the answer was finished")
