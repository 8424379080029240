"""`inhouse serve`: the web app and /healthz, in this process."""

from __future__ import annotations

from app.settings import Settings


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the web app (and /healthz) after finishing unfinished ingestion jobs."""
    import uvicorn

    from app.cli._common import services_ctx
    from app.cli._output import fail
    from app.errors import EXPECTED
    from web.app import create_app

    from app.cli._owner import claim_index

    settings = Settings()
    with services_ctx() as services:  # refuses a data directory others can read (app/runtime/private_files.py)
        try:  # and an index another database built (app/runtime/installation.py); waits for a CLI holding it
            if (server := claim_index(services)) is not None:
                fail(f"cannot start: the server at {server.url} (pid {server.pid}) already serves this data directory")
        except EXPECTED as exc:
            fail(f"cannot start: {exc}")
    local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    address = f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"
    # with trusted headers the peer must be the socket's: X-Forwarded-For must not rewrite who the proxy is
    uvicorn.run(create_app(settings, announce_at=address), host=host, port=port, log_level="info",
                proxy_headers=settings.trusted_headers == "off")
