"""The CPU generator as the app uses it: llama.cpp in a child process that may crash.

llama.cpp is native code built on the installing machine; a bug in one of its
CPU kernels has been seen to segfault every generation (AVX-512/AMX build,
2026-12-03). In-process, that kills the web server, an ingestion job running
beside it and the CLI. Here the model lives in a child process
(``inference.llamacpp_worker``); when the child dies, the answer in progress
ends with ``GeneratorCrashedError``, the crash is logged with its signal, and
the next request starts a fresh child. Nothing native is loaded in this
process: rendering the chat template and counting tokens are calls to the child
too (a pipe round trip is ~0.1 ms).

Behaviour otherwise matches ``LlamaCppGenerator`` (the in-process class the
child runs): streaming, one generation at a time, a consumer that leaves stops
the model after the current token.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import AsyncIterator, Callable

from inference import llamacpp_worker
from inference.types import (
    ChatMessage,
    GenerationParams,
    GenerationStats,
    GeneratorConfigError,
    GeneratorCrashedError,
    GeneratorError,
    GeneratorUnavailableError,
    PromptTooLongError,
)

log = logging.getLogger(__name__)

# See inference/llamacpp.py: llama.cpp's OpenMP threads must not spin. The child inherits it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ERRORS: dict[str, type[GeneratorError]] = {
    cls.__name__: cls for cls in (PromptTooLongError, GeneratorConfigError, GeneratorUnavailableError)
}
STOP_GRACE_S = 30.0  # a child that ignores "stop" this long is killed (and restarted on the next request)


@dataclass(frozen=True)
class LlamaCppSpec:
    model_path: Path
    n_ctx: int = 2048
    n_threads: int | None = None
    seed: int = 0
    start_timeout_s: float = 180.0


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def crash_message(cause: str) -> str:
    return (
        f"the language model crashed ({cause}); the answer was not generated. The next question "
        "restarts it; if it keeps crashing, run `inhouse doctor`."
    )


def _remote_error(kind: str, message: str) -> GeneratorError:
    return ERRORS.get(kind, GeneratorError)(message if kind in ERRORS else f"{kind}: {message}")


class _Child:
    """One child process, its pipe and the thread that reads the pipe."""

    def __init__(self, spec: LlamaCppSpec) -> None:
        # A fresh interpreter (not fork: never fork a process that holds threads and sockets; not
        # multiprocessing's spawn: it re-imports the caller's main module) with one end of a socket pair.
        parent_end, child_end = socket.socketpair()
        package_root = str(Path(llamacpp_worker.__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        with child_end:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inference.llamacpp_worker", str(child_end.fileno())],
                pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL, env=env,
            )
        self.conn = Connection(parent_end.detach())  # the child's death reads as end-of-file here
        self.alive = True
        self._lock = threading.Lock()
        self._handlers: dict[int, Callable[[tuple], None]] = {}
        self.conn.send(("load", str(spec.model_path), spec.n_ctx, spec.n_threads, spec.seed))
        self.info = self._handshake(spec)
        self._reader = threading.Thread(target=self._read, name="llamacpp-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def _handshake(self, spec: LlamaCppSpec) -> dict:
        try:
            if not self.conn.poll(spec.start_timeout_s):
                self.kill()
                raise GeneratorUnavailableError(
                    f"the llama.cpp generator did not load {spec.model_path.name} in {spec.start_timeout_s:.0f} s"
                )
            message = self.conn.recv()
        except (EOFError, OSError):
            self._wait(10)
            self.alive = False
            raise GeneratorCrashedError(
                f"the language model crashed while loading {spec.model_path.name} "
                f"({describe_exit(self.process.returncode)}); run `inhouse doctor`"
            ) from None
        if message[0] == "init_error":
            self._wait(10)
            self.alive = False
            raise _remote_error(message[1], message[2])
        return message[1]

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            handler = self._handlers.get(message[1])
            if handler is not None:
                handler(message)
        self._wait(10)
        cause = describe_exit(self.process.returncode)
        with self._lock:
            self.alive = False
            orphans = list(self._handlers.items())
            self._handlers.clear()
        if orphans or self.process.returncode not in (0, None):
            log.error("llama.cpp generator process %s ended: %s; %d request(s) failed",
                      self.pid, cause, len(orphans))
        for rid, handler in orphans:
            handler(("crashed", rid, cause))

    def send(self, message: tuple, handler: Callable[[tuple], None] | None = None) -> None:
        with self._lock:
            if not self.alive:
                raise GeneratorCrashedError(crash_message(describe_exit(self.process.returncode)))
            if handler is not None:
                self._handlers[message[1]] = handler
            try:
                self.conn.send(message)
            except (BrokenPipeError, OSError):
                self._handlers.pop(message[1], None)
                raise GeneratorCrashedError(crash_message("its pipe is closed")) from None

    def forget(self, rid: int) -> None:
        with self._lock:
            self._handlers.pop(rid, None)

    def call(self, rid: int, op: str, *args, timeout_s: float = 60.0):
        """A request with one answer (render, tokenize), waited for on this thread."""
        box: list[tuple] = []
        arrived = threading.Event()

        def receive(message: tuple) -> None:
            box.append(message)
            arrived.set()

        self.send((op, rid, *args), receive)
        try:
            if not arrived.wait(timeout_s):
                raise GeneratorError(f"the llama.cpp generator did not answer {op!r} in {timeout_s:.0f} s")
        finally:
            self.forget(rid)
        message = box[0]
        if message[0] == "result":
            return message[2]
        if message[0] == "crashed":
            raise GeneratorCrashedError(crash_message(message[2]))
        raise _remote_error(message[2], message[3])

    def _wait(self, timeout_s: float) -> None:
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def close(self) -> None:
        try:
            with self._lock:
                if self.alive:
                    self.conn.send(("close",))
        except OSError:
            pass
        self._wait(10)
        self.conn.close()


class IsolatedLlamaCppGenerator:
    """The ``llamacpp`` backend: a ``Generator`` whose model runs in a restartable child process."""

    backend = "llamacpp"

    def __init__(
        self, model_path: Path, n_ctx: int = 2048, n_threads: int | None = None, seed: int = 0,
        start_timeout_s: float = 180.0,
    ) -> None:
        if not model_path.is_file():
            raise GeneratorUnavailableError(
                f"GGUF model not found at {model_path}; run `inhouse models fetch` or set INHOUSE_GENERATOR_MODEL"
            )
        if n_ctx < 256:
            raise GeneratorConfigError(f"max_model_len {n_ctx} is too small to hold a prompt and an answer")
        self._spec = LlamaCppSpec(model_path, n_ctx, n_threads, seed, start_timeout_s)
        self._ids = itertools.count(1)
        self._restart = threading.Lock()
        self._child = _Child(self._spec)
        self.model_id: str = self._child.info["model_id"]
        self.max_model_len: int = self._child.info["max_model_len"]
        self.restarts = 0
        self._locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def worker_pid(self) -> int | None:
        """The child's process id (tests kill it; operators see it in `ps`)."""
        return self._child.pid

    def _live_child(self) -> _Child:
        with self._restart:
            if not self._child.alive:
                log.warning("starting a new llama.cpp generator process after: %s",
                            describe_exit(self._child.process.returncode))
                self._child = _Child(self._spec)
                self.restarts += 1
            return self._child

    def _call(self, op: str, *args):
        try:
            return self._live_child().call(next(self._ids), op, *args)
        except GeneratorCrashedError:  # render/tokenize are safe to repeat once on a fresh child
            return self._live_child().call(next(self._ids), op, *args)

    # ---- the interface ---------------------------------------------------
    def render(self, messages: list[ChatMessage]) -> str:
        return self._call("render", [dict(m) for m in messages])

    def count_tokens(self, text: str) -> int:
        return len(self._call("tokenize", text, False))

    async def generate(
        self, messages: list[ChatMessage], params: GenerationParams, stats: GenerationStats | None = None
    ) -> AsyncIterator[str]:
        stats = stats if stats is not None else GenerationStats()
        prompt = self._call("tokenize", self.render(messages), True)
        if len(prompt) + params.max_tokens > self.max_model_len:
            raise PromptTooLongError(
                f"prompt of {len(prompt)} tokens + {params.max_tokens} answer tokens exceeds "
                f"max_model_len {self.max_model_len}"
            )
        stats.prompt_tokens = len(prompt)
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:  # one llama.cpp context: one sequence at a time
            child = await loop.run_in_executor(None, self._live_child)  # a restart loads the model
            rid = next(self._ids)
            events: asyncio.Queue = asyncio.Queue()
            child.send(("generate", rid, prompt, llamacpp_worker.params_payload(params)),
                       lambda message: loop.call_soon_threadsafe(events.put_nowait, message))
            finished = False

            def settle(message: tuple) -> None:
                nonlocal finished
                kind = message[0]
                if kind == "finish":
                    stats.finish_reason = message[2]
                elif kind == "done":
                    finished = True
                    stats.completion_tokens = message[2]
                    stats.extra["engine_tokens"] = message[3]  # counted where the model runs
                    stats.extra["engine_context_tokens"] = message[4]
                elif kind == "error":
                    finished = True
                    raise _remote_error(message[2], message[3])
                elif kind == "crashed":
                    finished = True
                    raise GeneratorCrashedError(crash_message(message[2]))

            try:
                while not finished:
                    message = await events.get()
                    if message[0] == "text":
                        yield message[2]
                    else:
                        settle(message)
            finally:
                if not finished:  # the consumer left: stop the model, wait until it has stopped
                    try:
                        child.send(("stop", rid))

                        async def drain() -> None:
                            while not finished:
                                message = await events.get()
                                if message[0] != "text":
                                    try:
                                        settle(message)
                                    except GeneratorError:
                                        pass

                        await asyncio.shield(asyncio.wait_for(drain(), STOP_GRACE_S))
                    except GeneratorCrashedError:
                        pass
                    except asyncio.TimeoutError:
                        log.error("the llama.cpp generator ignored a stop for %.0f s; killing it", STOP_GRACE_S)
                        child.kill()
                child.forget(rid)
                if stats.finish_reason is None:
                    stats.finish_reason = "abort"

    async def aclose(self) -> None:
        self._child.close()
