"""A judge spec's prompt rendered for one sample: the judge, the hinted critic, or a pointwise score.

Every stage renders through these functions (SFT, pairs, DPO, GRPO, eval, the benchmarks, distill,
serving, scaling), so training and evaluation cannot disagree on the prompt. A `raw` prompt is one
string (no chat template); otherwise the result is chat messages.
"""

from __future__ import annotations

from functools import lru_cache

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.multi_prompts import conversation_block
from judgerl.judge_spec.spec import HINT_FIELDS, JudgeSpec, PromptTemplate
from judgerl.judge_spec.templates import Template, parse_blocks, render_blocks

Messages = list[dict[str, str]]
HINTS = ("none", "positive", "negative")


@lru_cache(maxsize=256)
def _parsed(text: str | tuple[str, ...], known: frozenset[str]) -> tuple[Template, ...]:
    return parse_blocks(text if isinstance(text, str) else list(text), known)


def _key(text: str | list[str]) -> str | tuple[str, ...]:
    return text if isinstance(text, str) else tuple(text)


def _values(prompt: PromptTemplate, values: dict[str, str]) -> dict[str, str]:
    for name, limit in prompt.truncate.items():
        values[name] = values.get(name, "")[:limit]
    for alias, target in prompt.aliases.items():
        values[alias] = values.get(target, "")
    return values


def _assemble(
    prompt: PromptTemplate, user: str | list[str], values: dict[str, str], mode: str
) -> Messages | str:
    known = prompt.known_fields(mode)  # type: ignore[arg-type]
    user_text = render_blocks(_parsed(_key(user), known), values, prompt.separator)
    system = render_blocks(_parsed(prompt.system, known), values, prompt.separator) if prompt.system else ""
    if prompt.raw:
        return prompt.separator.join(t for t in (system, user_text) if t)
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": user_text}]


def _uses_hint(prompt: PromptTemplate, user: str | list[str]) -> bool:
    names = {"hint"} | {alias for alias, target in prompt.aliases.items() if target == "hint"}
    blocks = _parsed(_key(user), prompt.known_fields("pairwise"))
    return any(names & set(b.fields) for b in blocks)


def hint_sentence(spec: JudgeSpec, sample: JudgeSample, hint: str) -> tuple[str, str, str]:
    """(hint sentence, winner name, loser name) of a critic prompt; three '' for no hint.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "b")
    >>> hint_sentence(builtin_spec("cot"), s, "positive")[0]
    'Given that Response (b) is better than Response (a), explain why and give your verdict.'
    """
    if hint not in HINTS:
        raise ValueError(f"hint must be one of {HINTS}, got {hint!r}")
    if hint == "none":
        return "", "", ""
    winner = sample.label if hint == "positive" else ("b" if sample.label == "a" else "a")
    loser = "b" if winner == "a" else "a"
    names = {"winner": spec.prompt.labels[winner], "loser": spec.prompt.labels[loser]}
    return Template.parse(spec.prompt.hint, HINT_FIELDS).render(names), names["winner"], names["loser"]


def judge_prompt(spec: JudgeSpec, sample: JudgeSample, hint: str = "none") -> Messages | str:
    """The prompt a pairwise judge (or, with a hint, its critic) sees for `sample` in its current order.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "2+2?"}], "4", "5", "a")
    >>> judge_prompt(builtin_spec("mtbench"), s)[0]["role"]
    'system'
    """
    if spec.mode != "pairwise":
        raise ValueError(f"judge spec {spec.name!r} is {spec.mode}: it scores one response, not a pair")
    sentence, winner, loser = hint_sentence(spec, sample, hint)
    user = spec.prompt.user
    if hint != "none":
        if spec.prompt.critic_user is not None:
            user = spec.prompt.critic_user
        elif not _uses_hint(spec.prompt, user):
            raise ValueError(
                f"judge spec {spec.name!r} cannot render a critic prompt: its prompt has no {{hint}} field "
                "and no critic_user template"
            )
    values = {
        "question": conversation_block(sample.conversation),
        "response_a": sample.response_a,
        "response_b": sample.response_b,
        "reference": str(sample.metadata.get("reference") or ""),
        "hint": sentence,
        "winner": winner,
        "loser": loser,
    }
    return _assemble(spec.prompt, user, _values(spec.prompt, values), "pairwise")


def score_prompt(spec: JudgeSpec, question: str, response: str, reference: str = "") -> Messages | str:
    """The prompt a pointwise judge sees to score `response` to `question`.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> score_prompt(builtin_spec("score-compact"), "2+2?", "4")[0]["content"].splitlines()[0]
    'Score the solution from 0 (wrong) to 10 (right). Reply with the number only.'
    """
    if spec.mode != "pointwise":
        raise ValueError(f"judge spec {spec.name!r} is {spec.mode}: a score needs a pointwise spec")
    values = {"question": question, "response": response, "reference": reference}
    return _assemble(spec.prompt, spec.prompt.user, _values(spec.prompt, values), "pointwise")


def prompt_text(prompt: Messages | str) -> str:
    """The text of a rendered prompt (messages joined), for previews and model cards. Usage: prompt_text(p)"""
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(
        f"[{m['role']}]\n{m['content']}" if m["role"] != "user" else m["content"] for m in prompt
    )
