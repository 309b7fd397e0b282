"""Policy rewards through the TRL and verl adapters: the question, the reference, the one completion reading."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from judgerl.core.types import Verdict
from judgerl.rewards.adapters import policy_to_trl, policy_to_verl, prompt_question
from judgerl.rewards.functions import RewardResult
from judgerl.rewards.policy import PolicyReward, PolicySample


class LengthReward:
    """A policy reward of len(completion) / 10, unparsed when the completion is empty; records its calls."""

    name = "length_judge"

    def __init__(self) -> None:
        self.calls: list[tuple[list[PolicySample], list[str]]] = []

    def __call__(self, sample: PolicySample, completion: str) -> RewardResult:
        parsed = bool(completion)
        return RewardResult(len(completion) / 10, Verdict(None, ""), {"parsed": parsed})

    def batch(self, samples, completions):
        self.calls.append((list(samples), list(completions)))
        return [self(s, c) for s, c in zip(samples, completions, strict=True)]

    async def abatch(self, samples, completions):
        return self.batch(samples, completions)


def test_policy_reward_protocol() -> None:
    assert isinstance(LengthReward(), PolicyReward)
    assert PolicySample("q").reference is None


def test_policy_to_trl_reads_question_reference_and_completion_text() -> None:
    reward = LengthReward()
    logged: dict[str, float] = {}
    f = policy_to_trl(reward, reference_column="answer")
    assert f.__name__ == "length_judge" and f.reward is reward
    prompts = [[{"role": "system", "content": "s"}, {"role": "user", "content": "2+2?"}], "3+3?"]
    completions = [
        [{"role": "assistant", "content": "four", "reasoning_content": "add"}],  # thinking re-joined
        "six",
    ]
    out = f(prompts=prompts, completions=completions, answer=["4", None], log_metric=logged.__setitem__)
    samples, texts = reward.calls[-1]
    assert samples == [PolicySample("2+2?", "4"), PolicySample("3+3?", None)]
    assert texts == ["<think>\nadd\n</think>\n\nfour", "six"]
    assert out == [pytest.approx(len(texts[0]) / 10), pytest.approx(0.3)]
    assert logged == {"remote_judge_parse_failure_rate": 0.0}
    f(prompts=["q", "q"], completions=["", 7], log_metric=logged.__setitem__)  # 7 reads as ""
    assert reward.calls[-1][1] == ["", ""] and logged["remote_judge_parse_failure_rate"] == 1.0


def test_policy_to_trl_without_reference_column_and_async() -> None:
    reward = LengthReward()
    f = policy_to_trl(reward, reference_column=None, name="judge", parse_metric="judge_pf")
    assert f(prompts=["q"], completions=["ab"], reference=["ignored"]) == [0.2]
    assert reward.calls[-1][0] == [PolicySample("q", None)]
    g = policy_to_trl(reward, asynchronous=True)
    assert inspect.iscoroutinefunction(g)
    logged: dict[str, float] = {}
    assert asyncio.run(g(prompts=["q"], completions=[""], log_metric=logged.__setitem__)) == [0.0]
    assert logged == {"remote_judge_parse_failure_rate": 1.0}


def test_policy_to_trl_errors() -> None:
    f = policy_to_trl(LengthReward())
    with pytest.raises(ValueError, match="column 'reference' has 1 values for 2 completions"):
        f(prompts=["a", "b"], completions=["x", "y"], reference=["r"])
    with pytest.raises(ValueError, match="1 prompts for 2 completions"):
        f(prompts=["a"], completions=["x", "y"])
    with pytest.raises(ValueError, match="cannot read a question"):
        f(prompts=[[{"role": "assistant", "content": "no user"}]], completions=["x"])
    assert prompt_question("plain") == "plain"


def test_policy_to_verl_single_and_batch() -> None:
    reward = LengthReward()
    score = policy_to_verl(reward)
    assert score.reward is reward
    assert score("src", "abcd", "4", {"question": "2+2?"}) == {"score": 0.4, "judge_parsed": 1.0}
    assert reward.calls[-1] == ([PolicySample("2+2?", "4")], ["abcd"])
    batch = score(
        solution_strs=["ab", ""],
        ground_truths=[{"question": "q1", "reference": "r"}, None],
        extra_infos=[None, {"question": "q2"}],
    )
    assert batch == [{"score": 0.2, "judge_parsed": 1.0}, {"score": 0.0, "judge_parsed": 0.0}]
    assert reward.calls[-1][0] == [PolicySample("q1", "r"), PolicySample("q2", None)]
    assert score(solution_strs=["abc"], extra_infos=[{"question": "q"}]) == [
        {"score": 0.3, "judge_parsed": 1.0}
    ]
    with pytest.raises(
        ValueError, match=r"length judge needs the question: put it in extra_info\['question'\]"
    ):
        score("src", "x", "4", {})
