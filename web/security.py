"""What every response and every unsafe request goes through: headers, CSRF, login throttling.

* Headers: a strict Content-Security-Policy (scripts, styles and images from
  this server only, no inline script, no framing), no MIME sniffing, no
  referrer to other sites. htmx runs with eval and script tags switched off
  (``base.html``), so a document's text can never become code.
* CSRF: every POST/PUT/PATCH/DELETE from a signed-in browser carries the
  session's token (form field ``csrf`` or header ``X-CSRF-Token``); the
  session cookie is SameSite=Lax on top.
* Login: failures are counted per user name and per address in a sliding
  window; over the limit the form answers 429 with Retry-After and does not
  even check the password, so guessing costs time whichever name is tried.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "public, max-age=3600")
        else:
            headers.setdefault("Cache-Control", "no-store")
        return response


@dataclass
class LoginThrottle:
    """Failed logins per key (``user:<name>``, ``addr:<ip>``) within a window, in this process.

    An address gets ``ADDRESS_FACTOR`` times the attempts of a user name: many
    people may share one address (an office NAT), while one name is one account.
    """

    attempts: int
    window_s: float
    _failures: dict[str, deque] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    ADDRESS_FACTOR = 4

    def _limit(self, key: str) -> int:
        return self.attempts * (self.ADDRESS_FACTOR if key.startswith("addr:") else 1)

    def retry_after(self, *keys: str) -> int:
        """Seconds until another try is allowed (0 when it is)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if not times:
                    continue
                while times and now - times[0] > self.window_s:
                    times.popleft()
                if len(times) >= self._limit(key):
                    wait = max(wait, self.window_s - (now - times[0]))
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user_key: str) -> None:
        with self._lock:
            self._failures.pop(user_key, None)
