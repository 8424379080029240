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
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

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


async def in_thread(make: Callable[[], AsyncIterator]) -> AsyncIterator:
    """Iterate an async generator that does blocking work, on a thread with its own loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    done = object()

    def run() -> None:
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
            asyncio.run(consume())
        finally:
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
