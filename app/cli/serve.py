"""`inhouse serve`: the web app and /healthz, in this process."""

from __future__ import annotations

from app.settings import Settings


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the web app (and /healthz) after finishing unfinished ingestion jobs."""
    import uvicorn

    from web.app import create_app

    uvicorn.run(create_app(Settings()), host=host, port=port, log_level="info")
