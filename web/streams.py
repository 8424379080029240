"""Questions waiting for their stream, and the server-sent-event wire format.

The browser POSTs a question and gets back a fragment that opens
``GET /ask/stream/<ticket>``. The ticket is random, belongs to the user who
asked, and can be redeemed once: a reconnecting EventSource (or anyone else)
gets 204, which tells the browser to stop, so an answer is never generated
or replayed twice. Tickets not redeemed within a few minutes are dropped.

The answer itself runs in a worker thread with its own event loop: search,
the cross-encoder and a CPU generator are blocking work, and the server's loop
must keep serving other users meanwhile. When the browser goes away the
stream is closed, which closes the answer generator, which stops the model.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Iterator

from retrieval.schema import IndexFilter

TICKET_TTL_S = 300


@dataclass(frozen=True)
class PendingQuestion:
    user_id: int
    question: str
    conversation_id: int
    where: IndexFilter | None
    groups: tuple[str, ...]  # narrow the reader's groups to these (empty: all of them)
    created: float = field(default_factory=time.monotonic)


class PendingQuestions:
    def __init__(self) -> None:
        self._items: dict[str, PendingQuestion] = {}
        self._lock = threading.Lock()

    def add(self, pending: PendingQuestion) -> str:
        ticket = secrets.token_urlsafe(18)
        with self._lock:
            now = time.monotonic()
            for key in [k for k, v in self._items.items() if now - v.created > TICKET_TTL_S]:
                del self._items[key]
            self._items[ticket] = pending
        return ticket

    def redeem(self, ticket: str, user_id: int) -> PendingQuestion | None:
        """The question, once, for the user who asked it; None otherwise."""
        with self._lock:
            pending = self._items.get(ticket)
            if pending is None or pending.user_id != user_id:
                return None
            del self._items[ticket]
        return pending if time.monotonic() - pending.created <= TICKET_TTL_S else None


def sse(event: str, data: str) -> str:
    """One event; each line of data gets its own ``data:`` field (the browser joins them with newlines)."""
    lines = data.split("\n") if data else [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


class AnswerSlots:
    """At most ``limit`` answers are worked on at once; the others wait their turn.

    On a CPU every answer wants every core: eight answered at once each take about
    eight times as long, so all eight readers wait for the slowest (bench/web.py:
    +5.7 s time to first token at eight users). Taken in turn, the first are done
    sooner and the rest see that they are queued. A thread semaphore, because the
    answers run on threads (streams) or inside ``asyncio.to_thread`` (blocking calls).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)

    def try_take(self) -> bool:
        return self._free.acquire(blocking=False)

    def take(self) -> None:
        self._free.acquire()

    def give(self) -> None:
        self._free.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        self.take()
        try:
            yield
        finally:
            self.give()


def answer_slots(settings) -> AnswerSlots:
    """``web_answer_slots``, or one per core for a CPU generator, 32 for vLLM or a remote server."""
    if settings.web_answer_slots:
        return AnswerSlots(settings.web_answer_slots)
    from inference.factory import choose_backend

    try:
        remote = choose_backend(settings) in ("vllm", "openai")
    except Exception:  # no usable generator: extractive answers, on this CPU
        remote = False
    return AnswerSlots(32 if remote else max(1, os.cpu_count() or 1))


async def in_thread(make: Callable[[], AsyncIterator], slots: AnswerSlots | None = None,
                    queued: object = None) -> AsyncIterator:
    """Iterate an async generator that does blocking work, on a thread with its own loop.

    With ``slots``, the work waits for a free slot first; ``queued`` is yielded once if
    it has to wait, so the reader is told why nothing happens yet."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    done = object()

    def run() -> None:
        if slots is not None and not slots.try_take():
            if queued is not None:
                loop.call_soon_threadsafe(queue.put_nowait, ("item", queued))
            slots.take()
        async def consume() -> None:
            agen = make()
            try:
                async for item in agen:
                    loop.call_soon_threadsafe(queue.put_nowait, ("item", item))
                    if stop.is_set():
                        break
            except BaseException as exc:  # handed to the caller, who decides what the user sees
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            finally:
                await agen.aclose()

        try:
            if not stop.is_set():  # the reader may have left while queued
                asyncio.run(consume())
        finally:
            if slots is not None:
                slots.give()
            loop.call_soon_threadsafe(queue.put_nowait, ("done", done))

    thread = threading.Thread(target=run, name="answer", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = await queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
