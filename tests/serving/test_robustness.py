"""What fuzzing and load found: request shapes that gave 500s, disconnects counted as 500s, connections
held open without a request, and types coerced where OpenAI's schema is strict."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from judgerl.models.generation import SamplingSpec
from judgerl.serving.app import ServeSettings, create_app
from judgerl.serving.read_timeout import header_timeout_protocol
from judgerl.serving.schemas import MAX_TEXT_CHARS
from tests.serving.conftest import ScriptedGenerator, live_server

READ_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def server():
    settings = ServeSettings(
        sampling=SamplingSpec(max_new_tokens=8), max_wait_ms=5, read_timeout=READ_TIMEOUT
    )
    app = create_app(ScriptedGenerator(), settings)
    with live_server(app, http=header_timeout_protocol(READ_TIMEOUT)) as url:
        yield url, app


def _post(url: str, path: str, **kw) -> httpx.Response:
    return httpx.post(url + path, timeout=30, trust_env=False, **kw)


def _requests(app, path: str) -> dict[str, int]:
    return dict(app.state.metrics.snapshot()["requests"].get(path, {}))


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_until_closed(sock: socket.socket, limit: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    t0, data = time.monotonic(), b""
    sock.settimeout(limit)
    while chunk := sock.recv(4096):
        data += chunk
    return data, time.monotonic() - t0


@pytest.mark.parametrize("path", ["/v1/judge", "/get_reward", "/v1/chat/completions"])
def test_an_integer_past_pythons_digit_limit_is_a_400(server, path) -> None:
    url, _ = server
    body = b'{"question": "q", "response_a": "x", "response_b": "y", "n": ' + b"7" * 4301 + b"}"
    r = _post(url, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"] if "chat" in path else r.json()["error"]
    assert "malformed JSON" in message and "4300 digits" in message


def test_get_reward_items_beyond_the_score_limits_are_a_422_naming_the_item(server) -> None:
    url, app = server
    long = "x" * (MAX_TEXT_CHARS + 1)
    cases = [
        {"query": ["q: ok", "q: " + long], "prompts": ["q:", "q:"]},  # a response over the limit
        {"query": [long + "!"], "prompts": [long]},  # a prompt over the limit
        {"query": ["q: a"], "prompts": ["q:"], "labels": [long]},  # a label over the limit
    ]
    for body, item in zip(cases, ["query[1]", "query[0]", "query[0]"], strict=True):
        r = _post(url, "/get_reward", json=body)
        assert r.status_code == 422, r.text
        assert (
            r.json()["error"].startswith(f"{item}: ")
            and f"at most {MAX_TEXT_CHARS} characters" in r.json()["error"]
        )
    assert "500" not in _requests(app, "/get_reward")


def test_a_client_that_leaves_mid_body_is_counted_apart_from_500s(server) -> None:
    url, app = server
    before = _requests(app, "/v1/judge")
    sock = _connect(url)
    sock.sendall(b"POST /v1/judge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
    sock.sendall(b'Content-Length: 100\r\n\r\n{"question": ')
    time.sleep(0.1)
    sock.close()
    deadline = time.monotonic() + 10
    while _requests(app, "/v1/judge").get("disconnected", 0) == before.get("disconnected", 0):
        assert time.monotonic() < deadline, _requests(app, "/v1/judge")
        time.sleep(0.02)
    assert _requests(app, "/v1/judge").get("500", 0) == before.get("500", 0)


def test_a_connection_without_a_request_is_closed_after_the_read_timeout(server) -> None:
    url, _ = server
    with _connect(url) as idle:  # sends nothing
        data, waited = _read_until_closed(idle)
    assert data == b"" and READ_TIMEOUT - 0.1 < waited < READ_TIMEOUT + 3
    with _connect(url) as slow:  # headers trickled, never finished
        slow.sendall(b"GET /health HTTP/1.1\r\n")
        time.sleep(READ_TIMEOUT / 2)
        slow.sendall(b"Host: x\r\n")  # bytes keep arriving, but the headers do not end in time
        data, _ = _read_until_closed(slow)
    assert data == b""
    # a request that is answered is not cut, and the connection serves the next one
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as client:
        assert client.get("/health").status_code == 200
        time.sleep(READ_TIMEOUT / 2)
        assert client.get("/health").status_code == 200


def test_a_body_that_does_not_arrive_in_time_is_a_408_and_the_connection_closes(server) -> None:
    url, app = server
    with _connect(url) as sock:
        sock.sendall(b"POST /v1/judge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        sock.sendall(b'Content-Length: 100\r\n\r\n{"question": ')
        data, waited = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 408 ") and b"request body not received within 0.5 s" in data
    assert waited < READ_TIMEOUT + 3
    assert _requests(app, "/v1/judge").get("408", 0) >= 1


def test_a_slow_judgement_is_not_cut_by_the_read_timeout() -> None:
    settings = ServeSettings(sampling=SamplingSpec(max_new_tokens=8), max_wait_ms=5, read_timeout=0.3)
    app = create_app(ScriptedGenerator(delay=1.0), settings)
    with live_server(app, http=header_timeout_protocol(0.3)) as url:
        r = _post(url, "/v1/judge", json={"question": "q", "response_a": "GOOD", "response_b": "y"})
    assert r.status_code == 200 and r.json()["verdict"] == "a"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("both_orders", "yes", "valid boolean"),
        ("both_orders", 1, "valid boolean"),
        ("question", 7, "valid string"),
    ],
)
def test_judge_fields_are_not_coerced(server, field, value, message) -> None:
    url, _ = server
    body = {"question": "q", "response_a": "x", "response_b": "y", field: value}
    r = _post(url, "/v1/judge", json=body)
    assert (
        r.status_code == 422 and r.json()["error"].startswith(f"{field}: ") and message in r.json()["error"]
    )
