"""`inhouse worker`: the ingestion worker loop as a process of its own, for a big site.

It shares the SQL queue with every other worker (``app.library.job_queue``).
Only one process may open a Qdrant Edge index (``retrieval.lock``), so while
``inhouse serve`` owns an Edge index its own worker thread runs the queue and
this command refuses, naming the fix. Several workers need the Qdrant server
backend (``index_backend = "server"``): then run the server with
``web_worker = false`` and as many ``inhouse worker`` processes as the
encoders keep busy. Without a server, a worker on an Edge index simply holds
it while it runs.
"""

from __future__ import annotations

import signal

import typer

from app.cli._common import JsonOpt, cli_errors, services_ctx
from app.cli._output import emit_json, err, fail


def worker(
    once: bool = typer.Option(False, "--once", help="run the queued jobs, then exit (instead of waiting for more)"),
    poll_s: float = typer.Option(2.0, "--poll", help="seconds between looks at the queue when idle"),
    as_json: bool = JsonOpt,
) -> None:
    """Run queued ingestion jobs until stopped (SIGTERM or Ctrl-C end it after the current round)."""
    from app.cli._owner import claim_index
    from app.library.job_worker import JobWorker

    with services_ctx() as services, cli_errors():
        if (server := claim_index(services)) is not None:
            fail(f"the server at {server.url} (pid {server.pid}) owns this data directory's Qdrant Edge index, "
                 "so its own worker runs the queue; separate workers need the Qdrant server backend "
                 "(index_backend = \"server\") and web_worker = false on the server")
        loop = JobWorker(services, poll_s=poll_s)
        err.print(f"worker {loop.worker_id} running the ingestion queue")
        if once:
            results = []
            while batch := loop.run_round():
                results.extend(batch)
            if as_json:
                emit_json({"documents": [r.as_dict() for r in results]})
            else:
                err.print(f"{len(results)} job(s) run")
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: loop.request_stop())
        loop.run_forever()
