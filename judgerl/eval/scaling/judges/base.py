"""Judges for selection: anything that scores a prompt's candidates, behind one small interface.

    judge.score(prompt, candidates) -> list[float]        (higher is better)

Kinds, by the spec string the CLI and the `scaling` stage take:
- `oracle:EPS`       the truth with noise: r = 10*c + 10*EPS*N(0, 1), clamped to [0, 10], seeded;
- `generative:PATH`  a causal LM prompted for a 0-10 score (greedy, first number, clamped);
- `prm:PATH`         a two-class head: steps joined by a separator token, 10 x the mean
                     positive-class probability at the separators (a sequence-classification
                     head scores the whole solution: 10 x P(positive));
- `http:URL`         a reward endpoint: POST JSON, read a score (timeouts, retries with backoff);
- `pairwise:PATH`    a judgerl pairwise judge: each candidate's win rate over the others, x 10;
- `probe:NAME`       a callable registered with `register_probe` (or `probe:module:function`).

Judges that can batch implement `score_batch(prompts, candidate_lists) -> list[PromptScores]`,
marking a candidate they could not score with NaN and counting it; `score_all` fills such gaps
with the judge's `missing` score, reports the count, and caches scores on disk so an interrupted
sweep resumes and a rerun with the same judge does not score again.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.logging import get_logger
from judgerl.eval.scaling.candidates import PromptCandidates, extract_answer

log = get_logger("judgerl.scaling")
SCORE_LOW, SCORE_HIGH = 0.0, 10.0
JUDGE_KINDS: tuple[str, ...] = ("oracle", "generative", "prm", "http", "pairwise", "probe")


@runtime_checkable
class SelectionJudge(Protocol):
    """What every judge for selection provides."""

    name: str

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate, in order (higher is better). Usage: judge.score("2+2?", ["4", "5"])."""
        ...


@dataclass
class PromptScores:
    """A judge's scores for one prompt: NaN where it gave none, `failures` such gaps or unusable
    outputs behind the scores (e.g. unparseable pairwise verdicts), `calls` model calls or requests."""

    scores: list[float]
    failures: int = 0
    calls: int = 0


class BatchJudge:
    """Base of judges that score many prompts at once; `score` fills gaps with `missing`."""

    name: str = "judge"
    missing: float = SCORE_LOW

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Scores for each prompt's candidates. Usage: judge.score_batch(["q"], [["a", "b"]])."""
        raise TypeError(f"{type(self).__name__} must implement score_batch")

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate; a candidate the judge could not score gets `missing`.

        Usage: judge.score("2+2?", ["4", "5"])
        """
        (result,) = self.score_batch([prompt], [candidates])
        return [self.missing if math.isnan(s) else s for s in result.scores]

    def fingerprint(self) -> dict[str, Any]:
        """What makes this judge's scores what they are (cached scores are reused only if it matches)."""
        return {"name": self.name}


# ---------------------------------------------------------------- (f) oracle with noise


def _key_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class OracleJudge(BatchJudge):
    """The truth with Gaussian noise: r = clamp(10*c + 10*eps*z, 0, 10), z ~ N(0, 1).

    z is drawn from a generator seeded with (seed, hash of prompt and candidates), so a
    candidate's noise never depends on call order, and oracles with different eps share the same
    z (their curves differ by the noise scale alone).

    >>> item = PromptCandidates("q", "2+2?", ["4", "5"], [1.0, 0.0])
    >>> OracleJudge([item], eps=0.0).score("2+2?", ["4", "5"])
    [10.0, 0.0]
    """

    def __init__(self, items: Sequence[PromptCandidates], eps: float, seed: int = 0) -> None:
        if not eps >= 0:
            raise ValueError(f"oracle noise eps must be >= 0, got {eps}")
        self.eps = float(eps)
        self.seed = int(seed)
        self.name = f"oracle:{eps:g}"
        self._truth = {item.key: item.correctness for item in items}

    def fingerprint(self) -> dict[str, Any]:
        """Kind, eps and seed."""
        return {"name": self.name, "eps": self.eps, "seed": self.seed}

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Noisy truth for each prompt (only prompts the oracle was built with)."""
        out = []
        for prompt, cands in zip(prompts, candidate_lists, strict=True):
            key = PromptCandidates("", prompt, list(cands), [0.0] * len(cands)).key
            if key not in self._truth:
                raise KeyError(f"the oracle knows only the candidates it was built with; not {prompt[:60]!r}")
            c = np.asarray(self._truth[key], dtype=np.float64)
            z = np.random.default_rng([self.seed, _key_int(key)]).standard_normal(c.size)
            r = np.clip(SCORE_HIGH * c + SCORE_HIGH * self.eps * z, SCORE_LOW, SCORE_HIGH)
            out.append(PromptScores([float(x) for x in r]))
        return out


# ---------------------------------------------------------------- (a) generative 0-10 scorer


class GenerativeScoreJudge(BatchJudge):
    """A causal LM asked for a 0-10 score of each candidate (greedy), read by `parse_score`.

    Usage: GenerativeScoreJudge(make_generator("hf", "Qwen/Qwen2.5-7B-Instruct"), max_new_tokens=8)
    """

    def __init__(
        self,
        generator: Any,
        name: str = "generative",
        max_new_tokens: int = 8,
        batch_size: int = 32,
        instruction: str = "full",
        missing: float = SCORE_LOW,
        progress: bool = False,
    ) -> None:
        from judgerl.models.generation import SamplingSpec

        self.generator = generator
        self.name = name
        self.instruction = instruction
        self.missing = float(missing)
        self.progress = progress
        self.sampling = SamplingSpec(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size)

    def fingerprint(self) -> dict[str, Any]:
        """Name, prompt instruction, decoding length and the missing-score rule."""
        return {
            "name": self.name,
            "instruction": self.instruction,
            "max_new_tokens": self.sampling.max_new_tokens,
            "missing": self.missing,
        }

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """One generation per candidate; an unparseable reply is NaN and counted."""
        from judgerl.data_prep.score_prompts import render_score_messages
        from judgerl.rewards.score_parser import parse_score

        flat = [(i, c) for i, cands in enumerate(candidate_lists) for c in cands]
        messages = [render_score_messages(prompts[i], c, self.instruction) for i, c in flat]  # type: ignore[arg-type]
        texts = self.generator.generate(messages, self.sampling, progress=self.progress, desc="scoring")
        out = [PromptScores([], 0, 0) for _ in prompts]
        for (i, _), completions in zip(flat, texts, strict=True):
            parsed = parse_score(completions[0])
            out[i].scores.append(parsed.value if parsed.ok else math.nan)  # type: ignore[arg-type]
            out[i].failures += not parsed.ok
            out[i].calls += 1
        return out


# ---------------------------------------------------------------- (b) PRM-style scorer

PRM_SEPARATOR = "<extra_0>"
PRM_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


def split_steps(solution: str) -> list[str]:
    """A solution's reasoning steps: its non-empty lines, or its sentences when it is one line.

    >>> split_steps("a = 1\\n\\nb = 2\\n#### 2")
    ['a = 1', 'b = 2', '#### 2']
    >>> split_steps("First x = 2. Then y = 3.")
    ['First x = 2.', 'Then y = 3.']
    """
    lines = [line.strip() for line in solution.splitlines() if line.strip()]
    if len(lines) > 1:
        return lines
    text = lines[0] if lines else ""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return sentences or [text]


class PRMJudge(BatchJudge):
    """A process reward model: 10 x mean positive-class probability at the step separators.

    The model's output `logits` must be [batch, tokens, 2] (a token-classification / PRM head;
    the score averages the separator positions) or [batch, 2] (a sequence-classification head:
    the score is 10 x P(positive) of the whole solution). Sequences are right-padded, so a score
    does not depend on the batch it was computed in.

    Usage: model, tok = load_prm("Qwen/Qwen2.5-Math-PRM-7B", trust_remote_code=True); PRMJudge(model, tok)
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str = "prm",
        separator: str = PRM_SEPARATOR,
        positive_label: int = 1,
        batch_size: int = 8,
        max_length: int = 4096,
        system_prompt: str | None = PRM_SYSTEM,
        missing: float = SCORE_LOW,
    ) -> None:
        ids = tokenizer.encode(separator, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(
                f"PRM step separator {separator!r} must be one token of the tokenizer, got ids {ids}; "
                "pass the model's own separator (Qwen2.5-Math-PRM: '<extra_0>') or add it as a special token"
            )
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right"
        if getattr(model.config, "pad_token_id", None) is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.separator = separator
        self.separator_id = ids[0]
        self.positive_label = positive_label
        self.batch_size = batch_size
        self.max_length = max_length
        self.system_prompt = system_prompt
        self.missing = float(missing)

    def fingerprint(self) -> dict[str, Any]:
        """Name, separator, positive label, length limit and system prompt."""
        return {
            "name": self.name,
            "separator": self.separator,
            "positive_label": self.positive_label,
            "max_length": self.max_length,
            "system_prompt": self.system_prompt,
        }

    def render(self, prompt: str, solution: str) -> str:
        """The text the PRM reads: question, then the steps each followed by the separator.

        Usage: judge.render("2+2?", "2+2=4\\n#### 4")
        """
        steps = self.separator.join(split_steps(solution)) + self.separator
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": steps}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        return f"{prompt}\n\n{steps}"

    def _score_texts(self, texts: list[str]) -> list[float]:
        import torch

        device = next(self.model.parameters()).device
        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            add_special_tokens=False,
            return_tensors="pt",
        ).to(device)
        with torch.inference_mode():
            out = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        logits = out.logits if hasattr(out, "logits") else out[0]
        if logits.shape[-1] != 2 or logits.dim() not in (2, 3):
            raise ValueError(
                f"a PRM needs a two-class head: logits [batch, tokens, 2] or [batch, 2], got {tuple(logits.shape)}"
            )
        pos = torch.softmax(logits.float(), dim=-1)[..., self.positive_label]
        if logits.dim() == 2:
            return (SCORE_HIGH * pos).tolist()
        at_sep = (enc["input_ids"] == self.separator_id) & enc["attention_mask"].bool()
        counts = at_sep.sum(dim=1)
        mean = (pos * at_sep).sum(dim=1) / counts.clamp_min(1)
        return [SCORE_HIGH * float(m) if int(n) else math.nan for m, n in zip(mean, counts, strict=True)]

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Forward passes in batches of `batch_size`; a solution whose separators were all cut off
        by `max_length` is NaN and counted."""
        flat = [(i, self.render(prompts[i], c)) for i, cands in enumerate(candidate_lists) for c in cands]
        scores: list[float] = []
        for start in range(0, len(flat), self.batch_size):
            scores += self._score_texts([t for _, t in flat[start : start + self.batch_size]])
        out = [PromptScores([], 0, 0) for _ in prompts]
        for (i, _), s in zip(flat, scores, strict=True):
            out[i].scores.append(s)
            out[i].failures += math.isnan(s)
            out[i].calls += 1
        return out


def load_prm(
    path: str, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """Load a two-class-head model and its tokenizer: token classification, sequence
    classification, or (e.g. Qwen2.5-Math-PRM, with trust_remote_code) the model's own class.

    Usage: model, tok = load_prm("runs/prm/checkpoint", device="cpu")
    """
    import torch
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    archs = " ".join(config.architectures or [])
    if "TokenClassification" in archs:
        cls: Any = AutoModelForTokenClassification
    elif "SequenceClassification" in archs:
        cls = AutoModelForSequenceClassification
    else:
        cls = AutoModel
    dev = (
        "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    )
    torch_dtype: Any = (
        torch.float32 if dtype == "auto" and dev == "cpu" else ("auto" if dtype == "auto" else dtype)
    )
    model = cls.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code).to(dev)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    return model, tokenizer


# ---------------------------------------------------------------- (c) HTTP endpoint


class JudgeEndpointError(StageError):
    """An HTTP judge gave no score: unreachable after every retry, or an answer it cannot read."""


RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class HTTPJudge(BatchJudge):
    """A reward endpoint: one POST per candidate, JSON in, a score out.

    Request body, by `body_format`: "judgerl" sends {"question", "response"} (`judgerl serve`'s
    POST /v1/score, pointwise 0-10); "seed" sends {"prompt", "response", "cot", "final_answer"}
    (the seed's endpoint reads the solution as `cot` and its extracted final answer); "auto"
    (default) picks "judgerl" for a URL ending in /v1/score, else "seed". The reply is a JSON
    number or an object holding `score_key`; a null score (the endpoint read no judgement) is
    NaN, counted as a failure. Connection errors, timeouts and HTTP 408, 425, 429, 5xx are
    retried `retries` times with exponential backoff (backoff, 2x, 4x, ...); then, or on any
    other HTTP error or an unreadable reply, JudgeEndpointError: a score never silently becomes
    0. Loopback URLs bypass proxy settings.

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
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        if body_format not in ("auto", "judgerl", "seed"):
            raise ValueError(f"HTTP judge body_format must be auto, judgerl or seed, got {body_format!r}")
        if body_format == "auto":
            body_format = "judgerl" if parsed.path.rstrip("/").endswith("/v1/score") else "seed"
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
        self.requests = 0  # every attempt, retries included
        self._lock = threading.Lock()
        loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
        handlers = [urllib.request.ProxyHandler({})] if loopback else []
        self._opener = urllib.request.build_opener(*handlers)

    def fingerprint(self) -> dict[str, Any]:
        """Name, URL, request format and the field read from the reply."""
        return {"name": self.name, "url": self.url, "score_key": self.score_key, "format": self.body_format}

    def body(self, prompt: str, candidate: str) -> dict[str, Any]:
        """The request body for one candidate.

        >>> HTTPJudge("http://127.0.0.1:8000/v1/score").body("2+2?", "4")
        {'question': '2+2?', 'response': '4'}
        """
        if self.body_format == "judgerl":
            return {"question": prompt, "response": candidate}
        return {
            "prompt": prompt,
            "response": candidate,
            "cot": candidate,
            "final_answer": extract_answer(candidate) or "",
        }

    def _read(self, payload: bytes) -> float:
        try:
            data = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise JudgeEndpointError(
                f"HTTP judge {self.url}: reply is not JSON ({e}): {payload[:200]!r}"
            ) from e
        value = data.get(self.score_key, "missing") if isinstance(data, dict) else data
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise JudgeEndpointError(
                f"HTTP judge {self.url}: expected a finite number in {self.score_key!r}, got {str(data)[:200]}"
            )
        return float(value)

    def post(self, body: dict[str, Any]) -> float:
        """POST one request (with retries) and return its score. Usage: judge.post({"prompt": ..., ...})."""
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            with self._lock:
                self.requests += 1
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with self._opener.open(request, timeout=self.timeout) as reply:
                    payload = reply.read()
            except urllib.error.HTTPError as e:
                detail = e.read()[:200].decode(errors="replace")
                if e.code in RETRY_STATUS:
                    last = f"HTTP {e.code} {detail}".strip()
                    continue
                raise JudgeEndpointError(f"HTTP judge {self.url}: HTTP {e.code}: {detail}") from e
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                reason = getattr(e, "reason", e)
                last = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
                continue
            return self._read(payload)
        raise JudgeEndpointError(
            f"HTTP judge {self.url}: no score after {self.retries + 1} attempts (timeout {self.timeout:g} s; "
            f"last error: {last}); is the endpoint running and reachable?"
        )

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """One request per candidate, `concurrency` at a time; results keep the input order."""
        bodies = [(i, self.body(prompts[i], c)) for i, cands in enumerate(candidate_lists) for c in cands]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            scores = list(pool.map(lambda b: self.post(b[1]), bodies))
        out = [PromptScores([], 0, 0) for _ in prompts]
        for (i, _), s in zip(bodies, scores, strict=True):
            out[i].scores.append(s)
            out[i].failures += math.isnan(s)
            out[i].calls += 1
        return out


# ---------------------------------------------------------------- (d) pairwise judge -> scores


class PairwiseScoreJudge(BatchJudge):
    """A judgerl pairwise judge turned into scores: 10 x each candidate's win rate over the others.

    Every pair of a prompt's candidates is judged (both orders by default) with the shared
    renderer and strict parser (`judgerl.eval.pairwise.judge_samples`). A verdict gives its winner
    one win; an unparseable verdict counts as a tie (half a win each) and as a failure. A prompt
    with one candidate scores 5. Cost: k(k-1) judgements per prompt with both orders.

    Usage: PairwiseScoreJudge(make_generator("hf", "runs/quickstart/sft/checkpoint"), PromptSpec("cot"))
    """

    def __init__(
        self,
        generator: Any,
        prompt_spec: Any = None,
        name: str = "pairwise",
        max_new_tokens: int = 512,
        batch_size: int = 32,
        both_orders: bool = True,
    ) -> None:
        from judgerl.data_prep.prompts import PromptSpec
        from judgerl.models.generation import SamplingSpec

        self.generator = generator
        self.prompt_spec = prompt_spec or PromptSpec()
        self.name = name
        self.both_orders = both_orders
        self.sampling = SamplingSpec(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size)
        self.missing = SCORE_HIGH / 2

    def fingerprint(self) -> dict[str, Any]:
        """Name, prompt, decoding length and orders."""
        spec = self.prompt_spec
        return {
            "name": self.name,
            "prompt": [spec.family, spec.hint, spec.instruction],
            "max_new_tokens": self.sampling.max_new_tokens,
            "both_orders": self.both_orders,
        }

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Judge all pairs of every prompt in one call, then count wins."""
        from judgerl.core.types import JudgeSample
        from judgerl.eval.pairwise import judge_samples

        samples, where = [], {}
        for p, (prompt, cands) in enumerate(zip(prompts, candidate_lists, strict=True)):
            for i in range(len(cands)):
                for j in range(i + 1, len(cands)):
                    sid = f"{p}:{i}:{j}"
                    # The label is unused: only the verdict's choice counts here.
                    samples.append(
                        JudgeSample(
                            sid, "scaling", [{"role": "user", "content": prompt}], cands[i], cands[j], "a"
                        )
                    )
                    where[sid] = (p, i, j)
        judgements = judge_samples(
            self.generator,
            samples,
            self.prompt_spec,
            self.sampling,
            chunk_size=max(128, self.sampling.batch_size),
            both_orders=self.both_orders,
        )
        wins = [np.zeros(len(c)) for c in candidate_lists]
        games = [np.zeros(len(c)) for c in candidate_lists]
        out = [PromptScores([], 0, 0) for _ in prompts]
        for j in judgements:
            p, a, b = where[j.sample_id]
            if j.order == "ba":
                a, b = b, a  # response (a) of a swapped sample is candidate j
            games[p][[a, b]] += 1
            out[p].calls += 1
            if j.verdict.choice is None:
                wins[p][[a, b]] += 0.5
                out[p].failures += 1
            else:
                wins[p][a if j.verdict.choice == "a" else b] += 1
        for p in range(len(prompts)):
            rate = np.divide(wins[p], games[p], out=np.full(len(wins[p]), 0.5), where=games[p] > 0)
            out[p].scores = [float(SCORE_HIGH * r) for r in rate]
        return out


# ---------------------------------------------------------------- (e) probes


ProbeFn = Callable[[str, list[str]], Sequence[float]]
PROBES: dict[str, ProbeFn] = {}


def register_probe(name: str, fn: ProbeFn | None = None) -> Any:
    """Register a probe scorer `fn(prompt, candidates) -> scores` as `probe:NAME`; also a decorator.

    >>> @register_probe("length")
    ... def by_length(prompt, candidates):
    ...     return [float(len(c)) for c in candidates]
    >>> ProbeJudge.named("length").score("q", ["ab", "a"])
    [2.0, 1.0]
    """
    if not name or ":" in name:
        raise ValueError(f"probe name must be non-empty and without ':', got {name!r}")

    def add(f: ProbeFn) -> ProbeFn:
        if not callable(f):
            raise TypeError(f"probe {name!r} must be callable, got {type(f).__name__}")
        PROBES[name] = f
        return f

    return add if fn is None else add(fn)


def get_probe(name: str) -> ProbeFn:
    """A registered probe, or `module:function` imported (for probes defined outside judgerl).

    Usage: fn = get_probe("length"); fn = get_probe("my_pkg.probes:correctness")
    """
    if name in PROBES:
        return PROBES[name]
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"probe {name!r}: cannot import {attr!r} from {module!r} ({e})") from e
        if not callable(fn):
            raise ValueError(f"probe {name!r} is not callable")
        return fn
    known = ", ".join(sorted(PROBES)) or "none registered"
    raise ValueError(f"no probe named {name!r} (registered: {known}; or give module:function)")


class ProbeJudge(BatchJudge):
    """A registered probe used as a judge; a non-finite score is NaN and counted.

    Usage: ProbeJudge.named("correctness").score(prompt, candidates)
    """

    def __init__(self, fn: ProbeFn, name: str) -> None:
        self.fn = fn
        self.name = name

    @classmethod
    def named(cls, name: str) -> ProbeJudge:
        """The judge of probe `name` (see `get_probe`)."""
        return cls(get_probe(name), f"probe:{name}")

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Calls the probe once per prompt."""
        out = []
        for prompt, cands in zip(prompts, candidate_lists, strict=True):
            raw = [float(x) for x in self.fn(prompt, list(cands))]
            if len(raw) != len(cands):
                raise ValueError(f"{self.name} returned {len(raw)} scores for {len(cands)} candidates")
            bad = [not math.isfinite(x) for x in raw]
            out.append(
                PromptScores([math.nan if b else x for x, b in zip(raw, bad, strict=True)], sum(bad), 1)
            )
        return out


# ---------------------------------------------------------------- specs, building, scoring


def parse_judge_spec(spec: str) -> tuple[str, str]:
    """Split a judge spec into (kind, argument); a bare URL is an HTTP judge.

    >>> parse_judge_spec("oracle:0.1"), parse_judge_spec("http://127.0.0.1:8000/score")
    (('oracle', '0.1'), ('http', 'http://127.0.0.1:8000/score'))
    """
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        return "http", spec
    kind, sep, arg = spec.partition(":")
    if kind not in JUDGE_KINDS or not sep or not arg:
        raise ValueError(
            f"judge spec {spec!r}: expected KIND:ARG with KIND one of {', '.join(JUDGE_KINDS)} "
            "(oracle:0.1, generative:PATH, prm:PATH, http:URL, pairwise:PATH, probe:NAME)"
        )
    if kind == "oracle":
        try:
            eps = float(arg)
        except ValueError:
            raise ValueError(f"judge spec {spec!r}: oracle noise must be a number, e.g. oracle:0.1") from None
        if not eps >= 0 or math.isinf(eps):
            raise ValueError(f"judge spec {spec!r}: oracle noise must be a finite number >= 0")
    return kind, arg


@dataclass
class JudgeOptions:
    """How model-backed judges are built: generation backend and lengths, pairwise prompt, HTTP knobs."""

    backend: str = "hf"
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int = 32
    score_max_new_tokens: int = 8
    score_instruction: str = "full"
    pairwise_max_new_tokens: int = 512
    prompt: Any = None
    both_orders: bool = True
    prm_separator: str = PRM_SEPARATOR
    prm_max_length: int = 4096
    trust_remote_code: bool = False
    http_timeout: float = 30.0
    http_retries: int = 3
    http_backoff: float = 0.5
    http_token_env: str = "JUDGERL_JUDGE_TOKEN"
    seed: int = 0
    progress: bool = True


def build_judge(
    spec: str, items: Sequence[PromptCandidates], options: JudgeOptions | None = None
) -> BatchJudge:
    """The judge a spec names; models load lazily, only for the kinds that need one.

    >>> judge = build_judge("oracle:0.5", [PromptCandidates("q", "p", ["a"], [1.0])])
    >>> judge.name, judge.score("p", ["a"])[0] <= 10.0
    ('oracle:0.5', True)
    """
    opts = options or JudgeOptions()
    kind, arg = parse_judge_spec(spec)
    if kind == "oracle":
        return OracleJudge(items, float(arg), seed=opts.seed)
    if kind == "http":
        return HTTPJudge(
            arg,
            name=spec,
            timeout=opts.http_timeout,
            retries=opts.http_retries,
            backoff=opts.http_backoff,
            token=os.environ.get(opts.http_token_env) or None,
        )
    if kind == "probe":
        return ProbeJudge.named(arg)
    judge: BatchJudge
    if kind == "prm":
        model, tok = load_prm(
            arg, device=opts.device, dtype=opts.dtype, trust_remote_code=opts.trust_remote_code
        )
        judge = PRMJudge(
            model,
            tok,
            name=spec,
            separator=opts.prm_separator,
            batch_size=opts.batch_size,
            max_length=opts.prm_max_length,
        )
    else:
        from judgerl.models.generation import make_generator

        kwargs: dict[str, Any] = {"dtype": opts.dtype}
        if opts.backend == "hf":
            kwargs["device"] = opts.device
        generator = make_generator(opts.backend, arg, **kwargs)  # type: ignore[arg-type]
        if kind == "generative":
            judge = GenerativeScoreJudge(
                generator,
                name=spec,
                max_new_tokens=opts.score_max_new_tokens,
                batch_size=opts.batch_size,
                instruction=opts.score_instruction,
                progress=opts.progress,
            )
        else:
            judge = PairwiseScoreJudge(
                generator,
                opts.prompt,
                name=spec,
                max_new_tokens=opts.pairwise_max_new_tokens,
                batch_size=opts.batch_size,
                both_orders=opts.both_orders,
            )
    judge.checkpoint_stamp = checkpoint_stamp(arg)  # type: ignore[attr-defined]
    return judge


@dataclass
class ScoredPool:
    """A judge's scores for every prompt (gaps filled with its `missing` score) and how they went."""

    judge: str
    rewards: list[list[float]]
    failures: int = 0
    calls: int = 0
    candidates: int = 0
    reused_prompts: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready record of this scoring run (without the scores)."""
        return {
            "judge": self.judge,
            "candidates": self.candidates,
            "failures": self.failures,
            "failure_rate": round(self.failures / max(1, self.calls), 4),
            "calls": self.calls,
            "reused_prompts": self.reused_prompts,
            "seconds": round(self.seconds, 2),
        } | self.details


def checkpoint_stamp(path: str, edge: int = 1 << 20) -> list[list[Any]]:
    """Name, size and a content hash (the first and last `edge` bytes) of every file of a local
    checkpoint folder ([] for a hub id): a model retrained into the same folder gets a new stamp,
    so its cached scores are not reused; an identical rebuild keeps it. Fast on multi-GB weights.

    Usage: checkpoint_stamp("runs/quickstart/sft/checkpoint")
    """
    folder = Path(path)
    if not folder.is_dir():
        return []
    stamp: list[list[Any]] = []
    for f in sorted(folder.iterdir()):
        if f.is_file():
            size = f.stat().st_size
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                h.update(fh.read(edge))
                if size > edge:
                    fh.seek(max(edge, size - edge))
                    h.update(fh.read(edge))
            stamp.append([f.name, size, h.hexdigest()[:16]])
    return stamp


def judge_cache_name(judge: Any) -> str:
    """The cache file name of a judge's scores: a readable slug plus a hash of its fingerprint
    (and of its checkpoint's files, for judges built from a local folder by `build_judge`).

    >>> judge_cache_name(OracleJudge([], 0.1))
    'oracle_0.1-256a0d52.jsonl'
    """
    fp = judge.fingerprint() if hasattr(judge, "fingerprint") else {"name": getattr(judge, "name", "judge")}
    if getattr(judge, "checkpoint_stamp", None):
        fp = fp | {"checkpoint": judge.checkpoint_stamp}
    digest = hashlib.sha256(json.dumps(fp, sort_keys=True, default=str).encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", str(fp.get("name", "judge"))).strip("_")[-60:]
    return f"{slug}-{digest}.jsonl"


def _cached_rows(path: Path | None) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    if path is None:
        return rows
    for p in (path, path.with_name(path.name + ".partial")):
        if p.exists():
            with open(p, encoding="utf-8") as f:
                for line in f:
                    try:
                        row = json.loads(line)
                        rows[str(row["id"])] = row
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue  # a line cut by a crash: that prompt is scored again
    return rows


def _as_batch(judge: Any, prompts: list[str], cands: list[list[str]]) -> list[PromptScores]:
    if hasattr(judge, "score_batch"):
        return judge.score_batch(prompts, cands)
    out = []
    for p, c in zip(prompts, cands, strict=True):
        raw = [float(x) for x in judge.score(p, c)]
        bad = [not math.isfinite(x) for x in raw]
        out.append(PromptScores([math.nan if b else x for x, b in zip(raw, bad, strict=True)], sum(bad), 1))
    return out


def score_all(
    judge: Any,
    items: Sequence[PromptCandidates],
    cache_path: str | os.PathLike[str] | None = None,
    chunk_size: int = 64,
    progress: bool = True,
) -> ScoredPool:
    """Score every prompt's candidates with `judge`, resumably.

    With `cache_path`, each finished chunk is appended to `<cache_path>.partial`; prompts whose
    id and candidate hash are already cached are not scored again; the full cache is written
    atomically at the end. NaN scores (no score) are filled with the judge's `missing` score and
    counted in `failures`.

    Usage: pool = score_all(OracleJudge(items, 0.1), items, "runs/scaling/scores/oracle.jsonl")
    """
    from tqdm.auto import tqdm

    name = getattr(judge, "name", type(judge).__name__)
    missing = float(getattr(judge, "missing", SCORE_LOW))
    path = Path(cache_path) if cache_path is not None else None
    cached = _cached_rows(path)
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        row = cached.get(item.id)
        if row is not None and row.get("key") == item.key and len(row.get("scores", [])) == item.pool_size:
            rows[item.id] = row
    reused = len(rows)
    todo = [item for item in items if item.id not in rows]
    start = time.time()
    partial = path.with_name(path.name + ".partial") if path else None
    if partial:
        partial.parent.mkdir(parents=True, exist_ok=True)
    f = open(partial, "a", encoding="utf-8") if partial else None  # noqa: SIM115
    try:
        with tqdm(total=len(todo), desc=f"scoring with {name}", disable=not progress or not todo) as bar:
            for s in range(0, len(todo), chunk_size):
                chunk = todo[s : s + chunk_size]
                results = _as_batch(judge, [i.prompt for i in chunk], [list(i.candidates) for i in chunk])
                if len(results) != len(chunk):
                    raise ValueError(f"{name} scored {len(results)} prompts of {len(chunk)}")
                for item, res in zip(chunk, results, strict=True):
                    if len(res.scores) != item.pool_size:
                        raise ValueError(
                            f"{name} gave {len(res.scores)} scores for {item.pool_size} candidates"
                        )
                    row = {
                        "id": item.id,
                        "key": item.key,
                        "scores": [None if math.isnan(x) else x for x in res.scores],
                        "failures": res.failures,
                        "calls": res.calls,
                    }
                    rows[item.id] = row
                    if f:
                        f.write(json.dumps(row) + "\n")
                if f:
                    f.flush()
                    os.fsync(f.fileno())
                bar.update(len(chunk))
    finally:
        if f:
            f.close()
    ordered = [rows[item.id] for item in items]
    if path is not None and (todo or not path.exists()):
        write_jsonl(path, ordered)
    if partial:
        partial.unlink(missing_ok=True)
    rewards = [[missing if x is None else float(x) for x in row["scores"]] for row in ordered]
    gaps = sum(x is None for row in ordered for x in row["scores"])
    return ScoredPool(
        judge=name,
        rewards=rewards,
        failures=sum(int(row.get("failures", 0)) for row in ordered),
        calls=sum(int(row.get("calls", 0)) for row in ordered),
        candidates=sum(item.pool_size for item in items),
        reused_prompts=reused,
        seconds=time.time() - start,
        details={"missing_score": missing, "filled": gaps},
    )
