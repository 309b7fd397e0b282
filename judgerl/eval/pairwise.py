"""Judge every sample in both answer orders with a generation backend; resumable predictions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import read_appended
from judgerl.core.types import Judgement, JudgeSample, Verdict
from judgerl.judge_spec.reading import read
from judgerl.judge_spec.render import judge_prompt
from judgerl.judge_spec.spec import JudgeSpec


def judgement_from_row(row: dict[str, Any]) -> Judgement:
    """Rebuild a Judgement from a predictions.jsonl row. Usage: judgement_from_row(json.loads(line))."""
    v = row["verdict"]
    return Judgement(
        sample_id=row["sample_id"],
        order=row["order"],
        completion=row["completion"],
        verdict=Verdict(v["choice"], v["strength"], v["reason"]),
        label=row["label"],
        strength=row["strength"],
        subset=row["subset"],
    )


def judgement_row(j: Judgement) -> dict[str, Any]:
    """The predictions.jsonl row of a judgement (raw text, parsed verdict, order).

    Usage: rows = [judgement_row(j) for j in judgements]
    """
    return {
        "sample_id": j.sample_id,
        "order": j.order,
        "subset": j.subset,
        "label": j.label,
        "strength": j.strength,
        "correct": j.correct,
        "verdict": {"choice": j.verdict.choice, "strength": j.verdict.strength, "reason": j.verdict.reason},
        "completion": j.completion,
    }


def judge_inputs(samples: list[JudgeSample], both_orders: bool = True) -> list[JudgeSample]:
    """The samples to judge: each in its given order and, with both_orders, swapped too.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a", -1)
    >>> [(x.order, x.label) for x in judge_inputs([s])]
    [('ab', 'a'), ('ba', 'b')]

    Usage: inputs = judge_inputs(samples, both_orders=True)
    """
    out = []
    for s in samples:
        base = s if s.order == "ab" else s.swapped()
        out.append(base)
        if both_orders:
            out.append(base.swapped())
    return out


def _read_partial(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    # a line cut by a crash is removed: that judgement is made again
    return {(row["sample_id"], row["order"]): row for row in read_appended(path)}


def judge_samples(
    generator: Any,
    samples: list[JudgeSample],
    prompt: JudgeSpec,
    sampling: Any,
    partial_path: Path | None = None,
    chunk_size: int | None = None,
    both_orders: bool = True,
) -> list[Judgement]:
    """Judge `samples` (both orders by default) and parse each verdict.

    With `partial_path`, finished judgements are appended there (and fsynced) after every
    `chunk_size` prompts (default: one batch, `sampling.batch_size`) and skipped when the call is
    repeated after an interruption, so an interrupt loses at most one chunk.

    Usage: judge_samples(HFGenerator(model, tok), samples, builtin_spec("strength"), SamplingSpec())
    """
    rows = judge_sample_rows(generator, samples, prompt, sampling, partial_path, chunk_size, both_orders)
    return [judgement_from_row(r) for r in rows]


def judge_sample_rows(
    generator: Any,
    samples: list[JudgeSample],
    prompt: JudgeSpec,
    sampling: Any,
    partial_path: Path | None = None,
    chunk_size: int | None = None,
    both_orders: bool = True,
) -> list[dict[str, Any]]:
    """`judge_samples`, returning the predictions rows; a generator that keeps `verdict_scores` after each
    call (models.logprob_judge.LogprobJudge) adds them to each row as `logprob` (log-probabilities, confidence).

    Usage: rows = judge_sample_rows(LogprobJudge(gen, spec), samples, spec, SamplingSpec())
    """
    items = judge_inputs(samples, both_orders)
    chunk_size = chunk_size or getattr(sampling, "batch_size", 32)
    done = _read_partial(partial_path) if partial_path else {}
    todo = [s for s in items if (s.id, s.order) not in done]
    offset = len(items) - len(todo)
    out_f = open(partial_path, "a+", encoding="utf-8") if partial_path else None  # noqa: SIM115
    if out_f and out_f.tell() > 0:
        out_f.seek(out_f.tell() - 1)
        if out_f.read(1) != "\n":  # a crash cut the last line: start on a fresh one
            out_f.write("\n")
    try:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            texts = generator.generate(
                [judge_prompt(prompt, s) for s in chunk],
                sampling,
                desc=f"judging {offset + start + 1}-{offset + start + len(chunk)} of {len(items)}",
            )
            scores = getattr(generator, "verdict_scores", None)
            for k, (s, completions) in enumerate(zip(chunk, texts, strict=True)):
                j = Judgement(
                    sample_id=s.id,
                    order=s.order,
                    completion=completions[0],
                    verdict=read(prompt, completions[0]),
                    label=s.label,
                    strength=s.strength,
                    subset=s.subset,
                )
                row = judgement_row(j)
                if scores is not None:
                    row["logprob"] = scores[k].row()
                done[(s.id, s.order)] = row
                if out_f:
                    out_f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if out_f:
                out_f.flush()
                os.fsync(out_f.fileno())
    finally:
        if out_f:
            out_f.close()
    return [done[(s.id, s.order)] for s in items]
