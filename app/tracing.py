"""One small tracer for the answer flow: named spans in milliseconds.

It replaces hand-made ``perf_counter`` pairs: each stage is a ``span``, the
first token a ``mark``, and ``timings_ms`` is what is stored with the answer
today; a metrics exporter can read the same spans later.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class Tracer:
    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.timings_ms: dict[str, float] = {}

    @contextmanager
    def span(self, name: str) -> Iterator["Tracer"]:
        started = time.perf_counter()
        try:
            yield self
        finally:
            self.timings_ms[name] = _ms(started)

    def mark(self, name: str, since: float) -> None:
        """A moment measured from ``since`` (a ``perf_counter`` reading), e.g. the first token."""
        self.timings_ms[name] = _ms(since)

    def finish(self) -> dict[str, float]:
        self.timings_ms["total"] = _ms(self._start)
        return self.timings_ms


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
