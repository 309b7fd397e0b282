"""The reward of a judge served with `judgerl serve`: a plain policy reward, batched and concurrent.

Each policy completion is sent to POST /v1/score: against a reference answer when one is given
(the pairwise judge, both orders), else pointwise (0-10). The reward is score / 10, in [0, 1].

Requests go through `judgerl.core.http.HTTPClient` (its one retry rule: transport errors,
timeouts, 408/425/429/5xx, Retry-After honoured), at most `concurrency` in flight. When the
server stays unreachable the call raises `RemoteJudgeError` naming the URL and the last error:
a training step never receives a made-up 0. A judgement the judge wrote but the parser could not
read is a different thing: it gets `unparsed_reward` (default 0.0) and is counted.

`RemoteJudgeReward` is a `PolicyReward` ((PolicySample, completion) -> RewardResult, or batches);
the TRL and verl forms are `judgerl.rewards.adapters.policy_to_trl` / `policy_to_verl` around it,
built here by `remote_trl_reward` / `remote_verl_compute_score`. `remote_judge_reward` is the
registry reward of a pairwise `JudgeSample`.

    funcs = [remote_trl_reward("http://127.0.0.1:8000", reference_column="answer")]
    compute_score = remote_verl_compute_score("http://127.0.0.1:8000")
    # recipe: rewards: [{name: remote_judge, url: "http://127.0.0.1:8000"}]
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from judgerl.core.http import HTTPClient, HTTPError
from judgerl.core.types import JudgeSample, Verdict
from judgerl.rewards.adapters import policy_to_trl, policy_to_verl
from judgerl.rewards.functions import RewardResult
from judgerl.rewards.policy import PolicySample

TOKEN_ENV = "JUDGERL_SERVE_TOKEN"
SCORE_PATH = "/v1/score"


class RemoteJudgeError(HTTPError):
    """The judge server could not produce a score (unreachable, refused, or a bad reply)."""


@dataclass(frozen=True)
class ScoreItem:
    """One response to score: its question, the response, and an optional reference answer.

    >>> ScoreItem("2+2?", "4", "4").payload()
    {'question': '2+2?', 'response': '4', 'reference': '4'}
    """

    question: str
    response: str
    reference: str | None = None

    def payload(self) -> dict[str, Any]:
        """The /v1/score request body. Usage: ScoreItem("q", "r").payload()"""
        body: dict[str, Any] = {"question": self.question, "response": self.response}
        if self.reference is not None:
            body["reference"] = self.reference
        return body


@dataclass
class ClientStats:
    """Counters of a client: requests, retries made, requests failed for good, unparsed judgements."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    unparsed: int = 0


class RemoteJudgeClient:
    """Concurrent, retrying client of a `judgerl serve` endpoint (on the one HTTPClient).

    Usage: client = RemoteJudgeClient("http://127.0.0.1:8000", timeout=60, retries=3);
    results = client.score([ScoreItem("2+2?", "4", reference="4")])  # list of /v1/score replies
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        concurrency: int = 32,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"judge url must start with http:// or https://, got {url!r}")
        if timeout <= 0 or retries < 0 or backoff < 0 or concurrency < 1:
            raise ValueError(
                f"need timeout > 0, retries >= 0, backoff >= 0, concurrency >= 1; got "
                f"{timeout}, {retries}, {backoff}, {concurrency}"
            )
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.concurrency = concurrency
        self.http = HTTPClient(
            self.url,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            headers={"Authorization": f"Bearer {self.token}"} if self.token else None,
            max_connections=concurrency,
        )
        self.unparsed = 0

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters (requests, retries and failures are the HTTP client's).

        Usage: client.stats.retries
        """
        http = self.http.stats
        return ClientStats(http.requests, http.retries, http.failures, self.unparsed)

    def _error(self, err: HTTPError) -> RemoteJudgeError:
        where = f"judge server {self.url}{SCORE_PATH}"
        if err.exhausted:
            text = (
                f"{where} unreachable after {err.attempts} attempts (timeout {self.timeout} s each): "
                f"{err.message}. Is `judgerl serve` running there?"
            )
        elif err.status is not None and err.status >= 400:
            text = f"{where} rejected the request (HTTP {err.status}): {err.message}"
        else:
            text = f"{where} {err.message}"
        return RemoteJudgeError(
            text,
            url=err.url,
            status=err.status,
            attempts=err.attempts,
            detail=err.message,
            exhausted=err.exhausted,
        )

    async def ascore(self, items: Sequence[ScoreItem]) -> list[dict[str, Any]]:
        """Score `items` concurrently; the /v1/score replies in input order (raises RemoteJudgeError).

        Usage: replies = await client.ascore([ScoreItem("2+2?", "4")])
        """
        sem = asyncio.Semaphore(self.concurrency)

        async def one(item: ScoreItem) -> Any:
            async with sem:
                try:
                    return await self.http.apost_json(SCORE_PATH, item.payload())
                except HTTPError as err:
                    raise self._error(err) from None

        async with self.http:  # this loop's async client, closed when the batch is done
            tasks = [asyncio.create_task(one(i)) for i in items]
            try:
                return list(await asyncio.gather(*tasks))
            finally:
                for t in tasks:  # one failure stops the others (gather would leave them running)
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def score(self, items: Sequence[ScoreItem]) -> list[dict[str, Any]]:
        """Synchronous `ascore`; safe to call from inside a running event loop (it uses a thread).

        Usage: replies = client.score([ScoreItem("2+2?", "4", reference="4")]); replies[0]["score"]
        """
        if not items:
            return []
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ascore(items))
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["out"] = asyncio.run(self.ascore(items))
            except BaseException as err:  # re-raised in the caller's thread
                box["err"] = err

        thread = threading.Thread(target=run, name="judgerl-remote-judge")
        thread.start()
        thread.join()
        if "err" in box:
            raise box["err"]
        return box["out"]

    def results(self, replies: Sequence[Any], unparsed_reward: float = 0.0) -> list[RewardResult]:
        """The reward of each /v1/score reply: score / 10, or `unparsed_reward` for an unparsed judgement.

        Usage: client.results([{"score": 7.0}])[0].score == 0.7
        """
        out = []
        for i, reply in enumerate(replies):
            if not isinstance(reply, dict) or "score" not in reply:
                raise RemoteJudgeError(
                    f"judge server {self.url}: reply {i} has no 'score': {reply!r}", url=self.url + SCORE_PATH
                )
            score = reply["score"]
            parsed = score is not None
            self.unparsed += not parsed
            reason = "" if parsed else str(reply.get("parse_error", "unparsed"))
            details = {"parsed": parsed, "correct": None, "reason": reason, "judge_score": score}
            value = float(score) / 10.0 if parsed else float(unparsed_reward)
            out.append(RewardResult(value, Verdict(choice=None, reason=reason), details))
        return out

    def rewards(self, items: Sequence[ScoreItem], unparsed_reward: float = 0.0) -> tuple[list[float], int]:
        """Rewards in [0, 1] (score / 10) and how many judgements were unparseable.

        Usage: rewards, n_unparsed = client.rewards(items, unparsed_reward=0.0)
        """
        results = self.results(self.score(items), unparsed_reward)
        return [r.score for r in results], sum(not r.details["parsed"] for r in results)

    async def arewards(
        self, items: Sequence[ScoreItem], unparsed_reward: float = 0.0
    ) -> tuple[list[float], int]:
        """Async `rewards`. Usage: rewards, n_unparsed = await client.arewards(items)"""
        results = self.results(await self.ascore(items) if items else [], unparsed_reward)
        return [r.score for r in results], sum(not r.details["parsed"] for r in results)


class RemoteJudgeReward:
    """The served judge as a policy reward: (PolicySample, completion) -> RewardResult, or batches.

    details hold `parsed`, `correct` (None: there is no label), `reason` (the parse error) and
    `judge_score` (the judge's 0-10).

    Usage: reward = RemoteJudgeReward(RemoteJudgeClient(url)); reward(PolicySample("2+2?", "4"), "4").score
    """

    def __init__(self, client: RemoteJudgeClient, unparsed_reward: float = 0.0, name: str = "remote_judge"):
        self.client = client
        self.unparsed_reward = float(unparsed_reward)
        self.name = name

    @staticmethod
    def _items(samples: Sequence[PolicySample], completions: Sequence[str]) -> list[ScoreItem]:
        if len(samples) != len(completions):
            raise ValueError(f"{len(samples)} samples for {len(completions)} completions")
        return [ScoreItem(s.question, c, s.reference) for s, c in zip(samples, completions, strict=True)]

    def __call__(self, sample: PolicySample, completion: str) -> RewardResult:
        """The reward of one completion (raises RemoteJudgeError). Usage: reward(sample, "4").score"""
        return self.batch([sample], [completion])[0]

    def batch(self, samples: Sequence[PolicySample], completions: Sequence[str]) -> list[RewardResult]:
        """Rewards of aligned samples and completions, scored concurrently. Usage: reward.batch(s, c)"""
        replies = self.client.score(self._items(samples, completions))
        return self.client.results(replies, self.unparsed_reward)

    async def abatch(self, samples: Sequence[PolicySample], completions: Sequence[str]) -> list[RewardResult]:
        """Async `batch`. Usage: results = await reward.abatch(samples, completions)"""
        items = self._items(samples, completions)
        return self.client.results(await self.client.ascore(items) if items else [], self.unparsed_reward)


def remote_trl_reward(
    url: str,
    reference_column: str | None = "reference",
    unparsed_reward: float = 0.0,
    name: str = "remote_judge",
    asynchronous: bool = False,
    **client_options: Any,
) -> Callable[..., Any]:
    """A TRL `reward_funcs` entry scoring each completion with the served judge (one batch per call).

    With a `reference_column` present in the dataset, each completion is judged against that
    reference; without it, pointwise. `asynchronous=True` returns a coroutine function, which
    TRL's GRPOTrainer awaits alongside its other async rewards. Raises RemoteJudgeError when the
    server cannot score. The rate of unparsed judgements is logged as
    `remote_judge_parse_failure_rate`; the client is `.client`.

    >>> f = remote_trl_reward("http://127.0.0.1:8000")
    >>> f.__name__
    'remote_judge'
    """
    reward = RemoteJudgeReward(RemoteJudgeClient(url, **client_options), unparsed_reward, name)
    fn = policy_to_trl(reward, reference_column=reference_column, name=name, asynchronous=asynchronous)
    fn.client = reward.client  # type: ignore[attr-defined]
    return fn


def remote_verl_compute_score(
    url: str, unparsed_reward: float = 0.0, **client_options: Any
) -> Callable[..., Any]:
    """A verl `compute_score` calling the served judge, per sample or per batch (plural arguments).

    ground_truth is the reference answer (or a dict with `reference`, `question`); the question
    comes from extra_info['question']. Returns {"score": reward, "judge_parsed": 0|1} per sample.

    Usage: compute_score = remote_verl_compute_score("http://127.0.0.1:8000", timeout=60)
    """
    reward = RemoteJudgeReward(RemoteJudgeClient(url, **client_options), unparsed_reward)
    compute_score = policy_to_verl(reward)
    compute_score.client = reward.client  # type: ignore[attr-defined]
    return compute_score


_CLIENTS: dict[tuple, RemoteJudgeClient] = {}


def remote_judge_reward(
    sample: JudgeSample,
    completion: str,
    *,
    url: str = "http://127.0.0.1:8000",
    reference: str = "label",
    timeout: float = 120.0,
    retries: int = 3,
    unparsed_reward: float = 0.0,
) -> RewardResult:
    """The served judge's reward for one completion to `sample`'s question, in [0, 1].

    Registered lazily as the `remote_judge` reward. `reference: label` judges the completion
    against the sample's preferred response, `reference: none` scores it pointwise. The token
    comes from $JUDGERL_SERVE_TOKEN (never from a recipe). Raises RemoteJudgeError when the
    server cannot score.

    Usage: rewards: [{name: remote_judge, url: "http://127.0.0.1:8000", reference: label}]
    """
    if reference not in ("label", "none"):
        raise ValueError(f"remote_judge: reference must be 'label' or 'none', got {reference!r}")
    if sample.source == "reward" and not sample.response_a and not sample.response_b:
        # adapters.to_trl/to_verl rebuild samples from label columns only: no question, no responses
        raise ValueError(
            "remote_judge needs the real question and responses, but got a sample rebuilt from reward "
            "columns (to_trl/to_verl); use remote_trl_reward / remote_verl_compute_score for TRL and verl"
        )
    key = (url, timeout, retries)
    client = _CLIENTS.get(key) or _CLIENTS.setdefault(
        key, RemoteJudgeClient(url, timeout=timeout, retries=retries)
    )
    ref = (sample.response_a if sample.label == "a" else sample.response_b) if reference == "label" else None
    return RemoteJudgeReward(client, unparsed_reward)(PolicySample(sample.question, ref), completion)
