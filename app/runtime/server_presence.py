"""``<data_dir>/server.json``: how the command line finds the server that owns this data directory's index.

Only one process may open the index (``retrieval.lock``). While ``inhouse
serve`` runs, it writes its address, its pid and a random operator secret
here (mode 0600, in the 0700 data directory), and the CLI sends the commands
that need the index to it (``web/routes/operator.py``) with that secret. A
reader of the file can already read the database, so the secret gives it
nothing more; nobody else — a browser session included — can call those
routes. The file goes when the server stops; one left by a killed server is
ignored, because its pid no longer holds the index.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.lock import read_holder

FILE = "server.json"
SECRET_HEADER = "X-Inhouse-Operator"


@dataclass(frozen=True)
class ServerPresence:
    url: str  # http://host:port the CLI calls
    pid: int
    secret: str


def presence_file(data_dir: Path) -> Path:
    return data_dir / FILE


def announce(data_dir: Path, url: str) -> ServerPresence:
    """Write this process's presence (atomically, 0600) and return it."""
    presence = ServerPresence(url=url, pid=os.getpid(), secret=secrets.token_urlsafe(32))
    tmp = presence_file(data_dir).with_suffix(f".{os.getpid()}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(asdict(presence), fh)
    tmp.replace(presence_file(data_dir))
    return presence


def withdraw(data_dir: Path, presence: ServerPresence) -> None:
    """Remove the file if it is still this server's (a later server may have replaced it)."""
    if read_presence(data_dir) == presence:
        presence_file(data_dir).unlink(missing_ok=True)


def read_presence(data_dir: Path) -> ServerPresence | None:
    try:
        return ServerPresence(**json.loads(presence_file(data_dir).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def running_server(data_dir: Path, index_folder: Path | None) -> ServerPresence | None:
    """The server that owns this data directory's index now, or None.

    ``index_folder`` is the main collection's folder (None for a Qdrant server by URL, where
    any number of processes may write): the presence counts only while its pid holds that lock.
    """
    presence = read_presence(data_dir)
    if presence is None or not _alive(presence.pid):
        return None
    if index_folder is not None and read_holder(index_folder).get("pid") != presence.pid:
        return None
    return presence


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
