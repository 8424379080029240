"""The web application factory. The full UI comes with the web issue; today it
serves a status page and /healthz on top of the same services as the CLI."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from app.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    from app.ingestion import IngestService
    from app.services import build_services

    settings = settings or Settings()
    state: dict = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        services = build_services(settings)
        IngestService(services).resume()  # finish what a crash left behind
        from ingest.pipeline import warm_up

        warm_up(settings.preparation(), services.encoder)  # the parsers' imports, before /healthz says ok
        state["services"] = services
        state["ready"] = True
        yield
        services.close()

    app = FastAPI(title="inhouse", lifespan=lifespan)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok" if state.get("ready") else "starting"}

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        from app.documents import list_documents

        services = state["services"]
        with services.session() as session:
            docs = list_documents(session)
            ready = sum(1 for d in docs if d.status == "ready")
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>inhouse</title></head><body>"
            "<h1>inhouse</h1><p>Question answering over your own documents.</p>"
            f"<p>{ready} of {len(docs)} documents indexed. The browser UI arrives with the web issue; "
            "until then use the <code>inhouse</code> command line (<code>inhouse search</code>).</p>"
            "</body></html>"
        )

    return app
