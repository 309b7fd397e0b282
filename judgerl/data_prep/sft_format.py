"""Thinking traces into SFT conversations, rendered with the shared judge prompt.

A thinking family (`cot`, `strength`) needs a trace per sample: the synthetic task's programmatic
one, or `metadata["thinking"]` written for the shown order (by the `distill` stage, or a file of
traces). The `direct` family asks for the verdict alone, so every labelled sample trains on its
verdict sentence, with or without a trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.data_prep.synthetic import SOURCE as SYNTHETIC_SOURCE
from judgerl.data_prep.synthetic import synthetic_sft_trace
from judgerl.judge_spec.render import judge_prompt
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN
from judgerl.judge_spec.writing import completion_text


@dataclass
class SFTRecords:
    """Conversations ready for TRL's SFTTrainer, plus the samples skipped and why."""

    rows: list[dict[str, Any]]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    as_written: int = 0  # rows whose prompt is the file's own (`metadata["prompt_messages"]`)
    differ_from_spec: int = 0  # of those, rows the judge spec would render differently


def _synthetic_thinking(sample: JudgeSample) -> str:
    text = synthetic_sft_trace(sample)
    return text.split(THINK_CLOSE)[0].removeprefix(THINK_OPEN).strip()


def trace_for(sample: JudgeSample, spec: JudgeSpec) -> str | None:
    """The assistant completion a judge of `spec` should write for `sample`, or None when no trace exists.

    A judge that does not think (`direct`) needs no trace: its target is the label's verdict. Otherwise
    synthetic samples get their programmatic trace for the shown order, and other samples use
    `metadata["thinking"]`, which must have been written for the shown order
    (`metadata["thinking_order"]`, default "ab"), since a trace names Response (a)/(b). The verdict is
    written in the spec's own format.

    >>> from judgerl.data_prep.synthetic import make_synthetic_splits
    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> sample = make_synthetic_splits(1, 0).train[0]
    >>> trace_for(sample, builtin_spec("strength")).startswith("<think>"), trace_for(sample, builtin_spec("direct"))[:19]
    (True, 'Therefore, Response')
    """
    if not spec.wants_thinking:
        return completion_text(spec, None, sample.label)
    strength = sample.abs_strength if spec.wants_strength else None
    if spec.wants_strength and strength is None:
        return None
    if sample.source == SYNTHETIC_SOURCE:
        return completion_text(spec, _synthetic_thinking(sample), sample.label, strength)
    thinking = sample.metadata.get("thinking")
    if not thinking or sample.metadata.get("thinking_order", "ab") != sample.order:
        return None
    return completion_text(spec, thinking, sample.label, strength)


def _skip_reason(sample: JudgeSample, spec: JudgeSpec) -> str:
    if spec.wants_strength and sample.strength is None:
        return "strength unknown for a judge spec that requires one"
    if not sample.metadata.get("thinking"):
        return "no thinking trace"
    return "thinking trace written for the other order"


def _file_prompt(sample: JudgeSample) -> list[dict[str, str]] | None:
    messages = sample.metadata.get("prompt_messages")
    ok = (
        isinstance(messages, list)
        and messages
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        )
    )
    return [{"role": m["role"], "content": m["content"]} for m in messages] if ok else None


def sft_records(
    samples: list[JudgeSample], spec: JudgeSpec, hint: str = "none", as_written: bool = False
) -> SFTRecords:
    """One {"messages": [prompt..., assistant]} row per sample that has a trace; others are listed as skipped.

    With a `hint` ("positive"/"negative") the rows are critic records: the same trace behind a hinted prompt.
    With `as_written`, a sample whose file carried its full prompt (`metadata["prompt_messages"]`: Think-J's
    system + instruction, TRL conversational rows) trains on that prompt exactly as written (in the file's
    order only); the others are rendered by the spec. `differ_from_spec` counts rows the spec renders
    differently, so a judge is not evaluated under a prompt it never saw without a warning.

    >>> from judgerl.data_prep.synthetic import make_synthetic_splits
    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> recs = sft_records(make_synthetic_splits(3, 0).train, builtin_spec("strength"))
    >>> len(recs.rows), recs.rows[0]["messages"][1]["role"]
    (3, 'assistant')
    """
    out = SFTRecords(rows=[])
    for s in samples:
        trace = trace_for(s, spec)
        if trace is None:
            out.skipped.append((s.id, _skip_reason(s, spec)))
            continue
        rendered = judge_prompt(spec, s, hint)
        written = _file_prompt(s) if as_written else None
        if written is not None and s.order != "ab":
            out.skipped.append((s.id, "prompt as written is for the file's order (ab)"))
            continue
        if written is not None:
            out.as_written += 1
            out.differ_from_spec += written != rendered
        prompt = written if written is not None else rendered
        if isinstance(prompt, str):
            raise ValueError(
                f"judge spec {spec.name!r} has a raw (no chat template) prompt: SFT needs chat messages"
            )
        out.rows.append(
            {"messages": prompt + [{"role": "assistant", "content": trace}], "id": s.id, "order": s.order}
        )
    return out
