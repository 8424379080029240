"""Questions waiting for their stream, and the server-sent-event wire format.

The browser POSTs a question and gets back a fragment that opens
``GET /ask/stream/<ticket>``. The ticket is random, belongs to the user who
asked, and can be redeemed once: a reconnecting EventSource (or anyone else)
gets 204, which tells the browser to stop, so an answer is never generated
or replayed twice. Tickets not redeemed within a few minutes are dropped.

The answer itself starts when the question is posted, in a worker thread with
its own event loop (``Relay``): search, the cross-encoder and a CPU generator
are blocking work, and the server's loop must keep serving other users
meanwhile. When the browser goes away the stream is closed, which closes the
answer generator, which stops the model.
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

from app.errors import TooMany
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
    """Tickets for answers already started, each waiting for its one reader.

    A user may have ``per_user`` answers under way that nobody reads yet: an answer
    starts when its question is posted, so posting without ever reading must not start
    work without end. A finished answer no longer counts (its work is done; its ticket
    waits for the browser until it expires)."""

    def __init__(self, per_user: int = 8) -> None:
        self.per_user = per_user
        self._items: dict[str, tuple[PendingQuestion, Relay]] = {}
        self._lock = threading.Lock()

    def add(self, pending: PendingQuestion, relay: Relay) -> str:
        """A ticket for ``pending`` and its answer (start the relay once this returns);
        raises TooMany when the user has ``per_user`` waiting."""
        ticket = secrets.token_urlsafe(18)
        with self._lock:
            now = time.monotonic()
            for key in [k for k, (p, _) in self._items.items() if now - p.created > TICKET_TTL_S]:
                self._items.pop(key)[1].stop()
            if self._under_way(pending.user_id) >= self.per_user:
                raise TooMany("Answers to your earlier questions are still waiting to be read; "
                              "open them or wait a moment before asking again.")
            self._items[ticket] = (pending, relay)
        return ticket

    def under_way(self, user_id: int) -> int:
        """How many of the user's answers are still being worked on with nobody reading them."""
        with self._lock:
            return self._under_way(user_id)

    def _under_way(self, user_id: int) -> int:
        return sum(p.user_id == user_id and not r.finished for p, r in self._items.values())

    def redeem(self, ticket: str, user_id: int) -> tuple[PendingQuestion, Relay] | None:
        """The question and its started answer, once, for the user who asked; None otherwise."""
        with self._lock:
            entry = self._items.get(ticket)
            if entry is None or entry[0].user_id != user_id:
                return None
            del self._items[ticket]
        pending, relay = entry
        if time.monotonic() - pending.created > TICKET_TTL_S:
            relay.stop()
            return None
        return entry


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


class Relay:
    """An answer worked on a thread of its own, its events kept until one reader takes them.

    The thread has its own event loop because search, the cross-encoder and a CPU
    generator block. The web page starts the relay when the question is POSTed and
    reads it when the browser opens the stream, so that round trip overlaps the
    search instead of coming before it. Events wait in a buffer until the reader
    attaches, then go to the reader's loop as they come. When the reader stops
    (the browser left), the answer generator is closed, which stops the model.

    With ``slots``, the work waits for a free slot first; ``queued`` is sent once if
    it has to wait, so the reader is told why nothing happens yet.
    """

    def __init__(self, make: Callable[[], AsyncIterator], slots: AnswerSlots | None = None,
                 queued: object = None) -> None:
        self._make, self._slots, self._queued = make, slots, queued
        self._lock = threading.Lock()
        self._buffer: list[tuple[str, object]] = []
        self._sink: tuple[asyncio.AbstractEventLoop, asyncio.Queue] | None = None
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="answer", daemon=True)

    def start(self) -> Relay:
        self._thread.start()
        return self

    @property
    def finished(self) -> bool:
        """The work has ended (done, failed or stopped); its events may still be unread."""
        return self._finished.is_set()

    def stop(self) -> None:
        """Stop at the next event (or before starting, if still queued for a slot)."""
        self._stop.set()

    def _put(self, kind: str, item: object) -> None:
        with self._lock:
            if self._sink is None:
                self._buffer.append((kind, item))
                return
            loop, queue = self._sink
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, item))
        except RuntimeError:  # the reader's loop is closed: nobody will read on
            self._stop.set()

    def _run(self) -> None:
        slots = self._slots
        if slots is not None and not slots.try_take():
            if self._queued is not None:
                self._put("item", self._queued)
            slots.take()

        async def consume() -> None:
            agen = self._make()
            try:
                async for item in agen:
                    self._put("item", item)
                    if self._stop.is_set():
                        break
            except BaseException as exc:  # handed to the reader, who decides what the user sees
                self._put("error", exc)
            finally:
                await agen.aclose()

        try:
            if not self._stop.is_set():  # the reader may have left while queued
                asyncio.run(consume())
        finally:
            if slots is not None:
                slots.give()
            self._put("done", None)
            self._finished.set()

    async def events(self) -> AsyncIterator:
        """The events so far and as they come; an error the work raised is raised here."""
        loop, queue = asyncio.get_running_loop(), asyncio.Queue()
        with self._lock:
            if self._sink is not None:
                raise RuntimeError("a relay has one reader")
            for entry in self._buffer:
                queue.put_nowait(entry)
            self._buffer.clear()
            self._sink = (loop, queue)
        try:
            while True:
                kind, item = await queue.get()
                if kind == "done":
                    return
                if kind == "error":
                    raise item
                yield item
        finally:
            self.stop()


async def in_thread(make: Callable[[], AsyncIterator], slots: AnswerSlots | None = None,
                    queued: object = None) -> AsyncIterator:
    """Iterate an async generator that does blocking work, on a thread with its own loop."""
    relay = Relay(make, slots, queued).start()
    try:
        async for item in relay.events():
            yield item
    finally:
        relay.stop()  # closing this generator does not close the inner one at once
