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
from judgerl.judge_spec.families import PromptSpec, render_messages
from judgerl.judge_spec.verdicts import format_trace


@dataclass
class SFTRecords:
    """Conversations ready for TRL's SFTTrainer, plus the samples skipped and why."""

    rows: list[dict[str, Any]]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def trace_for(sample: JudgeSample, spec: PromptSpec) -> str | None:
    """The assistant completion a judge should write for `sample`, or None when no trace exists.

    The `direct` family needs no trace: its target is the label's verdict sentence. Otherwise
    synthetic samples get their programmatic trace for the shown order, and other samples use
    `metadata["thinking"]`, which must have been written for the shown order
    (`metadata["thinking_order"]`, default "ab"), since a trace names Response (a)/(b).

    >>> from judgerl.data_prep.synthetic import make_synthetic_splits
    >>> sample = make_synthetic_splits(1, 0).train[0]
    >>> trace_for(sample, PromptSpec()).startswith("<think>"), trace_for(sample, PromptSpec("direct"))[:19]
    (True, 'Therefore, Response')
    """
    if not spec.wants_thinking:
        return format_trace(None, sample.label)
    strength = sample.abs_strength if spec.wants_strength else None
    if spec.wants_strength and strength is None:
        return None
    if sample.source == SYNTHETIC_SOURCE:
        text = synthetic_sft_trace(sample)
        if spec.wants_strength:
            return text
        return format_trace(text.split("</think>")[0].removeprefix("<think>"), sample.label)
    thinking = sample.metadata.get("thinking")
    if not thinking or sample.metadata.get("thinking_order", "ab") != sample.order:
        return None
    return format_trace(thinking, sample.label, strength)


def _skip_reason(sample: JudgeSample, spec: PromptSpec) -> str:
    if spec.wants_strength and sample.strength is None:
        return "strength unknown for the strength prompt family"
    if not sample.metadata.get("thinking"):
        return "no thinking trace"
    return "thinking trace written for the other order"


def sft_records(samples: list[JudgeSample], spec: PromptSpec) -> SFTRecords:
    """One {"messages": [user, assistant]} row per sample that has a trace; others are listed as skipped.

    With `spec.hint` set the rows are critic records: the same trace behind a hinted prompt.

    >>> from judgerl.data_prep.synthetic import make_synthetic_splits
    >>> recs = sft_records(make_synthetic_splits(3, 0).train, PromptSpec())
    >>> len(recs.rows), recs.rows[0]["messages"][1]["role"]
    (3, 'assistant')
    """
    out = SFTRecords(rows=[])
    for s in samples:
        trace = trace_for(s, spec)
        if trace is None:
            out.skipped.append((s.id, _skip_reason(s, spec)))
            continue
        messages = render_messages(s, spec) + [{"role": "assistant", "content": trace}]
        out.rows.append({"messages": messages, "id": s.id, "order": s.order})
    return out
