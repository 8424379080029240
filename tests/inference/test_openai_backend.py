"""The OpenAI-compatible backend against real HTTP servers started here.

Each server speaks the chat-completions streaming protocol (server-sent
events, ``data: {...}`` lines, ``data: [DONE]``) and can be told to fail in
the ways production servers do: 503s, a 429 with Retry-After, silence longer
than the timeout, a stream cut in the middle.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inference.openai_backend import OpenAIGenerator
from inference.types import GenerationParams, GenerationStats, GeneratorError, GeneratorUnavailableError

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What colour is the badge?"}]


class ChatServer:
    """A threaded HTTP server answering POST /v1/chat/completions with a scripted behaviour per request."""

    def __init__(self, words=("The ", "badge ", "is ", "blue", ".")) -> None:
        self.words = list(words)
        self.script: list[str] = []  # behaviours for the next requests; "ok" once it runs out
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                behaviour = server.script.pop(0) if server.script else "ok"
                if self.path != "/v1/chat/completions":
                    return self._plain(404, "not found")
                if behaviour == "503":
                    return self._plain(503, "overloaded")
                if behaviour.startswith("429"):  # "429" or "429:SECONDS" for a Retry-After
                    self.send_response(429)
                    self.send_header("Retry-After", behaviour.partition(":")[2] or "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if behaviour == "400-context":
                    return self._plain(400, json.dumps({"error": {"message": "This model's maximum context length is 8 tokens"}}))
                if behaviour == "slow":
                    time.sleep(1.5)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = server.words[: body["max_tokens"]]
                for i, word in enumerate(words):
                    if behaviour == "cut" and i == 2:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self._event({"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
                finish = "length" if len(words) < len(server.words) else "stop"
                self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
                self._event({"choices": [], "usage": {"prompt_tokens": 17, "completion_tokens": len(words)}})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, payload: dict) -> None:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

            def _plain(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


@pytest.fixture
def second_server():
    s = ChatServer(words=("Backup ", "says ", "blue", "."))
    yield s
    s.close()


def free_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # closed again: connections are refused


def collect(gen: OpenAIGenerator, params: GenerationParams | None = None, stats: GenerationStats | None = None):
    async def run():
        try:
            return [p async for p in gen.generate(MESSAGES, params or GenerationParams(max_tokens=50), stats)]
        finally:
            await gen.aclose()

    return asyncio.run(run())


def test_streams_deltas_and_reports_usage(server):
    gen = OpenAIGenerator([server.url], model="smol", api_key="k-123")
    stats = GenerationStats()
    pieces = collect(gen, GenerationParams(max_tokens=50, stop=("\n",), seed=7), stats)
    assert pieces == ["The ", "badge ", "is ", "blue", "."]
    assert (stats.prompt_tokens, stats.completion_tokens, stats.finish_reason) == (17, 5, "stop")
    sent = server.requests[0]
    assert sent["model"] == "smol" and sent["stream"] is True and sent["messages"] == MESSAGES
    assert sent["stop"] == ["\n"] and sent["seed"] == 7 and sent["max_tokens"] == 50
    assert server.headers[0]["Authorization"] == "Bearer k-123"


def test_max_tokens_reaches_the_server_and_length_finish_is_reported(server):
    stats = GenerationStats()
    pieces = collect(OpenAIGenerator([server.url], model="smol"), GenerationParams(max_tokens=2), stats)
    assert pieces == ["The ", "badge "]
    assert stats.finish_reason == "length"


def test_retries_503_with_backoff_then_succeeds(server):
    server.script = ["503", "503"]
    gen = OpenAIGenerator([server.url], model="smol", retries=2, backoff_s=0.05)
    start = time.perf_counter()
    assert "".join(collect(gen)) == "The badge is blue."
    assert len(server.requests) == 3
    assert time.perf_counter() - start >= 0.05 + 0.1  # backoff doubled between tries
    assert [o for _, o in gen.attempts] == ["_Retryable: HTTP 503", "_Retryable: HTTP 503", "ok"]


def test_429_is_retried_no_sooner_than_retry_after_says(server):
    server.script = ["429:1"]
    gen = OpenAIGenerator([server.url], model="smol", retries=1, backoff_s=0.01)
    start = time.perf_counter()
    assert "".join(collect(gen)) == "The badge is blue."
    assert len(server.requests) == 2
    assert time.perf_counter() - start >= 1.0  # the server's 1 s, not our 0.01 s backoff


def test_gives_up_after_the_retries_with_every_attempt_named(server):
    server.script = ["503"] * 5
    gen = OpenAIGenerator([server.url], model="smol", retries=1, backoff_s=0.01)
    with pytest.raises(GeneratorUnavailableError, match="HTTP 503.*HTTP 503"):
        collect(gen)
    assert len(server.requests) == 2


def test_a_server_silent_past_the_timeout_is_retried(server):
    server.script = ["slow"]
    gen = OpenAIGenerator([server.url], model="smol", timeout_s=0.5, retries=1, backoff_s=0.01)
    assert "".join(collect(gen)) == "The badge is blue."
    assert gen.attempts[0][1].startswith("ReadTimeout")
    assert len(server.requests) == 2


def test_fails_over_to_the_second_url_when_the_first_refuses_connections(second_server):
    gen = OpenAIGenerator([free_port_url(), second_server.url], model="smol", retries=1, backoff_s=0.01)
    assert "".join(collect(gen)) == "Backup says blue."
    assert [o.split(":")[0] for _, o in gen.attempts] == ["ConnectError", "ConnectError", "ok"]


def test_fails_over_when_the_first_server_keeps_failing(server, second_server):
    server.script = ["503"] * 3
    gen = OpenAIGenerator([server.url, second_server.url], model="smol", retries=0)
    assert "".join(collect(gen)) == "Backup says blue."
    assert len(server.requests) == 1 and len(second_server.requests) == 1


def test_a_stream_cut_mid_answer_is_an_error_not_a_silent_replay(server, second_server):
    server.script = ["cut"]
    gen = OpenAIGenerator([server.url, second_server.url], model="smol", retries=2, backoff_s=0.01)
    received: list[str] = []

    async def run():
        async for piece in gen.generate(MESSAGES, GenerationParams(max_tokens=50)):
            received.append(piece)

    with pytest.raises(GeneratorError, match="broke off"):
        asyncio.run(run())
    assert received == ["The ", "badge "]  # what the user saw is not repeated by a retry
    assert len(server.requests) == 1 and second_server.requests == []


def test_prompt_too_long_is_not_retried(server):
    from inference.types import PromptTooLongError

    server.script = ["400-context"]
    gen = OpenAIGenerator([server.url], model="smol", retries=3, backoff_s=0.01)
    with pytest.raises(PromptTooLongError):
        collect(gen)
    assert len(server.requests) == 1


def test_token_counts_use_the_served_models_tokenizer_when_given(server, models_dir):
    exact = OpenAIGenerator([server.url], model="m", tokenizer_dir=models_dir / "bge-small-en")
    estimate = OpenAIGenerator([server.url], model="m")
    text = "Expenses above 5,000 NOK need the CFO's approval."
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(models_dir / "bge-small-en" / "tokenizer.json"))
    assert exact.count_tokens(text) == len(tok.encode(text, add_special_tokens=False).ids)
    assert estimate.count_tokens(text) >= exact.count_tokens(text)  # the estimate errs on the safe side


def test_settings_build_the_openai_backend_with_failover(make_settings, server):
    from inference.factory import load_generator

    gen = load_generator(make_settings(openai_url=server.url, openai_failover_url="http://10.0.0.9:1/v1",
                                       openai_model="served", generator_max_model_len=4096))
    assert isinstance(gen, OpenAIGenerator)
    assert gen.urls == [server.url, "http://10.0.0.9:1/v1"]
    assert (gen.model_id, gen.max_model_len) == ("served", 4096)


@pytest.fixture(scope="module")
def llama_cpp_server(gguf_path):
    """A real OpenAI-compatible server: llama-cpp-python's own, serving the CPU model."""
    import subprocess
    import sys
    import urllib.request

    url = free_port_url()
    port = url.rsplit(":", 1)[1].split("/")[0]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path), "--model_alias", "smollm2",
         "--host", "127.0.0.1", "--port", port, "--n_ctx", "2048", "--verbose", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama_cpp.server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_a_real_openai_compatible_server_streams_an_answer(llama_cpp_server):
    gen = OpenAIGenerator([llama_cpp_server], model="smollm2", max_model_len=2048)
    stats = GenerationStats()
    pieces = collect(gen, GenerationParams(max_tokens=12), stats)
    assert len(pieces) > 1 and "".join(pieces).strip()  # streamed in several deltas, not one block
    assert stats.finish_reason in ("length", "stop")
    assert 0 < len("".join(pieces).split()) <= 12
