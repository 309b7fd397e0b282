"""The one HTTP client against a real loopback server: retries, Retry-After, refusals, unreachable."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from judgerl.core.errors import JudgeRLError
from judgerl.core.http import RETRY_STATUS, HTTPClient, HTTPError, retry_after_seconds, server_message


class _Scripted(BaseHTTPRequestHandler):
    """Answers by path; `hits` counts requests per path, `seen` keeps the last request's headers/body."""

    hits: Counter = Counter()
    seen: dict = {}

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self) -> None:
        path = self.path
        n = type(self).hits[path] = type(self).hits[path] + 1
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        type(self).seen = {"auth": self.headers.get("Authorization"), "x": self.headers.get("X-Extra")}
        if path == "/echo":
            self._send(200, {"got": body, "method": self.command})
        elif path == "/flaky":  # 503, 503, then 200
            self._send(503, {"error": "warming up"}) if n <= 2 else self._send(200, {"ok": n})
        elif path == "/busy":  # 429 asking for 1 s, then 200
            self._send(429, {"error": "slow down"}, {"Retry-After": "1"}) if n == 1 else self._send(
                200, {"ok": n}
            )
        elif path == "/busy-long":  # 429 asking for an hour, then 200
            self._send(429, b"later", {"Retry-After": "3600"}) if n == 1 else self._send(200, {"ok": n})
        elif path == "/bad":
            self._send(400, {"error": "question is empty"})
        elif path == "/detail":
            self._send(422, {"detail": "response must be a string"})
        elif path == "/down":
            self._send(503, b"overloaded")
        elif path == "/text":
            self._send(200, b"not json")
        elif path == "/slow":
            time.sleep(0.6)
            self._send(200, {"ok": True})
        else:
            self._send(404, b"no such path")

    do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _Scripted.hits, _Scripted.seen = Counter(), {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    httpd.handle_error = lambda request, address: None  # a timed-out client hangs up on /slow
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_post_and_get_json_with_base_url_and_headers(server) -> None:
    with HTTPClient(server + "/", headers={"Authorization": "Bearer tok"}) as http:
        assert http.post_json("/echo", {"q": 1}) == {"got": {"q": 1}, "method": "POST"}
        assert _Scripted.seen["auth"] == "Bearer tok"
        assert http.get_json("echo", headers={"X-Extra": "1"}) == {"got": None, "method": "GET"}
        assert _Scripted.seen == {"auth": "Bearer tok", "x": "1"}
        assert http.post_json(f"{server}/echo", [1, 2]) == {"got": [1, 2], "method": "POST"}  # absolute URL
        assert (http.stats.requests, http.stats.retries, http.stats.failures) == (3, 0, 0)


def test_503_then_200_is_retried_with_backoff(server) -> None:
    http = HTTPClient(server, retries=3, backoff=0.01)
    assert http.post_json("/flaky", {}) == {"ok": 3}
    assert _Scripted.hits["/flaky"] == 3
    assert (http.stats.requests, http.stats.retries, http.stats.failures) == (1, 2, 0)


def test_429_retry_after_is_honoured_and_capped(server) -> None:
    http = HTTPClient(server, retries=2, backoff=0.01)
    start = time.monotonic()
    assert http.get_json("/busy") == {"ok": 2}
    assert time.monotonic() - start >= 0.95  # waited the server's 1 s, not the 0.01 s backoff
    capped = HTTPClient(server, retries=1, backoff=0.01, max_retry_after=0.05)
    start = time.monotonic()
    assert capped.get_json("/busy-long") == {"ok": 2}
    assert time.monotonic() - start < 2.0  # an hour asked, 0.05 s waited
    assert capped.stats.retries == 1


def test_other_4xx_raise_at_once_with_the_servers_message(server) -> None:
    http = HTTPClient(server, retries=3, backoff=0.01)
    with pytest.raises(
        HTTPError, match=r"POST http://127\.0\.0\.1:\d+/bad was refused \(HTTP 400\): question is empty"
    ) as err:
        http.post_json("/bad", {"q": ""})
    assert err.value.status == 400 and err.value.url == f"{server}/bad" and err.value.attempts == 1
    assert err.value.message == "question is empty" and err.value.exhausted is False
    assert isinstance(err.value, JudgeRLError)
    with pytest.raises(HTTPError, match="HTTP 422.*response must be a string"):
        http.post_json("/detail", {})
    with pytest.raises(HTTPError, match="HTTP 404.*no such path"):
        http.get_json("/nowhere")
    assert _Scripted.hits["/bad"] == 1 and _Scripted.hits["/detail"] == 1 and _Scripted.hits["/nowhere"] == 1
    assert (http.stats.requests, http.stats.retries, http.stats.failures) == (3, 0, 3)


def test_last_retry_raises_naming_url_attempts_and_last_error(server) -> None:
    http = HTTPClient(server, retries=2, backoff=0.01, timeout=5)
    with pytest.raises(
        HTTPError, match=r"/down failed after 3 attempts \(timeout 5 s each\): HTTP 503: overloaded"
    ) as err:
        http.post_json("/down", {})
    assert err.value.status == 503 and err.value.attempts == 3 and err.value.exhausted is True
    assert _Scripted.hits["/down"] == 3
    assert (http.stats.retries, http.stats.failures) == (2, 1)


def test_a_server_that_is_not_listening() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1/score"
    http = HTTPClient(retries=1, backoff=0.01)
    with pytest.raises(HTTPError, match=r"failed after 2 attempts.*ConnectError") as err:
        http.post_json(url, {})
    assert err.value.status is None and err.value.url == url and err.value.attempts == 2
    assert (http.stats.requests, http.stats.retries, http.stats.failures) == (1, 1, 1)


def test_timeouts_are_retried_then_raised(server) -> None:
    http = HTTPClient(server, retries=1, backoff=0.01, timeout=30)
    with pytest.raises(HTTPError, match=r"failed after 2 attempts \(timeout 0.1 s each\): ReadTimeout"):
        http.get_json("/slow", timeout=0.1)  # the per-call timeout wins
    assert _Scripted.hits["/slow"] == 2


def test_a_reply_that_is_not_json_is_an_error_not_retried(server) -> None:
    http = HTTPClient(server, retries=3, backoff=0.01)
    with pytest.raises(HTTPError, match="answered HTTP 200 with no JSON: 'not json'") as err:
        http.get_json("/text")
    assert err.value.status == 200 and err.value.exhausted is False and _Scripted.hits["/text"] == 1


def test_proxy_variables_are_ignored_for_loopback(server, monkeypatch) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert HTTPClient(server, retries=0).get_json("/echo")["method"] == "GET"


def test_async_posts_run_concurrently_and_retry(server) -> None:
    http = HTTPClient(server, retries=3, backoff=0.01)

    async def batch() -> list:
        async with http:
            return list(await asyncio.gather(*(http.apost_json("/echo", {"i": i}) for i in range(8))))

    assert [r["got"]["i"] for r in asyncio.run(batch())] == list(range(8))
    assert asyncio.run(http.apost_json("/flaky", {})) == {"ok": 3}  # a new loop gets a new async client
    assert (http.stats.requests, http.stats.retries) == (9, 2)
    with pytest.raises(HTTPError, match="HTTP 400"):
        asyncio.run(http.apost_json("/bad", {}))
    assert http.stats.failures == 1
    http.close()


def test_relative_path_without_base_url_and_bad_settings() -> None:
    with pytest.raises(HTTPError, match="not an absolute http"):
        HTTPClient().post_json("/v1/score", {})
    with pytest.raises(ValueError, match="must start with http"):
        HTTPClient("127.0.0.1:8000")
    with pytest.raises(ValueError, match="timeout > 0"):
        HTTPClient(timeout=0)
    with pytest.raises(ValueError, match="timeout > 0"):
        HTTPClient(retries=-1)


def test_retry_rule_values() -> None:
    assert {408, 425, 429, 500, 502, 503, 504} == RETRY_STATUS
    http = HTTPClient(backoff=0.5, max_backoff=3.0, max_retry_after=10.0)
    assert [http.delay(a) for a in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert http.delay(1, retry_after=4.0) == 4.0 and http.delay(1, retry_after=99.0) == 10.0
    assert retry_after_seconds("2") == 2.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None and retry_after_seconds("-3") == 0.0
    now = time.time()
    assert retry_after_seconds(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1.01)


def test_server_message_reads_json_fields_then_text() -> None:
    import httpx

    assert server_message(httpx.Response(400, json={"error": "bad token"})) == "bad token"
    assert server_message(httpx.Response(422, json={"detail": [{"loc": "q"}]})) == "[{'loc': 'q'}]"
    assert server_message(httpx.Response(500, text="x" * 400)) == "x" * 300
    openai_shape = {
        "error": {"message": "prompt too long", "type": "invalid_request_error", "param": "messages"}
    }
    assert server_message(httpx.Response(413, json=openai_shape)) == "prompt too long"


def test_async_scopes_share_one_client_and_the_last_one_closes_it(server) -> None:
    http = HTTPClient(server)

    async def scoped(i: int) -> tuple[int, object]:
        async with http:
            client = http._async_client()
            await asyncio.sleep(0.01)
            return (await http.apost_json("/echo", {"i": i}))["got"]["i"], client

    async def main() -> tuple[list, dict]:
        out = await asyncio.gather(scoped(0), scoped(1))
        return out, dict(http._async)

    out, left = asyncio.run(main())
    assert [i for i, _ in out] == [0, 1] and out[0][1] is out[1][1]  # one async client for the loop
    assert out[0][1].is_closed and left == {}  # closed and forgotten when the last scope ended


def test_one_client_shared_by_threads_counts_every_call(server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    http = HTTPClient(server, retries=3, backoff=0.01)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda i: http.post_json("/echo", {"i": i})["got"]["i"], range(32)))
    assert got == list(range(32)) and http.stats.requests == 32 and http.stats.failures == 0
    http.close()


def test_environment_proxies_are_honoured_for_remote_hosts_only() -> None:
    assert HTTPClient("http://127.0.0.1:9").trust_env is False
    assert HTTPClient("http://localhost:9").trust_env is False
    assert HTTPClient("http://[::1]:9").trust_env is False
    assert HTTPClient().trust_env is False
    assert HTTPClient("https://api.example.com/v1").trust_env is True
    assert HTTPClient("https://api.example.com/v1", trust_env=False).trust_env is False
