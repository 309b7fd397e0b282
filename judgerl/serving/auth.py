"""The bearer-token check, as pure ASGI middleware in front of the body gate (so an unauthenticated
client cannot make the server parse its body).

The scheme is matched case-insensitively (`Bearer`, `bearer`, `BEARER`), as RFC 7235 section 2.1
says of every auth scheme; the token itself is compared exactly, in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from judgerl.serving.errors import error_response

OPEN_PATHS = ("/health",)  # liveness only: it says nothing a stranger could use
UNAUTHORIZED = "missing or wrong bearer token (send 'Authorization: Bearer <token>')"


def token_matches(header: str, token: str) -> bool:
    """True when an Authorization header value carries `token` under the Bearer scheme (any case).

    >>> token_matches("Bearer s3cret", "s3cret"), token_matches("bearer s3cret", "s3cret")
    (True, True)
    >>> token_matches("Basic s3cret", "s3cret"), token_matches("Bearer s3cre", "s3cret")
    (False, False)
    """
    scheme, _, value = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


class BearerAuth:
    """401 (in the path's error shape) for any request but OPEN_PATHS without `Authorization: Bearer TOKEN`.

    Usage: app.add_middleware(BearerAuth, token="s3cret")
    """

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or self.token is None or path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        if not token_matches(given, self.token):
            response = error_response(path, 401, UNAUTHORIZED, code="invalid_api_key")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
