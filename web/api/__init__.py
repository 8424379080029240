"""The HTTP API for other applications: ``/api/v1/…`` and the OpenAI-compatible ``/v1/…``.

Every route acts as the owner of a bearer token (``web.api.deps``) and calls
the same use cases as the pages and the CLI. ``install`` adds the routers and
serves their OpenAPI schema at ``/api/v1/openapi.json``: only these routes,
never the HTML pages (the app itself has ``openapi_url=None``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from web.api import ask, conversations, documents, openai, search

ROUTERS = (ask.router, search.router, documents.router, conversations.router, openai.router)
SCHEMA_PATH = "/api/v1/openapi.json"


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    cached: dict = {}

    @app.get(SCHEMA_PATH, include_in_schema=False)
    def openapi_schema() -> JSONResponse:
        if not cached:
            routes = [route for router in ROUTERS for route in router.routes]
            cached.update(get_openapi(
                title="inhouse API", version="1",
                description="Answers, search and documents for other applications. Authenticate with "
                            "'Authorization: Bearer <token>' (inhouse tokens create).",
                routes=routes))
        return JSONResponse(cached)
