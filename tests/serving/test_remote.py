"""Client rewards (TRL, verl, registry) against a live server; unreachable servers raise."""

from __future__ import annotations

import pytest

from judgerl.core.http import HTTPError
from judgerl.core.types import JudgeSample
from judgerl.models.generation import SamplingSpec
from judgerl.rewards.adapters import to_trl
from judgerl.rewards.policy import PolicyReward, PolicySample
from judgerl.rewards.registry import combined_reward, get_reward
from judgerl.rewards.remote import (
    RemoteJudgeClient,
    RemoteJudgeError,
    RemoteJudgeReward,
    ScoreItem,
    remote_trl_reward,
    remote_verl_compute_score,
)
from judgerl.serving.app import ServeSettings, create_app
from judgerl.serving.process import free_port
from tests.serving.conftest import ScriptedGenerator, live_server


@pytest.fixture(scope="module")
def url():
    settings = ServeSettings(sampling=SamplingSpec(max_new_tokens=8), token="tok")
    with live_server(create_app(ScriptedGenerator(), settings)) as base:
        yield base


def test_trl_reward_pointwise_reference_and_parse_failures(url) -> None:
    logged = {}
    f = remote_trl_reward(url, token="tok", timeout=10)
    prompts = [[{"role": "user", "content": "2+2?"}], "GARBLE", "3+3?"]
    completions = [[{"role": "assistant", "content": "4"}], "x", "GOOD 6"]
    out = f(prompts=prompts, completions=completions, log_metric=lambda k, v: logged.setdefault(k, v))
    assert out == [0.7, 0.0, 0.7]
    assert logged == {"remote_judge_parse_failure_rate": pytest.approx(1 / 3)}
    out = f(prompts=prompts, completions=completions, reference=["4", "y", "6"])
    assert (
        out[0] == 0.5
        and out[1] == 0.0
        and out[2] == pytest.approx((5.0 * (1 + (1 + 1 / 3) / 2)) / 10, abs=1e-6)
    )
    assert f.client.stats.unparsed == 2 and f.client.stats.retries == 0


def test_async_trl_reward_is_awaitable(url) -> None:
    import asyncio
    import inspect

    f = remote_trl_reward(url, token="tok", asynchronous=True)
    assert inspect.iscoroutinefunction(f)
    assert asyncio.run(f(prompts=["2+2?", "GARBLE"], completions=["4", "x"])) == [0.7, 0.0]


def test_verl_compute_score_single_and_batch(url) -> None:
    score = remote_verl_compute_score(url, token="tok", timeout=10)
    assert score("synthetic", "4", "4", {"question": "2+2?"}) == {"score": 0.5, "judge_parsed": 1.0}
    batch = score(
        solution_strs=["GOOD", "x"],
        ground_truths=[None, "y"],
        extra_infos=[{"question": "q"}, {"question": "GARBLE"}],
    )
    assert batch == [{"score": 0.7, "judge_parsed": 1.0}, {"score": 0.0, "judge_parsed": 0.0}]
    with pytest.raises(ValueError, match="needs the question"):
        score("synthetic", "4", "4", {})


def test_registry_reward_uses_label_as_reference(url, monkeypatch) -> None:
    monkeypatch.setenv("JUDGERL_SERVE_TOKEN", "tok")
    s = JudgeSample("1", "t", [{"role": "user", "content": "2+2?"}], "4", "5", "a")
    assert get_reward("remote_judge").__name__ == "remote_judge_reward"
    r = combined_reward([{"name": "remote_judge", "url": url, "timeout": 10}])(s, "4")
    assert r.score == 0.5 and r.details["parsed"] is True
    r = combined_reward([{"name": "remote_judge", "url": url, "reference": "none"}])(s, "4")
    assert r.score == 0.7
    # through the column adapters the question is gone: refused, not judged on a dummy question
    funcs, _ = to_trl([{"name": "remote_judge", "url": url}])
    with pytest.raises(ValueError, match="use remote_trl_reward"):
        funcs[0](prompts=["q"], completions=["4"], label=["a"], strength=[0])


def test_wrong_token_is_a_clear_error_not_a_zero(url) -> None:
    client = RemoteJudgeClient(url, token="nope", retries=2, backoff=0.01)
    with pytest.raises(RemoteJudgeError, match=r"rejected the request \(HTTP 401\).*bearer token"):
        client.score([ScoreItem("q", "r")])
    assert client.stats.retries == 0  # a 4xx is not retried


def test_unreachable_server_raises_after_retries() -> None:
    port = free_port()  # nothing listens here
    f = remote_trl_reward(f"http://127.0.0.1:{port}", timeout=2, retries=2, backoff=0.01)
    with pytest.raises(RemoteJudgeError, match=r"unreachable after 3 attempts.*ConnectError"):
        f(prompts=["q"], completions=["a"])
    assert f.client.stats.retries == 2 and f.client.stats.failures == 1


def test_client_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="must start with http"):
        RemoteJudgeClient("127.0.0.1:8000")
    with pytest.raises(ValueError, match="timeout > 0"):
        RemoteJudgeClient("http://127.0.0.1:1", timeout=0)


def test_remote_judge_is_a_plain_policy_reward(url) -> None:
    import asyncio

    reward = RemoteJudgeReward(RemoteJudgeClient(url, token="tok", timeout=10), unparsed_reward=-1.0)
    assert isinstance(reward, PolicyReward) and reward.name == "remote_judge"
    one = reward(PolicySample("2+2?"), "4")
    assert one.score == 0.7 and one.details == {
        "parsed": True,
        "correct": None,
        "reason": "",
        "judge_score": 7.0,
    }
    batch = reward.batch([PolicySample("2+2?", "4"), PolicySample("GARBLE")], ["4", "x"])
    assert [r.score for r in batch] == [0.5, -1.0]
    assert batch[1].details["parsed"] is False and batch[1].details["judge_score"] is None
    assert batch[1].verdict.reason == batch[1].details["reason"] != ""
    assert [r.score for r in asyncio.run(reward.abatch([PolicySample("q")], ["GOOD"]))] == [0.7]
    assert asyncio.run(reward.abatch([], [])) == []
    with pytest.raises(ValueError, match="1 samples for 2 completions"):
        reward.batch([PolicySample("q")], ["a", "b"])
    assert reward.client.stats.unparsed == 1 and reward.client.stats.requests == 4


def test_remote_errors_are_http_errors_with_status_and_url(url) -> None:
    client = RemoteJudgeClient(url, token="nope", retries=1, backoff=0.01)
    with pytest.raises(HTTPError) as err:
        client.score([ScoreItem("q", "r")])
    assert isinstance(err.value, RemoteJudgeError)
    assert err.value.status == 401 and err.value.url == f"{url}/v1/score" and err.value.exhausted is False
    assert client.stats.failures == 1 and client.stats.requests == 1
    with pytest.raises(RemoteJudgeError, match="reply 0 has no 'score'"):
        client.results([{"parsed": False}])


def test_score_inside_a_running_event_loop(url) -> None:
    import asyncio

    client = RemoteJudgeClient(url, token="tok")

    async def inside() -> list:
        return client.score([ScoreItem("2+2?", "4"), ScoreItem("3+3?", "6", "6")])  # runs in a thread

    replies = asyncio.run(inside())
    assert [r["score"] for r in replies] == [7.0, 5.0]


def test_policy_grpo_reads_the_served_judges_metrics(url, monkeypatch) -> None:
    from judgerl.trainers.policy_grpo import _server_metrics

    monkeypatch.setenv("JUDGERL_SERVE_TOKEN", "tok")
    metrics = _server_metrics(url)
    assert isinstance(metrics, dict) and metrics  # request counts, latencies, ...
    assert _server_metrics(f"http://127.0.0.1:{free_port()}") == {}  # unreachable: {} and a warning
