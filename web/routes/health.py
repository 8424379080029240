"""Liveness for load balancers and `make run`: says nothing about documents or users."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> dict:
    return {"status": "ok" if request.app.state.ready else "starting"}


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> RedirectResponse:
    return RedirectResponse("/static/favicon.svg", status_code=301)
