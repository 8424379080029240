"""An answer started before anyone reads it: its events wait, arrive in order, once, and
stop when the reader leaves (web/streams.py ``Relay``)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from web.streams import AnswerSlots, Relay


def collect(relay: Relay, limit: int | None = None) -> list:
    async def read() -> list:
        got = []
        async for item in relay.events():
            got.append(item)
            if limit is not None and len(got) >= limit:
                break
        return got
    return asyncio.run(read())


def test_events_produced_before_the_reader_arrives_are_kept_in_order():
    finished = threading.Event()

    async def work():
        for i in range(5):
            yield i
        finished.set()

    relay = Relay(work).start()
    assert finished.wait(10)  # all the work is done before anyone reads
    assert collect(relay) == [0, 1, 2, 3, 4]


def test_a_relay_has_one_reader():
    async def work():
        yield "only"

    relay = Relay(work).start()
    assert collect(relay) == ["only"]
    with pytest.raises(RuntimeError):
        collect(relay)


def test_an_error_in_the_work_reaches_the_reader_after_what_came_before():
    async def work():
        yield "searching"
        raise ValueError("the index is gone")

    relay = Relay(work).start()
    got = []

    async def read():
        async for item in relay.events():
            got.append(item)

    with pytest.raises(ValueError, match="index is gone"):
        asyncio.run(read())
    assert got == ["searching"]


def test_a_reader_that_leaves_stops_the_work():
    closed = threading.Event()

    async def work():
        try:
            for i in range(10_000):
                yield i
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    relay = Relay(work).start()
    assert collect(relay, limit=3) == [0, 1, 2]
    assert closed.wait(10)  # the generator was closed, which is what stops a model


def test_work_waiting_for_a_slot_says_queued_and_never_starts_if_stopped():
    slots = AnswerSlots(1)
    slots.take()
    started = threading.Event()

    async def work():
        started.set()
        yield "answer"

    relay = Relay(work, slots, queued="queued").start()
    assert collect(relay, limit=1) == ["queued"]  # the reader leaves while it waits
    slots.give()
    time.sleep(0.5)
    assert not started.is_set()
    assert slots.try_take()  # the slot was handed back
    slots.give()
