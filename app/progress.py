"""The one progress-callback shape long work reports through (ingestion, eval, tuning).

The CLI passes a rich progress bar, the web layer will pass a job-status writer,
and tests and library callers pass nothing and get ``no_progress``.
"""

from __future__ import annotations

from typing import Callable

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def no_progress(stage: str, done: int, total: int) -> None:
    """Report nowhere."""
