"""The progress-callback shape eval's long loops report through: (stage, done, total).

The same shape as ``app.progress`` (the CLI hands both a rich progress bar);
declared here because ``eval`` may not import ``app``.
"""

from __future__ import annotations

from typing import Callable

Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """Report nowhere."""
