"""The data directory is the process owner's alone: 0700, and every file in it 0600.

It holds the database, the originals, their clean texts and the index: any
local account that can read it reads every document, whatever the ACL says
(issue 15, W8). A umask of 0o077, set before anything is created, is the one
setting that covers every writer at once (SQLite and its WAL, ``files/``,
``text/``, Qdrant Edge's segments, eval caches), including native code that
never asks Python for a mode. A data directory others can already read or
enter is refused, with the command that fixes it, rather than used as is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from app.errors import Forbidden

PRIVATE_UMASK = 0o077


class DataDirNotPrivate(Forbidden):
    """The data directory is open to other accounts of this machine."""

    code = "data_dir_not_private"


def private_umask() -> None:
    """From now on this process creates directories 0700 and files 0600."""
    os.umask(PRIVATE_UMASK)


def open_data_dir(path: Path) -> None:
    """Create the data directory 0700, or refuse one that group or others may read or enter."""
    private_umask()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise DataDirNotPrivate(
            f"the data directory {path} is open to other accounts on this machine (mode {mode:04o}): "
            f"anyone who can read it reads every document, whatever its access. "
            f"Make it private, then start again: chmod -R go-rwx {path}"
        )
