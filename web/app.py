"""The web application: ``create_app(settings)`` reads top to bottom.

Lifespan (services, the index and its lock, resumed ingestion, warm parsers,
the ingestion worker, ``server.json`` for the CLI) → middleware → error
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
from web.routes import (
    admin, ask, auth, documents, evaluation, feedback, health, oidc, operator, review, sources, tokens, usage,
)
from web.security import LoginThrottle, SecurityHeaders
from web.oidc import PendingLogins
from web.streams import PendingQuestions, answer_slots
from web.trusted_headers import SessionIssuer

STATIC_DIR = Path(__file__).parent / "static"
SERVER_INDEX_WAIT_S = 3600.0  # how long a start waits for a CLI command that holds the index


def create_app(settings: Settings | None = None, *, services: Services | None = None,
               announce_at: str | None = None) -> FastAPI:
    """The app on these settings; a caller that already holds services (tests) hands them in.

    ``announce_at`` (``inhouse serve``: its own address) writes ``<data_dir>/server.json`` once
    ready, so the CLI sends the commands that need the index here (``app.runtime.server_presence``).
    """
    settings = settings or (services.settings if services else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from app.answering.service import AnswerService
        from app.library.ingestion import IngestService
        from app.library.job_worker import JobWorker
        from app.runtime.server_presence import announce, withdraw
        from app.services import build_services
        from ingest.pipeline import warm_up

        owned = services is None
        app.state.services = built = services or build_services(settings)
        built.index_wait_s = SERVER_INDEX_WAIT_S  # a CLI command still holding the index finishes first
        built.check_index()  # the lock (one opener), and an index another database built stops the start
        if settings.web_worker:  # off where `inhouse worker` processes run the queue (app/cli/worker.py)
            IngestService(built).resume()  # finish what a crash left behind
        warm_up(settings.preparation(), built.encoder)  # the parsers' imports, before /healthz says ok
        app.state.answers = AnswerService(built)
        app.state.jobs = JobWorker(built)  # runs every job queued in SQL: uploads, `inhouse ingest`
        if settings.web_worker:
            app.state.jobs.start()
        presence = announce(settings.data_dir, announce_at) if announce_at else None
        app.state.operator_secret = presence.secret if presence else None
        app.state.ready = True
        yield
        app.state.ready = False
        if presence:
            withdraw(settings.data_dir, presence)
        app.state.jobs.stop()
        if owned:
            built.close()

    app = FastAPI(title="inhouse", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ready = False
    app.state.templates = make_templates()
    app.state.pending = PendingQuestions()
    app.state.answer_slots = answer_slots(settings)
    app.state.login_throttle = LoginThrottle(settings.web_login_attempts, settings.web_login_window_s)
    app.state.oidc_pending = PendingLogins()

    app.add_middleware(SessionIssuer)  # the cookie of a session made for a gateway's identity headers
    app.add_middleware(SecurityHeaders)
    errors.install(app)

    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(oidc.router)  # OpenID Connect sign-in, when oidc_issuer is set
    app.include_router(ask.router)
    app.include_router(sources.router)
    app.include_router(feedback.router)
    app.include_router(documents.router)
    app.include_router(operator.router)  # the CLI's commands that need the index, with server.json's secret
    app.include_router(admin.router)
    app.include_router(usage.router)  # the usage dashboard (administrators)
    app.include_router(review.router)  # the review queue (content owners and administrators)
    app.include_router(tokens.router)  # the user's own API tokens
    app.include_router(evaluation.router)  # runs, compare, the gate (evaluators and administrators)
    api.install(app)  # /api/v1 and the OpenAI-compatible /v1, with their schema at /api/v1/openapi.json

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
