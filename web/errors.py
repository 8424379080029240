"""One error page (HTML) or body (JSON) per status, for every error the app means to show.

``app.errors.status_and_code`` maps each exception to its status; pages get
``error.html``, htmx fragments a small alert they can swap in, API clients
``{"error": {"code", "message"}}``. A request without a session is sent to
the login page (a full page) or told to go there (htmx ``HX-Redirect``).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import EXPECTED, status_and_code
from web.deps import LoginRequired

log = logging.getLogger("inhouse.web")
TITLES = {400: "That did not work", 401: "Please log in", 403: "Not allowed", 404: "Not found",
          405: "Not allowed", 409: "Conflict", 413: "Too large", 422: "That did not work",
          429: "Too many requests", 500: "Something went wrong", 503: "Unavailable"}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith(("/api/", "/v1/")) or (
        "application/json" in accept and "text/html" not in accept)


def respond(request: Request, status: int, code: str, message: str) -> Response:
    if request.url.path.startswith("/v1/"):  # the OpenAI-compatible routes answer in OpenAI's error shape
        from web.api.openai_shapes import openai_error

        status, body = openai_error(status, code, message)
        return JSONResponse(body, status_code=status, headers=_bearer_challenge(status))
    if wants_json(request):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                            headers=_bearer_challenge(status) if request.url.path.startswith("/api/") else None)
    if request.headers.get("HX-Request") == "true":
        return HTMLResponse(f'<p class="error" role="alert" data-state="error">{escape(message)}</p>',
                            status_code=status, headers={"HX-Reswap": "beforeend"})
    templates = request.app.state.templates
    user = getattr(request.state, "user", None)
    return templates.TemplateResponse(
        request, "error.html",
        {"user": user, "status": status, "title": TITLES.get(status, "Error"), "message": message},
        status_code=status,
    )


def _bearer_challenge(status: int) -> dict[str, str] | None:
    return {"WWW-Authenticate": 'Bearer realm="inhouse"'} if status == 401 else None


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if wants_json(request):
            return respond(request, 401, exc.code, str(exc))
        target = "/login?next=" + quote(request.url.path)
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    for kind in EXPECTED:
        @app.exception_handler(kind)
        async def expected(request: Request, exc: Exception) -> Response:
            status, code = status_and_code(exc)
            return respond(request, status, code, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "There is nothing here." if exc.status_code == 404 else str(exc.detail)
        return respond(request, exc.status_code, "not_found" if exc.status_code == 404 else "http_error", message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", [])[1:])
        return respond(request, 422, "invalid", f"{where}: {first.get('msg', 'invalid input')}")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return respond(request, 500, "internal", "Something went wrong on our side. It has been logged.")
