"""The HTTP judge against a local server on 127.0.0.1: success, timeout + retry, unreachable, bad replies."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from judgerl.core.http import HTTPError
from judgerl.eval.scaling.judges import HTTPJudge, JudgeEndpointError, JudgeOptions, build_judge


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list[str] = []  # what each next request gets; "ok" once the script runs out
        self.bodies: list[dict] = []
        self.headers_seen: list[dict] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/score"


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.bodies.append(body)
            self.server.headers_seen.append(dict(self.headers))
            self.server.paths.append(self.path)
            action = self.server.script.pop(0) if self.server.script else "ok"
        if action == "slow":
            time.sleep(1.0)
        status, payload = {
            "503": (503, b"busy"),
            "400": (400, b"bad field"),
            "text": (200, b"not json"),
            "nan": (200, b'{"score": NaN}'),
            "null": (200, b'{"score": null, "parsed": false}'),
        }.get(action, (200, json.dumps({"score": float(len(body["response"]))}).encode()))
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on a slow reply
            pass


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def test_http_judge_scores_in_order_and_sends_the_fields(server: Server) -> None:
    judge = HTTPJudge(server.url, token="secret", concurrency=3)
    assert judge.score("2+2?", ["4", "so 22", "2+2=4\n#### 4"]) == [1.0, 5.0, 12.0]
    assert judge.requests == 3
    body = next(b for b in server.bodies if b["response"].endswith("#### 4"))
    assert body == {
        "prompt": "2+2?",
        "response": "2+2=4\n#### 4",
        "cot": "2+2=4\n#### 4",
        "final_answer": "4",
    }
    assert all(h.get("Authorization") == "Bearer secret" for h in server.headers_seen)


def test_judgerl_serve_format_and_a_null_score(server: Server) -> None:
    url = server.url.replace("/score", "/v1/score")  # `judgerl serve`'s pointwise endpoint
    server.script = ["ok", "null"]
    judge = HTTPJudge(url, concurrency=1)
    (res,) = judge.score_batch(["2+2?"], [["4", "5"]])
    assert server.bodies == [{"question": "2+2?", "response": "4"}, {"question": "2+2?", "response": "5"}]
    assert res.scores[0] == 1.0 and math.isnan(res.scores[1]) and res.failures == 1  # no judgement: counted
    assert HTTPJudge(url, body_format="seed").body("q", "#### 3")["final_answer"] == "3"


def test_a_base_url_is_judgerl_serve_as_every_client_takes_it(server: Server) -> None:
    base = server.url.removesuffix(
        "/score"
    )  # http://127.0.0.1:PORT, as remote_judge and judgerl serve say it
    for url in (base, base + "/"):
        judge = build_judge(f"http:{url}", [], JudgeOptions())
        assert judge.url == base + "/v1/score" and judge.body_format == "judgerl"
        assert judge.name == f"http:{url}"
        assert judge.score("2+2?", ["4"]) == [1.0]
    assert server.paths == ["/v1/score", "/v1/score"]
    assert server.bodies[-1] == {"question": "2+2?", "response": "4"}
    assert HTTPJudge(server.url).url == server.url  # a full URL keeps its own path


def test_a_timeout_or_a_busy_server_is_retried_with_backoff(server: Server) -> None:
    server.script = ["slow"]
    judge = HTTPJudge(server.url, timeout=0.3, retries=2, backoff=0.01, concurrency=1)
    start = time.time()
    assert judge.score("q", ["abc"]) == [3.0]
    assert judge.requests == 2 and time.time() - start < 5
    server.script = ["503", "503"]
    busy = HTTPJudge(server.url, retries=2, backoff=0.01)
    assert busy.score("q", ["ab"]) == [2.0] and busy.requests == 3


def test_client_errors_and_unreadable_replies_are_not_retried(server: Server) -> None:
    server.script = ["400"]
    judge = HTTPJudge(server.url, retries=3, backoff=0.01)
    with pytest.raises(JudgeEndpointError, match="HTTP 400: bad field"):
        judge.score("q", ["a"])
    assert judge.requests == 1
    for action, msg in (("text", "not JSON"), ("nan", "finite number")):
        server.script = [action]
        with pytest.raises(JudgeEndpointError, match=msg):
            HTTPJudge(server.url, retries=0).score("q", ["a"])


def test_an_unreachable_endpoint_gives_a_clear_error_after_the_retries() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/score"
    judge = HTTPJudge(url, timeout=0.5, retries=2, backoff=0.01)
    start = time.time()
    with pytest.raises(JudgeEndpointError, match=r"no score after 3 attempts .*is the endpoint running") as e:
        judge.score("q", ["a"])
    assert url in str(e.value) and judge.requests == 3 and time.time() - start < 5
    with pytest.raises(ValueError, match="http://host:port/path"):
        HTTPJudge("127.0.0.1:8000")


def test_a_spec_builds_the_judge_on_the_shared_client_with_the_token_from_the_environment(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_JUDGE_TOKEN", "tok")
    judge = build_judge(server.url, [], JudgeOptions(http_token_env="MY_JUDGE_TOKEN", http_retries=0))
    assert isinstance(judge, HTTPJudge) and judge.name == server.url and judge.http.retries == 0
    assert judge.score("q", ["abcd"]) == [4.0] and server.headers_seen[-1]["Authorization"] == "Bearer tok"
    server.script = ["400"]
    with pytest.raises(JudgeEndpointError) as e:
        judge.score("q", ["a"])
    assert isinstance(e.value.__cause__, HTTPError) and e.value.__cause__.status == 400
    judge.close()
