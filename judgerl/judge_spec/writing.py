"""What a judge of a given spec writes: its verdict text and a whole completion (SFT targets, DPO traces,
the candidates that log-probability scoring compares).

judgerl's format writes its verdict sentence (judge_spec/verdicts.py); a pattern format writes the
spec's `verdict.sentences`, whose `{strength}` is filled in.
"""

from __future__ import annotations

from judgerl.judge_spec.spec import JudgeSpec
from judgerl.judge_spec.templates import Template
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN, verdict_sentence


def verdict_text(spec: JudgeSpec, choice: str, strength: int | None = None) -> str:
    """The verdict a judge of `spec` writes for `choice` (with `strength` where the spec reads one).

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> verdict_text(builtin_spec("strength"), "b", 2)
    'Therefore, Response (b) is better, and the strength is [[2]].'
    >>> verdict_text(builtin_spec("mtbench"), "a")
    '[[A]]'
    """
    fmt = spec.verdict
    if fmt.format == "judgerl":
        return verdict_sentence(choice, strength if fmt.strength != "none" else None)
    sentences = fmt.sentences or {}
    if choice not in sentences:
        raise ValueError(
            f"judge spec {spec.name!r} has no verdict.sentences[{choice!r}]: it needs one to write verdicts "
            "(SFT targets, log-probability candidates)"
        )
    template = Template.parse(sentences[choice], frozenset({"strength"}))
    if "strength" in template.fields and strength is None:
        raise ValueError(f"judge spec {spec.name!r}: verdict.sentences[{choice!r}] needs a strength")
    return template.render({"strength": "" if strength is None else str(strength)})


def completion_text(spec: JudgeSpec, thinking: str | None, choice: str, strength: int | None = None) -> str:
    """A whole completion: the thinking block (when the spec thinks and `thinking` is given), then the verdict.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> completion_text(builtin_spec("cot"), "check", "a")
    '<think>\\ncheck\\n</think>\\n\\nTherefore, Response (a) is better.'
    """
    sentence = verdict_text(spec, choice, strength)
    if thinking is None or not spec.wants_thinking:
        return sentence
    return f"{THINK_OPEN}\n{thinking.strip()}\n{THINK_CLOSE}\n\n{sentence}"


def verdict_candidates(spec: JudgeSpec) -> list[tuple[str, int | None, str]]:
    """(choice, strength, text) of every verdict a judge of `spec` can write, for log-probability scoring.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> [c[2] for c in verdict_candidates(builtin_spec("mtbench"))]
    ['[[A]]', '[[B]]', '[[C]]']
    """
    fmt = spec.verdict
    lo, hi = fmt.strength_range
    strengths: tuple[int | None, ...] = tuple(range(lo, hi + 1)) if fmt.wants_strength else (None,)
    choices = ["a", "b"] + (["tie"] if fmt.ties else [])
    out = []
    for choice in choices:
        for k in strengths if choice != "tie" else (None,):
            out.append((choice, k, verdict_text(spec, choice, k)))
    return out
