"""One opener per index folder: an inter-process lock held for as long as the index is open.

Qdrant Edge allows one open shard per directory, and since shards are made
without a write-ahead log (issue 15, W2) the engine no longer refuses a second
opener itself: two of them would both write the same segments. So every
``EdgeIndex`` (and qdrant-client's local mode) holds an exclusive ``flock`` on
a lock file next to its folder. A second opener, in another process or this
one (flock locks belong to an open file, not a process), gets ``IndexBusyError``
naming the holder; the operating system releases the lock when the holder
closes it or dies, however it dies.

The lock file sits beside the folder, not inside it: dropping a collection
(``reindex``) or swapping in a rewritten shard (``compact``) replaces the
folder, and a lock file deleted while held would let the next opener lock a
fresh file of the same name.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from retrieval.index import IndexError_

# What this process says it is, for the message a second opener reads (``inhouse serve``,
# ``inhouse ingest``…); the CLI sets it per command. Never arguments: they may name private paths.
HOLDER = {"what": Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"}


class IndexBusyError(IndexError_):
    """Another opener holds this index; ``holder`` is what it wrote into the lock file (pid, what)."""

    def __init__(self, path: Path, holder: dict) -> None:
        self.path, self.holder = path, holder
        who = f"{holder.get('what', 'another process')} (pid {holder['pid']})" if "pid" in holder else "another process"
        super().__init__(
            f"the index at {path} is in use by {who}; only one process may open it at a time. "
            "Wait for it to finish, or stop it."
        )


def lock_path(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.lock")


def read_holder(folder: Path) -> dict:
    """What the holder of ``folder``'s lock wrote (pid, what), or {} when unknown."""
    try:
        return json.loads(lock_path(folder).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


class IndexLock:
    """An exclusive flock on ``<folder>.lock``, taken at construction; ``release()`` (or death) frees it.

    ``wait_s`` > 0 keeps trying that long before giving up with ``IndexBusyError``.
    """

    def __init__(self, folder: Path, wait_s: float = 0.0) -> None:
        self.folder = folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path(folder), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait_s
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexBusyError(folder, read_holder(folder)) from None
                    time.sleep(0.2)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), **HOLDER}).encode(), 0)
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)  # the holder's description goes with the lock
            os.close(fd)  # closing the only descriptor releases the flock
