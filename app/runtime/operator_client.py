"""The CLI's side of the operator channel: send a command to the server that owns the index.

``web/routes/operator.py`` is the other side. An error the server reports
comes back as the same kind of expected error (its message, its status) that
running the command here would have raised, so the CLI prints it the same way.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from app.errors import InhouseError, Unavailable
from app.runtime.server_presence import SECRET_HEADER, ServerPresence

PREFIX = "/internal/operator"
CONNECT_S = 10.0  # a server that has just announced itself may not be listening yet


class ServerRefused(InhouseError):
    """The server ran the command and refused it (unknown user, bad input…); its message says why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def call(server: ServerPresence, route: str, body: dict[str, Any], timeout_s: float = 600.0) -> dict[str, Any]:
    headers = {SECRET_HEADER: server.secret, "Accept": "application/json"}
    deadline = time.monotonic() + CONNECT_S
    while True:
        try:
            response = httpx.post(f"{server.url}{PREFIX}{route}", json=body, headers=headers,
                                  timeout=httpx.Timeout(timeout_s, connect=5.0))
            break
        except httpx.ConnectError:
            if time.monotonic() >= deadline:
                raise Unavailable(
                    f"the server at {server.url} (pid {server.pid}) owns this data directory's index but does not "
                    "answer; wait until it is up, or stop it"
                ) from None
            time.sleep(0.3)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the server at {server.url} did not answer: {exc}") from None
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            raise ServerRefused(response.status_code, error.get("code", "error"), error["message"])
        except (ValueError, KeyError, TypeError):
            raise ServerRefused(response.status_code, "error", f"the server answered {response.status_code}") from None
    return response.json()
