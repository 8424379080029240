"""Free space under the index, checked before writing: a full disk refuses a write, it never kills the process.

Qdrant Edge maps its files into memory and fills their pages as it works. A page
the disk cannot back is not an error it can return: the process dies with
SIGBUS. (With a little more room, a flush raises a plain ``Exception``.) So the
index is opened, created and written only when the disk has room for what its
files may still take, plus the batch, plus a margin; otherwise it is refused
with a message the owner can act on, and nothing is written.

Measured on a tmpfs with Edge 0.9 (``tests/ingest/test_disk_full.py`` runs on a
real one): a new collection's files are 229 MiB apparent and 21 MiB allocated;
the first time the shard is loaded again it fills them to 130 MiB; a point with
1 KB of text, a 384-dimension vector and 40 BM25 terms then takes about 5.3 KB,
1.8 times its raw size. "What the files may still take" is their apparent size
less what is allocated, read from the files themselves before every write.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from retrieval.index import IndexError_

MIB = 1 << 20
CREATE_BYTES = 256 * MIB  # a new collection's files, filled: 229 MiB apparent
KEEP_FREE_BYTES = 16 * MIB  # never planned for: room for the pages a delete, a flush or a log touches
RAW_TO_DISK = 4  # a point takes 1.8 times its raw size on disk; twice that for safety


class DiskFull(IndexError_):
    """There is not room enough on the disk to go on safely; nothing was written."""


def free_bytes(folder: Path) -> int:
    """Free bytes on the file system that holds ``folder`` (or would hold it: the nearest existing parent)."""
    return shutil.disk_usage(_existing(folder)).free


def unbacked_bytes(folder: Path) -> int:
    """What the files under ``folder`` may still take on disk: apparent size less the blocks allocated."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except FileNotFoundError:  # the engine replaced it meanwhile
                continue
            total += max(0, st.st_size - st.st_blocks * 512)
    return total


def same_disk(a: Path, b: Path) -> bool:
    return os.stat(_existing(a)).st_dev == os.stat(_existing(b)).st_dev


def require_free(folder: Path, needed: int, what: str, then: str = "ingest the file again") -> None:
    """Raise ``DiskFull`` unless ``needed`` bytes, plus the margin kept free, fit on ``folder``'s disk."""
    free = free_bytes(folder)
    wanted = needed + KEEP_FREE_BYTES
    if free < wanted:
        raise DiskFull(
            f"the disk holding {folder} is full: {free / MIB:.1f} MiB free, and {what} needs about "
            f"{wanted / MIB:.1f} MiB (the index's files and a {KEEP_FREE_BYTES // MIB} MiB margin, kept so it "
            f"never runs out mid-write). Nothing was written: free some space and {then}"
        )


def _existing(folder: Path) -> Path:
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
