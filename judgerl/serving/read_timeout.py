"""A header-read timeout for uvicorn's HTTP protocols, which have none of their own.

uvicorn (0.55) times a connection out only after a response (`timeout_keep_alive`, and any byte
the client sends cancels that timer); a connection that never finishes its request headers - one
opened and left idle, or headers trickled a byte at a time - is held open for good, each holding
a file descriptor. The headers arrive below ASGI (the app sees a request only once its headers
are complete), so the limit is set on the protocol: the connection is closed when a request's
headers have not all arrived `seconds` after the connection opened or the previous response
ended. A request whose headers did arrive is not affected; its body is timed by the body gate
(`errors.BodyGate`), its judging by the request timeout.

    uvicorn.run(app, http=header_timeout_protocol(15.0))
"""

from __future__ import annotations

import asyncio
from typing import Any


def header_timeout_protocol(
    seconds: float, base: type[asyncio.Protocol] | None = None
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (`base`, default the one `http="auto"` picks) closing a connection
    whose request headers take longer than `seconds`.

    Usage: uvicorn.Config(app, http=header_timeout_protocol(15.0))
    """
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        base = AutoHTTPProtocol

    class HeaderTimeoutProtocol(base):  # type: ignore[valid-type, misc]
        """`base` with a deadline on each request's headers (see the module docstring)."""

        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            self._arm()  # before the parent starts a pipelined request, which then counts as arrived
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(seconds, self._headers_late, self.cycle)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self, cycle_when_armed: Any) -> None:
            self._header_timer = None
            # a new request cycle means its headers arrived in time
            if self.cycle is cycle_when_armed and not self.transport.is_closing():
                self.transport.close()

    HeaderTimeoutProtocol.__name__ = f"HeaderTimeout{base.__name__}"
    return HeaderTimeoutProtocol
