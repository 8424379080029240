"""The web tests' small organisation (tests/web/conftest.py), reached through the API with bearer tokens.

``make_token(user, *scopes, days=90)`` mints a token the way ``inhouse
tokens create`` does; ``bearer(token)`` is the header that carries it.
"""

from __future__ import annotations

import pytest

from tests.web.conftest import SECRET, client, live_url, web_app, web_services  # noqa: F401  (fixtures)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def make_token(web_services):
    from app.accounts import tokens
    from app.accounts.directory import get_user

    def make(user: str, *scopes: str, days: int = 90) -> str:
        with web_services.session() as session:
            return tokens.create(session, get_user(session, user), f"{user} test", list(scopes) or ["ask"],
                                 days).token

    return make


ALL_READER_SCOPES = ("ask", "search", "documents:read")
