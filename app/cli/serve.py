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

    settings = Settings()
    with services_ctx() as services:  # refuses a data directory others can read (app/private_files.py)
        try:
            services.check_index()  # and an index another database built (app/installation.py)
        except EXPECTED as exc:
            fail(f"cannot start: {exc}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
