"""Who owns the index: this command, or the server that runs on the same data directory.

Only one process may open the index (``retrieval.lock``). A command that needs
it calls ``claim_index`` first: with no server, it opens the index (waiting,
and saying so, while another CLI command finishes with it); while a server
owns it, it gets the server back and either sends its work there
(``ingest``, ``search``, ``ask``) or stops with ``refuse_beside`` naming what
to do. Nobody sees a lock error for the ordinary cases, and the shard is never
opened twice.
"""

from __future__ import annotations

import sys
import time

from app.cli._output import err, fail
from app.runtime.server_presence import ServerPresence, running_server
from app.services import Services, index_folder
from app.settings import Settings
from retrieval.lock import HOLDER, IndexBusyError

SERVE = "inhouse serve"
WAIT_S = 3600.0  # how long a command waits for another command's hold on the index
GROUPS = {"docs", "eval", "jobs", "users", "groups", "tokens", "models"}


def name_this_process(argv: list[str] | None = None) -> None:
    """Write ``inhouse <command>`` (never its arguments) into any lock this process takes."""
    args = (argv if argv is not None else sys.argv)[1:]
    words = args[:2] if args and args[0] in GROUPS else args[:1]
    HOLDER["what"] = " ".join(["inhouse", *[w for w in words if w.isidentifier() or w.replace("-", "").isalnum()]])


def owning_server(settings: Settings) -> ServerPresence | None:
    folder = index_folder(settings)
    return running_server(settings.data_dir, folder) if folder is not None else None


def claim_index(services: Services, bound: bool = True) -> ServerPresence | None:
    """The server that owns the index (the caller goes through it), or None once this process holds it.

    ``bound=False`` (``reindex`` only) holds an index another database built, to drop it."""
    deadline, told = time.monotonic() + WAIT_S, None
    while True:
        server = owning_server(services.settings)
        if server is not None:
            return server
        try:
            services.check_index(bound)
            return None
        except IndexBusyError as exc:
            if time.monotonic() >= deadline:
                raise
            who = exc.holder
            if who != told:
                told = who
                what = who.get("what", "another process")
                if what == SERVE:  # it announces itself in server.json once ready; then we go through it
                    err.print(f"waiting for {SERVE} (pid {who.get('pid')}) to be ready…")
                else:
                    err.print(f"waiting for {what} (pid {who.get('pid', '?')}) to finish with the index…")
            time.sleep(0.5)


def refuse_beside(server: ServerPresence, command: str) -> None:
    fail(f"the server at {server.url} (pid {server.pid}) owns this data directory's index, so `{command}` "
         "cannot run beside it: stop the server (or use the web UI), then run it again")
