"""Labelling (question, prediction) rows with a strong LLM judge: a 1-5 score and a justification per aspect.

Two backends: any OpenAI-compatible chat endpoint (`OpenAIChatClient`, on the one HTTP client
`judgerl.core.http.HTTPClient`: a timeout and its retry rule), or a local judgerl judge through the shared generation backend
(`GeneratorClient`). Labelling is resumable: every answer is appended to `<out>.partial.jsonl`
as it arrives, a rerun skips what is there, and the final file is written atomically.

    judgerl probe label --data solutions.jsonl --out scored.jsonl \
        --endpoint https://api.deepseek.com/v1 --api-model deepseek-chat
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from judgerl.core.errors import JudgeRLError
from judgerl.core.http import HTTPClient, HTTPError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.logging import get_logger
from judgerl.models.generation import Generator, SamplingSpec
from judgerl.probes.aspects import ASPECTS, check_aspect, labelling_prompt

log = get_logger("judgerl.probe")
_SCORE = re.compile(r"score\s*[:=]\s*(?:\*+\s*)?([1-5])\b", re.IGNORECASE)  # linear: no adjacent \s*


class LabellingError(JudgeRLError):
    """The labelling backend failed (unreachable, timed out, an HTTP error, a malformed reply)."""


class ChatClient(Protocol):
    """Anything that answers a list of prompts with one reply each, in order."""

    def complete_many(self, prompts: list[str]) -> list[str]:
        """Replies to `prompts`, in order. Usage: client.complete_many(["Rate ..."])."""
        ...


def parse_score(reply: str) -> int | None:
    """The 1-5 score of a judge reply: the last `Score: N`, or a reply that is only a digit; else None.

    >>> parse_score("Clear steps.\\nScore: 4"), parse_score(" 5 "), parse_score("Score: 9")
    (4, 5, None)
    """
    found = _SCORE.findall(reply)
    if found:
        return int(found[-1])
    stripped = reply.strip().strip(".*")
    return int(stripped) if stripped in {"1", "2", "3", "4", "5"} else None


def _justification(reply: str) -> str:
    return _SCORE.sub("", reply).strip()


@dataclass
class OpenAIChatClient:
    """An OpenAI-compatible /chat/completions endpoint (OpenAI, DeepSeek, vLLM serve, ...).

    The API key comes from `api_key` or the environment variable `api_key_env`; none is sent
    when neither is set (a local server). Each request has a timeout and `max_retries` retries
    with doubling backoff, by the retry rule of `judgerl.core.http` (connection errors, timeouts,
    408/425/429/500/502/503/504; Retry-After honoured).

    Usage: OpenAIChatClient("http://127.0.0.1:8000/v1", "qwen").complete_many(["Rate ..."])
    """

    base_url: str
    model: str
    api_key: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    max_retries: int = 2
    backoff: float = 1.0
    temperature: float = 0.0
    max_tokens: int = 256
    workers: int = 4

    def __post_init__(self) -> None:
        self._http = HTTPClient(timeout=self.timeout, retries=self.max_retries, backoff=self.backoff)

    def _request(self, prompt: str) -> str:
        url = self.base_url.rstrip("/") + "/chat/completions"
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        key = self.api_key or os.environ.get(self.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else None
        try:
            doc = self._http.post_json(url, body, headers=headers)
        except HTTPError as err:
            if err.exhausted:
                raise LabellingError(
                    f"{url}: failed after {err.attempts} attempt(s) (timeout {self.timeout} s): {err.message}"
                ) from None
            status = f"HTTP {err.status}: " if err.status is not None and err.status >= 400 else ""
            raise LabellingError(f"{url}: {status}{err.message}") from None
        try:
            return str(doc["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError):
            raise LabellingError(
                f"{url}: reply has no choices[0].message.content: {str(doc)[:200]}"
            ) from None

    def complete_many(self, prompts: list[str]) -> list[str]:
        """Replies to `prompts` in order, `workers` requests at a time. Usage: client.complete_many(prompts)"""
        if self.workers <= 1 or len(prompts) <= 1:
            return [self._request(p) for p in prompts]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(self._request, prompts))


@dataclass
class GeneratorClient:
    """A local judgerl judge through the shared generation backend (HF batched, or vLLM on GPUs).

    Usage: GeneratorClient(make_generator("hf", "runs/x/sft/checkpoint", device="cpu")).complete_many(prompts)
    """

    generator: Generator
    spec: SamplingSpec = field(default_factory=lambda: SamplingSpec(max_new_tokens=256, temperature=0.0))

    def complete_many(self, prompts: list[str]) -> list[str]:
        """Greedy (or as `spec` says) replies to `prompts` as user turns, in order.

        Usage: GeneratorClient(gen).complete_many(["Rate ..."])
        """
        outs = self.generator.generate(
            [[{"role": "user", "content": p}] for p in prompts], self.spec, progress=False
        )
        return [o[0] for o in outs]


@dataclass
class LabellingReport:
    """What a labelling run did: rows written, answers requested now, unparseable answers."""

    rows: int
    requested: int
    resumed: int
    unparseable: list[tuple[str, str]]

    def summary(self) -> str:
        """One line for the console. Usage: log.info(report.summary())"""
        return (
            f"labelled {self.rows} rows: {self.requested} answers requested, {self.resumed} resumed, "
            f"{len(self.unparseable)} unparseable"
        )


def _partial_done(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    done: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
                done[(str(rec["id"]), str(rec["aspect"]))] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut by an interruption: that answer is requested again
    return done


def label_rows(
    rows: Sequence[dict[str, Any]],
    client: ChatClient,
    out_path: str | os.PathLike[str],
    aspects: Sequence[str] = ASPECTS,
    question_key: str = "question",
    prediction_key: str = "prediction",
    id_key: str = "id",
    chunk: int = 32,
    progress: bool = True,
) -> LabellingReport:
    """Ask `client` for a 1-5 score per aspect of every row; write rows + `scores` to `out_path`.

    Each row gains {"scores": {aspect: {"score": n, "justification": text}}}; an unparseable
    answer leaves that aspect out (read_labels counts it as missing) and is listed in the report.

    Usage: label_rows(read_jsonl("sols.jsonl"), OpenAIChatClient(url, "deepseek-chat"), "scored.jsonl")
    """
    aspects = [check_aspect(a) for a in aspects]
    ids = [str(r.get(id_key, i)) for i, r in enumerate(rows)]
    if len(set(ids)) != len(ids):
        raise ValueError(f"row ids (key {id_key!r}) must be unique to resume labelling")
    for i, r in enumerate(rows):
        for k in (question_key, prediction_key):
            if not isinstance(r.get(k), str):
                raise ValueError(f"row {i}: {k!r} must be a string (keys: {sorted(r)})")
    out = Path(out_path)
    partial = out.with_name(out.name + ".partial.jsonl")
    done = _partial_done(partial)
    resumed = len(done)
    todo = [(i, a) for i, _ in enumerate(rows) for a in aspects if (ids[i], a) not in done]
    partial.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(partial, "a", encoding="utf-8") as f,
        tqdm(total=len(todo), desc="labelling", disable=not progress) as bar,
    ):
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            prompts = [labelling_prompt(rows[i][question_key], rows[i][prediction_key], a) for i, a in part]
            replies = client.complete_many(prompts)
            if len(replies) != len(prompts):
                raise LabellingError(f"backend returned {len(replies)} replies for {len(prompts)} prompts")
            for (i, a), reply in zip(part, replies, strict=True):
                rec = {"id": ids[i], "aspect": a, "score": parse_score(reply), "reply": reply}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                done[(ids[i], a)] = rec
            f.flush()
            bar.update(len(part))
    unparseable = []
    labelled = []
    for i, r in enumerate(rows):
        scores = {}
        for a in aspects:
            rec = done[(ids[i], a)]
            if rec["score"] is None:
                unparseable.append((ids[i], a))
            else:
                scores[a] = {"score": rec["score"], "justification": _justification(rec["reply"])}
        labelled.append({**r, "scores": scores})
    write_jsonl(out, labelled)
    partial.unlink()
    report = LabellingReport(len(labelled), len(todo), resumed, unparseable)
    log.info(report.summary())
    return report
