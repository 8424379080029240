"""The web application: ``create_app(settings)`` reads top to bottom.

Lifespan (services, resumed ingestion, warm parsers) → middleware → error
handlers → routers → static files. Routers are thin: they parse a request,
call the use cases of ``app`` (the same ones the CLI calls) and render a
template. Everything a page shows is read with the signed-in user's access,
fresh from the database on each request.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.services import Services
from app.settings import Settings
from web import api, errors
from web.render import make_templates
from web.routes import admin, ask, auth, documents, feedback, health, sources, tokens
from web.security import LoginThrottle, SecurityHeaders
from web.streams import PendingQuestions

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """The app on these settings; a caller that already holds services (tests) hands them in."""
    settings = settings or (services.settings if services else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from app.answering import AnswerService
        from app.ingestion import IngestService
        from app.services import build_services
        from ingest.pipeline import warm_up

        owned = services is None
        app.state.services = built = services or build_services(settings)
        built.check_index()  # an index another database built stops the start (app/installation.py)
        IngestService(built).resume()  # finish what a crash left behind
        warm_up(settings.preparation(), built.encoder)  # the parsers' imports, before /healthz says ok
        app.state.answers = AnswerService(built)
        app.state.ready = True
        yield
        app.state.ready = False
        if owned:
            built.close()

    app = FastAPI(title="inhouse", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ready = False
    app.state.templates = make_templates()
    app.state.pending = PendingQuestions()
    app.state.login_throttle = LoginThrottle(settings.web_login_attempts, settings.web_login_window_s)

    app.add_middleware(SecurityHeaders)
    errors.install(app)

    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(ask.router)
    app.include_router(sources.router)
    app.include_router(feedback.router)
    app.include_router(documents.router)
    app.include_router(admin.router)
    app.include_router(tokens.router)  # the user's own API tokens
    api.install(app)  # /api/v1 and the OpenAI-compatible /v1, with their schema at /api/v1/openapi.json

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
