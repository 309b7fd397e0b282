"""The `probe_filter` stage: keep the top fraction (or those above a threshold) of a JSONL file by probe score.

stages:
  sft_top: {kind: probe_filter, data: ${stages.sft_data.train}, probes: runs/probe/probes, top: 0.5}
  pairs_top: {kind: probe_filter, data: ${stages.pairs.pairs}, probes: ..., top: 0.8, pair_score: margin}

The module is torch-free (judgerl.stages imports the config class to validate recipes); the
probes and their feature extractor are imported when the stage runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from judgerl.core.config import StrictModel
from judgerl.core.stage import StageContext, StageResult

OUTPUTS = {"kept": "kept.jsonl", "scores": "scores.jsonl"}


class ProbeFilterStage(StrictModel):
    """Recipe keys of a `probe_filter` stage.

    `data` is a JSONL of samples {question, prediction}, SFT traces {messages}, pairs
    {prompt, chosen, rejected} or judge samples (the better response is scored); `probes` a
    probe file or folder. Exactly one of `top` (a fraction
    in (0, 1]) or `threshold` (keep total >= threshold). `total`: "score" sums the continuous
    aspect scores, "label" the predicted labels. `pair_score`: rank pairs by the chosen side's
    score or by chosen minus rejected. `model` overrides the model id saved in the probes.
    `top_rounding` / `top_order`: how many rows `top` keeps (n x top rounded half up, or
    INSPECTOR's int(n x top)) and in which order they are written (as read, or INSPECTOR's best
    first). `data` may be JSON lines or a JSON list.
    """

    kind: Literal["probe_filter"] = "probe_filter"
    data: str
    probes: str
    top: float | None = Field(None, gt=0.0, le=1.0)
    threshold: float | None = None
    total: Literal["score", "label"] = "score"
    pair_score: Literal["chosen", "margin"] = "chosen"
    top_rounding: Literal["half_up", "floor"] = "half_up"
    top_order: Literal["input", "score"] = "input"
    question_key: str | None = None
    prediction_key: str | None = None
    model: str | None = None
    device: str = "cpu"
    batch_size: int = Field(16, ge=1)

    @model_validator(mode="after")
    def _one_rule(self) -> ProbeFilterStage:
        if (self.top is None) == (self.threshold is None):
            raise ValueError("give exactly one of top (a fraction in (0, 1]) or threshold")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # INSPECTOR's rules at judgerl's defaults are left out: probe_filter stages keep their config hash
        data = handler(self)
        if isinstance(data, dict):
            for key, default in (("top_rounding", "half_up"), ("top_order", "input")):
                if data.get(key) == default:
                    data.pop(key)
        return data


def run_probe_filter(stage: ProbeFilterStage, ctx: StageContext) -> StageResult:
    """Score every row with the probes and write the kept rows and every row's scores.

    Features are cached in the stage folder, so a rerun after an interruption recomputes nothing done.

    Usage: result = run_probe_filter(ProbeFilterStage(data=..., probes=..., top=0.5), ctx)

    judgerl run RECIPE --only sft_top
    """
    from judgerl.probes.operations import filter_file  # the probe machinery (torch) loads when the stage runs

    result = filter_file(
        stage.probes,
        stage.data,
        str(ctx.path(OUTPUTS["kept"])),
        top=stage.top,
        threshold=stage.threshold,
        scores_out=str(ctx.path(OUTPUTS["scores"])),
        total=stage.total,
        pair_score=stage.pair_score,
        top_rounding=stage.top_rounding,
        top_order=stage.top_order,
        question_key=stage.question_key,
        prediction_key=stage.prediction_key,
        progress=ctx.progress,
        model=stage.model,
        device=stage.device,
        batch_size=stage.batch_size,
        cache_dir=str(ctx.path("cache")),
    )
    n = len(result.scores)
    kept_scores = [result.scores[i] for i in result.kept]
    return StageResult(
        outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()},
        metrics={
            "rows": n,
            "kept": len(result.kept),
            "dropped": n - len(result.kept),
            "min_kept_score": round(min(kept_scores), 6) if kept_scores else None,
            "mean_score": round(sum(result.scores) / n, 6) if n else None,
            "truncated": result.truncation.truncated,
        },
    )
