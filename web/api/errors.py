"""The error responses the API documents: every refusal the app can give, in the body it really sends.

``web.errors.respond`` writes them: ``{"error": {"code", "message"}}`` under
``/api/v1`` (a request that fails validation too, as 422, not FastAPI's
``detail`` list), and OpenAI's ``{"error": {"message", "type", "param",
"code"}}`` under ``/v1`` (where a validation error is OpenAI's 400). Each
router declares these, so the schema names every status a client may get.
"""

from __future__ import annotations

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str


class ApiError(BaseModel):
    error: ErrorDetail


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


REFUSALS = {400: "the request is invalid", 401: "no valid API token (WWW-Authenticate: Bearer)",
            403: "the token lacks the scope this route needs", 404: "not found, or not yours to read",
            409: "conflicts with the current state", 503: "a model or the index is not available now"}


def documented(model: type[BaseModel], statuses: dict[int, str]) -> dict[int | str, dict]:
    return {status: {"model": model, "description": text} for status, text in statuses.items()}


API_ERRORS = documented(ApiError, {**REFUSALS, 422: "the request does not match the schema"})
OPENAI_ERRORS = documented(OpenAIError, REFUSALS) | {"4XX": {"model": OpenAIError, "description": "refused"}}
