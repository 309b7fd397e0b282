"""The `rmbench` stage and `judgerl eval rmbench`: a judge on RM-Bench, scored as its official computation.

Each prompt's nine chosen-vs-rejected pairs are judged in both orders (or, with `both_orders:
false`, once, the chosen response in (a) or (b) by a coin per pair id drawn from `order_seed`,
default the recipe seed), each pair won or lost by the pair vote, and scored easy / normal /
hard per domain and overall (`scoring`). Outputs: predictions.jsonl, metrics.json, table.md.
Judging resumes from a partial predictions file; `seconds` sums the judging time of every attempt.

judgerl eval rmbench --model runs/x/sft/checkpoint --data rm-bench/total_dataset.json
"""

from __future__ import annotations

from typing import Any, Literal

from judgerl.core.errors import DataError
from judgerl.core.logging import get_logger, print_report
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.sources.base import flip_positions, seeded_flip
from judgerl.data_prep.sources.rmbench import load_rmbench
from judgerl.data_prep.subsample import subsample
from judgerl.eval.pair_benchmark import (
    OUTPUTS,
    PairBenchmarkStage,
    judge_pairs,
    load_info,
    prediction_rows,
    write_results,
)
from judgerl.eval.rmbench.report import rmbench_table
from judgerl.eval.rmbench.scoring import LEVELS, rmbench_scores

log = get_logger("judgerl.eval")
__all__ = ["OUTPUTS", "RMBenchStage", "run_rmbench"]


class RMBenchStage(PairBenchmarkStage):
    """Recipe keys of an `rmbench` stage (see PairBenchmarkStage); `data` is an RM-Bench file.

    `order_seed` (default: the recipe seed) draws the one-order layout when `both_orders` is off.
    """

    kind: Literal["rmbench"] = "rmbench"
    order_seed: int | None = None


def run_rmbench(stage: RMBenchStage, ctx: StageContext, generator: Any = None) -> StageResult:
    """Evaluate a judge on RM-Bench and write predictions.jsonl, metrics.json and table.md.

    `generator` (any object with the Generator protocol) replaces the backend built from `model`.

    judgerl run recipes/think_j/qwen2.5-7b.yaml --only rmbench

    Usage: run_rmbench(RMBenchStage(model="runs/x/sft/checkpoint", data="total_dataset.json"), ctx)
    """
    loaded = load_rmbench(stage.data, on_bad_row=stage.on_bad_row)
    samples, drawn = subsample(
        loaded.samples,
        stage.max_samples,
        stage.subsample,
        ctx.seed,
        group=lambda s: str(s.metadata["prompt_id"]),
        unit="prompts",
    )
    if not samples:
        raise DataError(
            f"rmbench: no prompts in {stage.data} ({loaded.summary()}); expected RM-Bench rows "
            "(prompt, chosen, rejected)"
        )
    order_seed = None
    if not stage.both_orders:
        order_seed = ctx.seed if stage.order_seed is None else stage.order_seed
        samples = [flip_positions(s) if seeded_flip(order_seed, s.id) else s for s in samples]
    run = judge_pairs(stage, ctx, samples, order_seed, generator)
    metrics: dict[str, Any] = {
        "benchmark": "rmbench",
        **run.header,
        **load_info(loaded, stage.data),
        **({"subsample": drawn} if drawn else {}),
        "n_generated": len(run.judgements),
        **rmbench_scores(run.judgements, {s.id: s.metadata for s in samples}),
        "seconds": round(run.seconds, 1),
        "judging_attempts": run.attempts,
    }
    table = rmbench_table(metrics)
    outputs = write_results(ctx, prediction_rows(run.judgements, samples), metrics, table)
    n_prompts = metrics["n_prompts"]
    log.info(f"{ctx.name}: {len(run.judgements)} judgements of {n_prompts} prompts in {run.seconds:.1f} s")
    print_report(table)
    summary: dict[str, Any] = {k: metrics[k] for k in (*LEVELS, "average", "protocol")}
    summary["domains"] = {name: d["average"] for name, d in metrics["domains"].items()}
    summary.update(
        parse_failure_rate=metrics["pairwise_overall"]["parse_failure_rate"],
        position_bias=metrics["pairwise_overall"]["position_bias"],
        seconds=metrics["seconds"],
    )
    if drawn:
        summary["subsample"] = drawn
    return StageResult(outputs=outputs, metrics=summary)
