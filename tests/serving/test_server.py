"""`judgerl serve` as a process: bind safety, a real tiny judge, and a kill/restart mid-run."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from judgerl.cli.main import main
from judgerl.core.errors import JudgeRLError, StageError
from judgerl.rewards.remote import RemoteJudgeClient, ScoreItem
from judgerl.serving.process import JudgeServerProcess
from judgerl.serving.server import check_bind, is_loopback

SERVE_ARGS = ["--max-new-tokens", "8", "--device", "cpu", "--max-wait-ms", "5"]


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")


def test_token_required_beyond_loopback(capsys) -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "tok")
    with pytest.raises(JudgeRLError, match="empty"):
        check_bind("127.0.0.1", "  ")
    # the CLI refuses before loading any model (the model path does not even exist)
    assert main(["serve", "--model", "/nonexistent", "--host", "0.0.0.0"]) == 2
    assert "refusing to serve on '0.0.0.0' without a token" in capsys.readouterr().err
    assert main(["serve", "--model", "/nonexistent", "--max-batch", "0", "--request-timeout", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--max-batch 0 must be >= 1" in err and "--request-timeout -1.0 must be > 0" in err


def test_real_tiny_judge_served_killed_and_restarted(tiny_judge, tmp_path) -> None:
    log = tmp_path / "server.log"
    server = JudgeServerProcess(tiny_judge, extra_args=SERVE_ARGS, log_path=log, env={"OMP_NUM_THREADS": "1"})
    with server:
        body = {"question": "What is 47+38?", "response_a": "85", "response_b": "95"}
        r = httpx.post(server.url + "/v1/judge", json=body, timeout=60, trust_env=False)
        assert r.status_code == 200, r.text
        out = r.json()
        assert set(out) == {"verdict", "strength", "thinking", "parsed", "parse_error", "completion"}
        assert out["parsed"] == (out["verdict"] is not None)  # a random judge: parse status is reported
        r = httpx.post(
            server.url + "/v1/score", json={"question": "2+2?", "response": "4"}, timeout=60, trust_env=False
        )
        assert r.status_code == 200 and r.json()["mode"] == "pointwise"
        metrics = httpx.get(server.url + "/metrics", trust_env=False).json()
        assert metrics["judgements"] == 2 and metrics["batches"]["count"] == 2

        server.stop(kill=True)  # SIGKILL mid-run
        client = RemoteJudgeClient(server.url, timeout=30, retries=8, backoff=0.5, max_backoff=4)
        result: dict = {}

        def call() -> None:
            try:
                result["replies"] = client.score([ScoreItem("2+2?", "4"), ScoreItem("3+3?", "6", "6")])
            except Exception as err:  # reported to the test below
                result["err"] = err

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(1.0)
        assert caller.is_alive()  # still retrying against the dead server
        server.start()  # same port
        caller.join(timeout=120)
        assert not caller.is_alive()
        assert "err" not in result, result.get("err")
        assert [r["mode"] for r in result["replies"]] == ["pointwise", "reference"]
        assert client.stats.retries >= 1 and client.stats.failures == 0
    assert server.proc is not None and server.proc.poll() is not None  # stopped on exit


def test_unloadable_model_is_a_clean_cli_error(tmp_path, capsys) -> None:
    assert main(["serve", "--model", str(tmp_path / "no_such_model"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "judgerl: error: cannot load the judge model" in err and "no_such_model" in err


def test_server_that_dies_at_start_is_reported_with_its_log(tmp_path) -> None:
    log = tmp_path / "server.log"
    server = JudgeServerProcess(tmp_path / "m", extra_args=["--max-batch", "many"], log_path=log)
    with pytest.raises(
        StageError, match=r"judge server exited with code 2; log tail:\n(.|\n)*invalid int value"
    ):
        server.start()
