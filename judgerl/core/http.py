"""The one HTTP client for every remote call judgerl makes (judge servers, chat endpoints, /metrics).

Built on httpx. One retry rule for everybody:

- transport errors (refused, reset, DNS), timeouts and the statuses in `RETRY_STATUS`
  (408, 425, 429, 500, 502, 503, 504) are retried up to `retries` times, waiting
  `backoff * 2**(attempt - 1)` seconds (at most `max_backoff`) between attempts; on 429 and 503 a
  `Retry-After` header (seconds or an HTTP date) is honoured instead, capped at `max_retry_after`;
- any other 4xx/5xx raises `HTTPError` at once, with the server's own message
  (its JSON `error` / `detail` / `message`, else the start of the body);
- after the last attempt `HTTPError` names the URL, the number of attempts and the last error;
- a 2xx reply that is not JSON is an `HTTPError` too (status set, nothing retried).

Proxy variables and .netrc are ignored for a loopback base URL (or no base URL) and honoured for a
remote one (`trust_env` overrides): loopback servers must not go through a proxy.
Counters (`stats.requests`, `stats.retries`, `stats.failures`) are kept on the client.

The sync methods share one `httpx.Client`; `apost_json` uses one `httpx.AsyncClient` per running
event loop (an async client cannot outlive its loop). Wrap a batch of concurrent calls in
`async with client:` to close that loop's async client when the batch is done (nested and
concurrent `async with` blocks share it; the last one out closes it).

    with HTTPClient("http://127.0.0.1:8000", timeout=30, retries=3) as http:
        reply = http.post_json("/v1/score", {"question": "2+2?", "response": "4"})
        health = http.get_json("/health")
"""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from judgerl.core.errors import JudgeRLError
from judgerl.core.logging import get_logger

log = get_logger(__name__)
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRY_AFTER_STATUS = frozenset({429, 503})
_MESSAGE_KEYS = ("error", "detail", "message")


class HTTPError(JudgeRLError):
    """A remote call that failed for good: `.status` (None when no reply came) and `.url`.

    `.attempts` is how many requests were made; `.message` is the server's message (or the
    transport error) without the URL prefix; `.exhausted` is True when every attempt was used up
    on retryable failures (unreachable, timed out, overloaded), False when the server refused
    the request or answered without JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        attempts: int = 1,
        detail: str = "",
        exhausted: bool = False,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts
        self.message = detail or message
        self.exhausted = exhausted


@dataclass
class HTTPStats:
    """Counters of one client: calls made, retry attempts, calls that raised."""

    requests: int = 0
    retries: int = 0
    failures: int = 0


def server_message(reply: httpx.Response, limit: int = 300) -> str:
    """The server's own explanation in an error reply: JSON error/detail/message, else the body start.

    Usage: raise SomeError(f"HTTP {reply.status_code}: {server_message(reply)}")
    """
    try:
        body = reply.json()
    except ValueError:
        return reply.text[:limit]
    if isinstance(body, dict):
        for key in _MESSAGE_KEYS:
            if body.get(key) not in (None, ""):
                value = body[key]
                if isinstance(value, dict) and isinstance(value.get("message"), str):
                    return value["message"]  # OpenAI's shape: {"error": {"message": ..., "param": ...}}
                return value if isinstance(value, str) else str(value)
        return str(body)[:limit]
    return str(body)[:limit]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date); None if absent/bad.

    Usage: retry_after_seconds("2") == 2.0; retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT")
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


class _Retry(Exception):
    """One attempt that may be retried: why, and the wait the server asked for (if any)."""

    def __init__(self, reason: str, status: int | None, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.wait = wait


class HTTPClient:
    """JSON over HTTP with one retry rule, a default base URL, headers and timeout.

    Usage: http = HTTPClient("http://127.0.0.1:8000", retries=2); http.post_json("/v1/score", body)
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        headers: dict[str, str] | None = None,
        max_backoff: float = 8.0,
        max_retry_after: float = 30.0,
        max_connections: int = 100,
        trust_env: bool | None = None,
    ) -> None:
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0 or retries < 0 or backoff < 0 or max_backoff < 0 or max_retry_after < 0:
            raise ValueError(
                f"need timeout > 0, retries >= 0, backoff >= 0, max_backoff >= 0, max_retry_after >= 0; "
                f"got {timeout}, {retries}, {backoff}, {max_backoff}, {max_retry_after}"
            )
        if max_connections < 1:
            raise ValueError(f"need max_connections >= 1, got {max_connections}")
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_retry_after = float(max_retry_after)
        self.max_connections = int(max_connections)
        self.headers = dict(headers or {})
        # proxies from the environment serve remote hosts only: a loopback server must be reached directly
        self.trust_env = (not _is_loopback(self.base_url)) if trust_env is None else bool(trust_env)
        self.stats = HTTPStats()
        self._lock = threading.Lock()
        self._sync: httpx.Client | None = None
        # one async client per running loop: loop -> [client, open `async with` scopes]
        self._async: dict[asyncio.AbstractEventLoop, list[Any]] = {}

    # ---- URLs and clients -------------------------------------------------------------------
    def url_for(self, url_or_path: str) -> str:
        """An absolute URL as given, or `url_or_path` joined to the base URL.

        Usage: HTTPClient("http://h:1/").url_for("/v1/score") == "http://h:1/v1/score"
        """
        if url_or_path.startswith(("http://", "https://")):
            return url_or_path
        if self.base_url is None:
            raise HTTPError(
                f"{url_or_path!r} is not an absolute http(s) URL and the client has no base URL",
                url=url_or_path,
                attempts=0,
            )
        return f"{self.base_url}/{url_or_path.lstrip('/')}" if url_or_path else self.base_url

    def _limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections, max_keepalive_connections=self.max_connections
        )

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._sync is None:
                self._sync = httpx.Client(
                    timeout=self.timeout,
                    headers=self.headers,
                    limits=self._limits(),
                    trust_env=self.trust_env,
                )
            return self._sync

    def _async_entry(self) -> list[Any]:
        loop = asyncio.get_running_loop()
        with self._lock:
            for other in [lp for lp in self._async if lp.is_closed()]:
                del self._async[other]  # its loop is gone; so are its connections
            entry = self._async.get(loop)
            if entry is None:
                client = httpx.AsyncClient(
                    timeout=self.timeout,
                    headers=self.headers,
                    limits=self._limits(),
                    trust_env=self.trust_env,
                )
                entry = self._async[loop] = [client, 0]
            return entry

    def _async_client(self) -> httpx.AsyncClient:
        return self._async_entry()[0]

    def _count(self, counter: str) -> None:
        with self._lock:  # callers may share one client across threads
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)

    # ---- the retry rule ---------------------------------------------------------------------
    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry `attempt` (1-based): Retry-After (capped) or capped backoff.

        Usage: HTTPClient(backoff=0.5).delay(3) == 2.0
        """
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))

    def _before_retry(self, method: str, url: str, attempt: int, last: _Retry) -> float:
        self._count("retries")
        wait = self.delay(attempt, last.wait)
        log.warning(f"{method} {url}: {last.reason}; retry {attempt}/{self.retries} in {wait:.2f} s")
        return wait

    def _outcome(self, method: str, url: str, reply: httpx.Response, attempt: int) -> Any:
        """The JSON of a good reply; `_Retry` for a retryable one; HTTPError for the rest."""
        status = reply.status_code
        if status in RETRY_STATUS:
            wait = (
                retry_after_seconds(reply.headers.get("retry-after"))
                if status in RETRY_AFTER_STATUS
                else None
            )
            raise _Retry(f"HTTP {status}: {server_message(reply)}", status, wait)
        if status >= 400:
            detail = server_message(reply)
            raise HTTPError(
                f"{method} {url} was refused (HTTP {status}): {detail}",
                url=url,
                status=status,
                attempts=attempt + 1,
                detail=detail,
            )
        try:
            return reply.json()
        except ValueError:
            detail = f"answered HTTP {status} with no JSON: {reply.text[:200]!r}"
            raise HTTPError(
                f"{method} {url} {detail}", url=url, status=status, attempts=attempt + 1, detail=detail
            ) from None

    def _gave_up(self, method: str, url: str, last: _Retry, timeout: float) -> HTTPError:
        attempts = self.retries + 1
        return HTTPError(
            f"{method} {url} failed after {attempts} attempt{'s' if attempts != 1 else ''} "
            f"(timeout {timeout:g} s each): {last.reason}",
            url=url,
            status=last.status,
            attempts=attempts,
            detail=last.reason,
            exhausted=True,
        )

    @staticmethod
    def _transport_reason(err: Exception) -> str:
        return f"{type(err).__name__}: {str(err) or 'no detail'}"

    def _exchange(self, method: str, url: str, limit: float) -> Generator[float, Any, Any]:
        """The retry rule, once for the sync and the async caller: yields the seconds to wait before
        each attempt, is sent that attempt's reply (or its transport error), returns the JSON."""
        self._count("requests")
        last: _Retry | None = None
        try:
            for attempt in range(self.retries + 1):
                outcome = yield (0.0 if last is None else self._before_retry(method, url, attempt, last))
                try:
                    if isinstance(outcome, Exception):
                        raise _Retry(self._transport_reason(outcome), None) from outcome
                    return self._outcome(method, url, outcome, attempt)
                except _Retry as retry:
                    last = retry
            assert last is not None
            raise self._gave_up(method, url, last, limit)
        except HTTPError:
            self._count("failures")
            raise

    def _request(
        self, method: str, url_or_path: str, body: Any, timeout: float | None, headers: dict | None
    ) -> Any:
        url = self.url_for(url_or_path)
        limit = self.timeout if timeout is None else float(timeout)
        client = self._sync_client()
        plan = self._exchange(method, url, limit)
        wait = next(plan)
        while True:
            if wait:
                time.sleep(wait)
            try:
                outcome: Any = client.request(method, url, json=body, timeout=limit, headers=headers)
            except (httpx.TransportError, httpx.TimeoutException) as err:
                outcome = err
            try:
                wait = plan.send(outcome)
            except StopIteration as done:
                return done.value

    async def _arequest(
        self, method: str, url_or_path: str, body: Any, timeout: float | None, headers: dict | None
    ) -> Any:
        url = self.url_for(url_or_path)
        limit = self.timeout if timeout is None else float(timeout)
        client = self._async_client()
        plan = self._exchange(method, url, limit)
        wait = next(plan)
        while True:
            if wait:
                await asyncio.sleep(wait)
            try:
                outcome: Any = await client.request(method, url, json=body, timeout=limit, headers=headers)
            except (httpx.TransportError, httpx.TimeoutException) as err:
                outcome = err
            try:
                wait = plan.send(outcome)
            except StopIteration as done:
                return done.value

    # ---- public calls -----------------------------------------------------------------------
    def post_json(
        self,
        url_or_path: str,
        body: Any,
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """POST `body` as JSON and return the decoded JSON reply (raises HTTPError).

        Usage: reply = http.post_json("/v1/score", {"question": "q", "response": "r"}, timeout=30)
        """
        return self._request("POST", url_or_path, body, timeout, headers)

    def get_json(
        self, url_or_path: str, *, timeout: float | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        """GET and return the decoded JSON reply (raises HTTPError).

        Usage: metrics = http.get_json("/metrics", timeout=10)
        """
        return self._request("GET", url_or_path, None, timeout, headers)

    async def apost_json(
        self,
        url_or_path: str,
        body: Any,
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Async `post_json` (an httpx.AsyncClient per event loop), for concurrent callers.

        Usage: replies = await asyncio.gather(*(http.apost_json("/v1/score", b) for b in bodies))
        """
        return await self._arequest("POST", url_or_path, body, timeout, headers)

    async def aget_json(
        self, url_or_path: str, *, timeout: float | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        """Async `get_json`. Usage: health = await http.aget_json("/health")"""
        return await self._arequest("GET", url_or_path, None, timeout, headers)

    # ---- lifetime ---------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the async client of the running event loop (the next async call opens a new one).

        Usage: await http.aclose()
        """
        with self._lock:
            entry = self._async.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].aclose()

    def close(self) -> None:
        """Close the sync client and forget async clients (close those with `aclose` in their loop).

        Usage: http.close()
        """
        with self._lock:
            sync, self._sync = self._sync, None
            self._async.clear()
        if sync is not None:
            sync.close()

    def __enter__(self) -> HTTPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> HTTPClient:
        self._async_entry()[1] += 1  # one loop runs in one thread: no lock needed for its entry
        return self

    async def __aexit__(self, *exc: object) -> None:
        entry = self._async.get(asyncio.get_running_loop())
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            await self.aclose()

    def __repr__(self) -> str:
        return f"HTTPClient({self.base_url!r}, timeout={self.timeout:g}, retries={self.retries})"


def _is_loopback(base_url: str | None) -> bool:
    """True for no base URL or one whose host is localhost / 127.0.0.0/8 / ::1."""
    if base_url is None:
        return True
    host = (httpx.URL(base_url).host or "").strip("[]").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"
