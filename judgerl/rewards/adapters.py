"""Engine adapters: the only place that knows TRL's and verl's reward calling conventions.

TRL calls each reward function as `f(prompts=..., completions=..., completion_ids=..., **columns)`
with every dataset column as a list aligned with completions. The GRPO dataset carries
`label` ('a'|'b'), `strength` (signed int, 0 = unknown), `sample_id` and `order` ('ab'|'ba').
verl calls `compute_score(data_source, solution_str, ground_truth, extra_info)` per sample, or
with plural argument names per batch (its `batch` reward manager).

How a completion's text is read (`completion_text`, the one reading for every engine and every
reward): a str is the text; a chat message or a list of them gives the assistant turns' contents
(multimodal text parts concatenated), non-empty ones joined with "\n"; a turn whose thinking a
response parser lifted into `reasoning_content` / `thinking` / `reasoning` gets it back as a
`<think>...</think>` block in front of its content; anything else reads as "".

Judge rewards (`to_trl`, `to_verl`, `to_verl_batch`) rebuild a `JudgeSample` from the label
columns. Policy rewards (`policy_to_trl`, `policy_to_verl`; the served judge of
`judgerl.rewards.remote`) get a `PolicySample`: the question from the TRL prompt (a string or
the last user turn) or from verl's extra_info / ground_truth, and the reference answer from a
dataset column (TRL) or ground_truth (verl).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.files import spec_from_mapping
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN
from judgerl.rewards.functions import RewardResult
from judgerl.rewards.policy import PolicyReward, PolicySample
from judgerl.rewards.registry import RewardSpec, accepts_partners, call_reward, parse_reward_specs

_DUMMY_CONVERSATION = [{"role": "user", "content": "(rebuilt from reward columns)"}]
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
PARTNER_COLUMNS = ("sample_id", "order")
BASE_COLUMNS = ("label", "strength")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: [{"type": "text", "text": ...}]
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _message_text(message: dict) -> str:
    text = _content_text(message.get("content"))
    # A response parser may lift the thinking out of the content; put it back so format checks see it.
    for key in _REASONING_FIELDS:
        reasoning = message.get(key)
        if isinstance(reasoning, str) and reasoning.strip() and THINK_CLOSE not in text:
            return f"{THINK_OPEN}\n{reasoning.strip()}\n{THINK_CLOSE}\n\n{text}"
    return text


def completion_text(completion: Any) -> str:
    """The judge's text from a TRL completion: a str, or a list of chat messages ('' if neither).

    >>> completion_text([{"role": "assistant", "content": "Response (a) is better."}])
    'Response (a) is better.'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, (list, tuple)):
        return ""
    parts = [
        _message_text(m)
        for m in completion
        if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
    ]
    return "\n".join(p for p in parts if p)


def _strength_value(raw: Any) -> int | None:
    if raw is None or isinstance(raw, bool):
        return None
    value = float(raw)
    if value != value or value == 0:  # NaN (a missing parquet cell) or 0: unknown
        return None
    if not value.is_integer():
        raise ValueError(f"strength must be a whole number, got {raw!r}")
    return int(value)


def build_sample(label: Any, strength: Any = None, sample_id: Any = "", order: Any = "ab") -> JudgeSample:
    """A JudgeSample rebuilt from reward columns (dummy conversation and responses).

    >>> build_sample("b", 2, "x1", "ba").abs_strength
    2
    """
    return JudgeSample(
        id=str(sample_id),
        source="reward",
        conversation=_DUMMY_CONVERSATION,
        response_a="",
        response_b="",
        label=str(label).strip().lower(),  # type: ignore[arg-type]
        strength=_strength_value(strength),
        metadata={"order": str(order)},
    )


def _column(columns: dict[str, Any], name: str, n: int, reward: str) -> list[Any]:
    if name not in columns or columns[name] is None:
        raise ValueError(f"reward {reward!r} needs dataset column {name!r}; got columns {sorted(columns)}")
    values = list(columns[name])
    if len(values) != n:
        raise ValueError(f"dataset column {name!r} has {len(values)} values for {n} completions")
    return values


def _partners(texts: list[str], ids: list[Any], orders: list[Any]) -> list[list[str]]:
    by_id: dict[Any, list[int]] = {}
    for i, key in enumerate(ids):
        by_id.setdefault(key, []).append(i)
    return [[texts[j] for j in by_id[ids[i]] if orders[j] != orders[i]] for i in range(len(texts))]


def _trl_reward(spec: RewardSpec, log_parse_failures: bool) -> Callable[..., list[float]]:
    wants_partners = accepts_partners(spec.fn)

    def reward(
        prompts: Any = None, completions: Sequence[Any] = (), completion_ids: Any = None, **columns: Any
    ) -> list[float]:
        texts = [completion_text(c) for c in completions]
        n = len(texts)
        labels = _column(columns, "label", n, spec.name)
        strengths = _column(columns, "strength", n, spec.name)
        ids = _column(columns, "sample_id", n, spec.name) if wants_partners else [""] * n
        orders = _column(columns, "order", n, spec.name) if wants_partners else ["ab"] * n
        partners = _partners(texts, ids, orders) if wants_partners else [None] * n
        scores, unparsed = [], 0
        for i, text in enumerate(texts):
            try:
                sample = build_sample(labels[i], strengths[i], ids[i], orders[i])
            except (TypeError, ValueError) as err:
                raise ValueError(f"reward {spec.name!r}: bad dataset row {i}: {err}") from None
            result = call_reward(spec, sample, text, partners[i])
            scores.append(float(result.score))
            unparsed += not result.details.get("parsed")
        log_metric = columns.get("log_metric")
        if log_parse_failures and callable(log_metric) and n:
            log_metric("parse_failure_rate", unparsed / n)
        return scores

    reward.__name__ = spec.name
    reward.__qualname__ = spec.name
    reward.__doc__ = f"TRL reward function {spec.name!r}: one float per completion."
    return reward


def to_trl(specs: Any, judge_spec: Any = None) -> tuple[list[Callable[..., list[float]]], list[float]]:
    """TRL `reward_funcs` (one per reward, named after it) and `reward_weights`; rewards that read
    verdicts read them by `judge_spec` (the stage's JudgeSpec) when given.

    The first function also reports `parse_failure_rate` through TRL's `log_metric` hook.

    Usage: funcs, weights = to_trl(["strength", {"name": "format", "weight": 0.2}]);
    GRPOTrainer(..., reward_funcs=funcs, args=GRPOConfig(reward_weights=weights, ...)).

    >>> funcs, weights = to_trl(["correctness"])
    >>> funcs[0](prompts=["p"], completions=["Response (b) is better."], label=["b"], strength=[0])
    [1.0]
    """
    parsed = parse_reward_specs(specs, _judge_spec(judge_spec))
    return [_trl_reward(s, log_parse_failures=i == 0) for i, s in enumerate(parsed)], [
        s.weight for s in parsed
    ]


def _ground_truth(raw: Any) -> dict[str, Any]:
    """{label, strength?, ...} from a verl ground truth: a dict (or its JSON), 'a'|'b', or a signed
    strength int (or its string) as Think-J's reward_strength reads it: negative (a), positive (b)."""
    if isinstance(raw, str):
        stripped = raw.strip()
        if stripped.lower() in ("a", "b"):
            return {"label": stripped}
        try:
            raw = json.loads(stripped)
        except json.JSONDecodeError:
            raise ValueError(
                f"ground_truth must be a dict, a signed strength or their JSON, got {raw!r}"
            ) from None
    if isinstance(raw, float) and raw.is_integer():  # a whole number a dataframe stored as a float
        raw = int(raw)
    if isinstance(raw, Integral) and not isinstance(raw, bool) and 1 <= abs(int(raw)) <= 3:
        return {"label": "a" if raw < 0 else "b", "strength": int(raw)}
    if not isinstance(raw, dict) or "label" not in raw:
        raise ValueError(
            f"ground_truth must hold a 'label' or be a signed strength in -3..-1 or 1..3, got {raw!r}"
        )
    return raw


def _scores(specs: list[RewardSpec], sample: JudgeSample, text: str, partners: list[str] | None) -> dict:
    out: dict[str, float] = {}
    total = 0.0
    parsed = correct = 0.0
    for k, spec in enumerate(specs):
        result = call_reward(spec, sample, text, partners)
        out[spec.name] = float(result.score)
        total += spec.weight * result.score
        if k == 0:
            parsed = float(bool(result.details.get("parsed")))
            correct = float(bool(result.details.get("correct")))
    # verl stacks every key across the batch, so each value is a float and the keys never vary.
    return {"score": float(total), **out, "parsed": parsed, "correct": correct}


def _sample_from(ground_truth: Any, extra_info: Any) -> JudgeSample:
    truth = _ground_truth(ground_truth)
    extra = extra_info if isinstance(extra_info, dict) else {}
    return build_sample(
        truth["label"],
        truth.get("strength"),
        extra.get("sample_id", truth.get("sample_id", "")),
        extra.get("order", truth.get("order", "ab")),
    )


def _judge_spec(value: Any) -> Any:
    """A JudgeSpec from a JudgeSpec, its JSON mapping (as the verl reward module embeds it) or None."""
    if value is None or isinstance(value, JudgeSpec):
        return value
    return spec_from_mapping(value, "judge_spec")


def to_verl(specs: Any, judge_spec: Any = None) -> Callable[..., dict[str, float]]:
    """A verl `compute_score` returning {"score": weighted total, <reward name>: score, ...}; verdicts are
    read by `judge_spec` (a JudgeSpec or its JSON mapping) when given.

    Per-sample calls have no partners, so `consistency` falls back to correctness there; use
    `to_verl_batch` with verl's batch reward manager to pair both orders.

    >>> score = to_verl(["correctness"])
    >>> score("judge", "Response (a) is better.", {"label": "a", "strength": -1})["score"]
    1.0
    """
    parsed = parse_reward_specs(specs, _judge_spec(judge_spec))

    def compute_score(
        data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **_: Any
    ) -> dict[str, float]:
        sample = _sample_from(ground_truth, extra_info)
        return _scores(parsed, sample, completion_text(solution_str), None)

    return compute_score


def to_verl_batch(specs: Any, judge_spec: Any = None) -> Callable[..., list[dict[str, float]]]:
    """A verl batch `compute_score(data_sources, solution_strs, ground_truths, extra_infos)`.

    Partners are the batch's completions with the same `sample_id` (from extra_info) and the
    other `order`. Usage: compute_score = to_verl_batch(["strength", "consistency"]).
    """
    parsed = parse_reward_specs(specs, _judge_spec(judge_spec))

    def compute_score(
        data_sources: Sequence[Any],
        solution_strs: Sequence[str],
        ground_truths: Sequence[Any],
        extra_infos: Sequence[Any] | None = None,
        **_: Any,
    ) -> list[dict[str, float]]:
        texts = [completion_text(s) for s in solution_strs]
        extras = list(extra_infos) if extra_infos is not None else [None] * len(texts)
        samples = [_sample_from(g, e) for g, e in zip(ground_truths, extras, strict=True)]
        ids = [s.id if s.id else f"#{i}" for i, s in enumerate(samples)]
        partners = _partners(texts, ids, [s.order for s in samples])
        return [_scores(parsed, s, t, p) for s, t, p in zip(samples, texts, partners, strict=True)]

    return compute_score


# ---- policy rewards ------------------------------------------------------------------------------


def prompt_question(prompt: Any) -> str:
    """The question from a TRL prompt: a string, or chat messages (the last user turn).

    >>> prompt_question([{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}])
    '2+2?'
    """
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        if users and isinstance(users[-1], str):
            return users[-1]
    raise ValueError(f"cannot read a question from prompt {prompt!r}: expected a string or chat messages")


def _policy_samples(
    prompts: Sequence[Any], completions: Sequence[Any], columns: dict[str, Any], reference_column: str | None
) -> list[PolicySample]:
    refs = columns.get(reference_column) if reference_column else None
    if refs is not None and len(refs) != len(completions):
        raise ValueError(
            f"column {reference_column!r} has {len(refs)} values for {len(completions)} completions"
        )
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
    return [
        PolicySample(prompt_question(p), None if refs is None or refs[i] is None else str(refs[i]))
        for i, p in enumerate(prompts)
    ]


def _unparsed(results: Sequence[RewardResult]) -> int:
    return sum(not r.details.get("parsed") for r in results)


def policy_to_trl(
    reward: PolicyReward,
    *,
    reference_column: str | None = "reference",
    name: str | None = None,
    asynchronous: bool = False,
    parse_metric: str = "remote_judge_parse_failure_rate",
) -> Callable[..., Any]:
    """A TRL `reward_funcs` entry from a policy reward: one float per completion, one batch per call.

    The question comes from each prompt, the reference from the `reference_column` dataset column
    when present (else none). The rate of unparsed judgements goes to TRL's `log_metric` as
    `parse_metric`. `asynchronous=True` gives a coroutine function (TRL awaits it alongside its
    other async rewards). The function carries the reward as `.reward`.

    Usage: funcs = [policy_to_trl(RemoteJudgeReward(client), reference_column="answer")]
    """

    def report(columns: dict[str, Any], results: list[RewardResult]) -> list[float]:
        log_metric = columns.get("log_metric")
        if callable(log_metric) and results:
            log_metric(parse_metric, _unparsed(results) / len(results))
        return [float(r.score) for r in results]

    def trl_reward(
        prompts: Sequence[Any] = (), completions: Sequence[Any] = (), **columns: Any
    ) -> list[float]:
        """TRL reward function: one float per completion, from a policy reward."""
        samples = _policy_samples(prompts, completions, columns, reference_column)
        return report(columns, reward.batch(samples, [completion_text(c) for c in completions]))

    async def atrl_reward(
        prompts: Sequence[Any] = (), completions: Sequence[Any] = (), **columns: Any
    ) -> list[float]:
        """Async TRL reward function: one float per completion, from a policy reward."""
        samples = _policy_samples(prompts, completions, columns, reference_column)
        return report(columns, await reward.abatch(samples, [completion_text(c) for c in completions]))

    fn: Any = atrl_reward if asynchronous else trl_reward
    fn.__name__ = fn.__qualname__ = name or reward.name
    fn.reward = reward
    return fn


def _verl_policy_sample(ground_truth: Any, extra_info: Any, who: str) -> PolicySample:
    extra = extra_info if isinstance(extra_info, dict) else {}
    truth = ground_truth if isinstance(ground_truth, dict) else {"reference": ground_truth}
    question = extra.get("question") or truth.get("question")
    if not question:
        raise ValueError(f"{who} needs the question: put it in extra_info['question'] (or ground_truth)")
    reference = truth.get("reference")
    return PolicySample(str(question), None if reference is None else str(reference))


def _verl_policy_score(result: RewardResult) -> dict[str, float]:
    return {"score": float(result.score), "judge_parsed": float(bool(result.details.get("parsed")))}


def policy_to_verl(reward: PolicyReward) -> Callable[..., Any]:
    """A verl `compute_score` from a policy reward, per sample or per batch (plural arguments).

    ground_truth is the reference answer (or a dict with `reference`, `question`); the question
    comes from extra_info['question'] (or ground_truth). Returns {"score", "judge_parsed"} per sample.

    Usage: compute_score = policy_to_verl(RemoteJudgeReward(client))
    """
    who = reward.name.replace("_", " ")

    def compute_score(
        data_source: Any = None,
        solution_str: str | None = None,
        ground_truth: Any = None,
        extra_info: Any = None,
        data_sources: Sequence[Any] | None = None,
        solution_strs: Sequence[str] | None = None,
        ground_truths: Sequence[Any] | None = None,
        extra_infos: Sequence[Any] | None = None,
        **_: Any,
    ) -> Any:
        """verl compute_score: a {"score", "judge_parsed"} dict per sample (a list for a batch)."""
        if solution_strs is not None:
            truths = list(ground_truths or [None] * len(solution_strs))
            extras = list(extra_infos or [None] * len(solution_strs))
            samples = [_verl_policy_sample(g, e, who) for g, e in zip(truths, extras, strict=True)]
            results = reward.batch(samples, [completion_text(s) for s in solution_strs])
            return [_verl_policy_score(r) for r in results]
        sample = _verl_policy_sample(ground_truth, extra_info, who)
        return _verl_policy_score(reward.batch([sample], [completion_text(solution_str or "")])[0])

    compute_score.reward = reward  # type: ignore[attr-defined]
    return compute_score
