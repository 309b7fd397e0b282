"""The `http:URL` judge: a reward endpoint, one POST per candidate, JSON in, a score out.

Requests go through judgerl's one HTTP client (`judgerl.core.http.HTTPClient`) and its retry rule.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.http import HTTPClient, HTTPError
from judgerl.data_prep.answers import AnswerOrder, extract_answer
from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import BatchJudge, JudgeOptions, PromptScores
from judgerl.rewards.remote import SCORE_PATH  # the one base-URL convention of judgerl's clients


class JudgeEndpointError(StageError):
    """An HTTP judge gave no score: unreachable after every retry, or an answer it cannot read."""


class HTTPJudge(BatchJudge):
    """A reward endpoint: one POST per candidate, JSON in, a score out.

    The URL is a server's base URL (`http://127.0.0.1:8000`, as every judgerl client of `judgerl
    serve` takes: /v1/score is appended) or an endpoint's full URL (a path of its own is kept).
    Request body, by `body_format`: "judgerl" sends {"question", "response"} (`judgerl serve`'s
    POST /v1/score, pointwise 0-10); "seed" sends {"prompt", "response", "cot", "final_answer"}
    (the seed's endpoint reads the solution as `cot` and its extracted final answer); "auto"
    (default) picks "judgerl" for a URL ending in /v1/score, else "seed". The reply is a JSON
    number or an object holding `score_key`; a null score (the endpoint read no judgement) is
    NaN, counted as a failure. Connection errors, timeouts and HTTP 408, 425, 429, 5xx are
    retried `retries` times by `HTTPClient`'s rule (exponential backoff from `backoff`, or the
    server's Retry-After); then, or on any other HTTP error or an unreadable reply,
    JudgeEndpointError: a score never silently becomes 0. No proxy settings are used.

    Usage: HTTPJudge("http://127.0.0.1:8000/score", timeout=30, retries=3).score("2+2?", ["4", "5"])
    """

    def __init__(
        self,
        url: str,
        name: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        score_key: str = "score",
        token: str | None = None,
        concurrency: int = 4,
        body_format: str = "auto",
        answer_extraction: AnswerOrder = "last",
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.path in ("", "/"):  # a base URL: the endpoint of `judgerl serve`
            url = url.rstrip("/") + SCORE_PATH
            parsed = urllib.parse.urlparse(url)
        extract_answer("", answer_extraction)  # an unknown order is an error here, not at the first request
        self.answer_extraction = answer_extraction
        if body_format not in ("auto", "judgerl", "seed"):
            raise ValueError(f"HTTP judge body_format must be auto, judgerl or seed, got {body_format!r}")
        if body_format == "auto":
            body_format = "judgerl" if parsed.path.rstrip("/").endswith(SCORE_PATH) else "seed"
        self.body_format = body_format
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"HTTP judge URL must look like http://host:port/path, got {url!r}")
        if timeout <= 0 or retries < 0 or backoff < 0 or concurrency < 1:
            raise ValueError(
                f"HTTP judge needs timeout > 0, retries >= 0, backoff >= 0, concurrency >= 1; "
                f"got {timeout}, {retries}, {backoff}, {concurrency}"
            )
        self.url = url
        self.name = name or f"http:{url}"
        self.timeout, self.retries, self.backoff = float(timeout), int(retries), float(backoff)
        self.score_key = score_key
        self.token = token
        self.concurrency = concurrency
        self.http = HTTPClient(
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
            headers={"Authorization": f"Bearer {token}"} if token else None,
            max_connections=concurrency,
        )

    @property
    def requests(self) -> int:
        """Every request sent, retries included. Usage: judge.requests"""
        return self.http.stats.requests + self.http.stats.retries

    def fingerprint(self) -> dict[str, Any]:
        """Name, URL, request format and the field read from the reply. Usage: judge.fingerprint()"""
        fp = {"name": self.name, "url": self.url, "score_key": self.score_key, "format": self.body_format}
        # the seed body's final answer depends on the answer order; the default stays out of the
        # fingerprint, so caches written before the option existed stay valid
        if self.body_format == "seed" and self.answer_extraction != "last":
            fp["answer_extraction"] = self.answer_extraction
        return fp

    def body(self, prompt: str, candidate: str) -> dict[str, Any]:
        """The request body for one candidate.

        >>> HTTPJudge("http://127.0.0.1:8000/v1/score").body("2+2?", "4")
        {'question': '2+2?', 'response': '4'}

        Usage: judge.body("2+2?", "2+2=4\\n#### 4")
        """
        if self.body_format == "judgerl":
            return {"question": prompt, "response": candidate}
        return {
            "prompt": prompt,
            "response": candidate,
            "cot": candidate,
            "final_answer": extract_answer(candidate, self.answer_extraction) or "",
        }

    def _score_of(self, data: Any) -> float:
        value = data.get(self.score_key, "missing") if isinstance(data, dict) else data
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise JudgeEndpointError(
                f"HTTP judge {self.url}: expected a finite number in {self.score_key!r}, got {str(data)[:200]}"
            )
        return float(value)

    def _error(self, err: HTTPError) -> JudgeEndpointError:
        if err.exhausted:
            return JudgeEndpointError(
                f"HTTP judge {self.url}: no score after {err.attempts} attempts (timeout {self.timeout:g} s; "
                f"last error: {err.message}); is the endpoint running and reachable?"
            )
        if err.status is not None and err.status >= 400:
            return JudgeEndpointError(f"HTTP judge {self.url}: HTTP {err.status}: {err.message}")
        return JudgeEndpointError(f"HTTP judge {self.url}: reply is not JSON ({err.message})")

    def post(self, body: dict[str, Any]) -> float:
        """POST one request (with retries) and return its score. Usage: judge.post({"prompt": ..., ...})."""
        try:
            data = self.http.post_json(self.url, body)
        except HTTPError as err:
            raise self._error(err) from err
        return self._score_of(data)

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """One request per candidate, `concurrency` at a time; results keep the input order.

        Usage: judge.score_batch(["2+2?"], [["4", "5"]])
        """
        bodies = [(i, self.body(prompts[i], c)) for i, cands in enumerate(candidate_lists) for c in cands]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            scores = list(pool.map(lambda b: self.post(b[1]), bodies))
        out = [PromptScores([], 0, 0) for _ in prompts]
        for (i, _), s in zip(bodies, scores, strict=True):
            out[i].scores.append(s)
            out[i].failures += math.isnan(s)
            out[i].calls += 1
        return out

    def close(self) -> None:
        """Close the judge's HTTP connections. Usage: judge.close()"""
        self.http.close()


def build_http_judge(
    arg: str, spec: str, items: Sequence[PromptCandidates], options: JudgeOptions
) -> HTTPJudge:
    """The `http:URL` judge of a spec (a bare URL too), with the bearer token of `options.http_token_env`.

    Usage: build_http_judge("http://127.0.0.1:8000", "http:http://127.0.0.1:8000", [], JudgeOptions())
    """
    return HTTPJudge(
        arg,
        name=spec,
        timeout=options.http_timeout,
        retries=options.http_retries,
        backoff=options.http_backoff,
        token=os.environ.get(options.http_token_env) or None,
        answer_extraction=options.answer_extraction,
    )
