"""The `judgebench` stage and `judgerl eval judgebench`: a judge on JudgeBench, scored as its official script.

Each pair is judged in both orders (or, with `both_orders: false`, once in the file's order),
scored by JudgeBench's vote (`scoring`), per category and overall. Outputs: predictions.jsonl
(every judgement with its raw completion, parsed verdict, decision score and pair vote),
metrics.json, table.md. Judging resumes from a partial predictions file named by a hash of
everything that decides the prompts; `seconds` sums the judging time of every attempt.

judgerl eval judgebench --model runs/x/sft/checkpoint --data judgebench/gpt.jsonl
"""

from __future__ import annotations

from typing import Any, Literal

from judgerl.core.errors import DataError
from judgerl.core.logging import get_logger, print_report
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.sources.judgebench import load_judgebench
from judgerl.data_prep.subsample import subsample
from judgerl.eval.judgebench.report import judgebench_table
from judgerl.eval.judgebench.scoring import judgebench_scores
from judgerl.eval.pair_benchmark import (
    OUTPUTS,
    PairBenchmarkStage,
    judge_pairs,
    load_info,
    prediction_rows,
    write_results,
)

log = get_logger("judgerl.eval")
__all__ = ["OUTPUTS", "JudgeBenchStage", "run_judgebench"]


class JudgeBenchStage(PairBenchmarkStage):
    """Recipe keys of a `judgebench` stage (see PairBenchmarkStage); `data` is a JudgeBench file."""

    kind: Literal["judgebench"] = "judgebench"


def run_judgebench(stage: JudgeBenchStage, ctx: StageContext, generator: Any = None) -> StageResult:
    """Evaluate a judge on JudgeBench and write predictions.jsonl, metrics.json and table.md.

    `generator` (any object with the Generator protocol) replaces the backend built from `model`.

    judgerl run recipes/think_j/qwen2.5-7b.yaml --only judgebench

    Usage: run_judgebench(JudgeBenchStage(model="runs/x/sft/checkpoint", data="judgebench.jsonl"), ctx)
    """
    loaded = load_judgebench(stage.data, on_bad_row=stage.on_bad_row)
    samples, drawn = subsample(loaded.samples, stage.max_samples, stage.subsample, ctx.seed, unit="pairs")
    if not samples:
        raise DataError(
            f"judgebench: no pairs in {stage.data} ({loaded.summary()}); expected JudgeBench rows "
            "(question, response_A, response_B, label)"
        )
    run = judge_pairs(stage, ctx, samples, None, generator)
    metrics: dict[str, Any] = {
        "benchmark": "judgebench",
        **run.header,
        **load_info(loaded, stage.data),
        **({"subsample": drawn} if drawn else {}),
        "n_generated": len(run.judgements),
        **judgebench_scores(run.judgements),
        "seconds": round(run.seconds, 1),
        "judging_attempts": run.attempts,
    }
    table = judgebench_table(metrics)
    outputs = write_results(ctx, prediction_rows(run.judgements, samples), metrics, table)
    log.info(f"{ctx.name}: {len(run.judgements)} judgements of {len(samples)} pairs in {run.seconds:.1f} s")
    print_report(table)
    summary = {
        "overall": metrics["overall"],
        "protocol": metrics["protocol"],
        "categories": {name: c["accuracy"] for name, c in metrics["categories"].items()},
        "parse_failure_rate": metrics["pairwise_overall"]["parse_failure_rate"],
        "position_bias": metrics["pairwise_overall"]["position_bias"],
        "seconds": metrics["seconds"],
        **({"subsample": drawn} if drawn else {}),
    }
    return StageResult(outputs=outputs, metrics=summary)
