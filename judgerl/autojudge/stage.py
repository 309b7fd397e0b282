"""The `autojudge` stage: mine important tokens with a draft/target pair on training samples, fit the
DT importance classifier, then compare target-only greedy, lossless speculative and judge decoding
on held-out samples (verdict accuracy, accepted draft tokens per cycle, target calls per token,
wall time). Mining resumes from its JSONL file.

The module is torch-free (judgerl.stages imports the config class to validate recipes): mining,
the classifier and the decoders are imported when the stage runs. The `autojudge` pair filter is
named lazily in judgerl.data_prep.pair_filters; nothing is registered on import.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from judgerl.core.config import StrictModel
from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json
from judgerl.core.logging import get_logger
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.core.types import JudgeSample
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, resolve_spec
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec
from judgerl.judge_spec.reading import read
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.generation import SamplingSpec
from judgerl.models.import_config import LoadDtype

log = get_logger(__name__)
OUTPUTS = {
    "mining": "mining.jsonl",
    "classifier": "classifier",
    "metrics": "metrics.json",
}


class AutoJudgeStage(StrictModel):
    """Recipe keys of an `autojudge` stage."""

    kind: Literal["autojudge"] = "autojudge"
    target: str
    draft: str
    train: str
    test: str | None = None
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    checker: str = "synthetic"
    n_mine: int = Field(100, ge=2)
    max_mismatches: int | None = Field(12, ge=1)
    batch_size: int = Field(16, ge=1)
    target_recall: float = Field(0.9, gt=0, le=1)
    recalls: list[float] = Field(default_factory=lambda: [0.9])
    n_test: int = Field(60, ge=1)
    window: int = Field(16, ge=1)
    max_new_tokens: int = Field(150, ge=1)
    dtype: LoadDtype = "float32"
    device: str = "cpu"


def compare_decoders(
    target: Any,
    draft: Any,
    tokenizer: Any,
    samples: list[JudgeSample],
    scorer: Any,
    thresholds: dict[str, float],
    window: int,
    max_new_tokens: int,
    spec: JudgeSpec | None = None,
    setup: str = "DT",
) -> tuple[dict[str, dict[str, float]], dict[str, list[str]]]:
    """Decode `samples` with target-only, speculative, judge (one per threshold; `setup` the
    classifier's features, "DT" or "DD-DT") and draft-only greedy.

    Returns (per-decoder stats + verdict accuracy + strength accuracy, per-decoder completions).
    Usage: stats, texts = compare_decoders(t, d, tok, test, clf.scorer(), {"recall 0.9": clf.threshold}, 16, 150)
    """
    from judgerl.autojudge.mining import items_from_samples
    from judgerl.models.generation.speculative import SpeculativeGenerator

    gens = {
        "target": SpeculativeGenerator(target, tokenizer, mode="target"),
        "speculative": SpeculativeGenerator(target, tokenizer, draft, "speculative", window),
        **{
            f"judge ({name})": SpeculativeGenerator(
                target, tokenizer, draft, "judge", window, scorer, thr, setup=setup
            )
            for name, thr in thresholds.items()
        },
        "draft only": SpeculativeGenerator(draft, tokenizer, mode="target"),
    }
    prompts = [it.prompt for it in items_from_samples(samples, spec)]
    stats, texts = {}, {}
    for name, gen in gens.items():
        outs = gen.generate(prompts, SamplingSpec(max_new_tokens=max_new_tokens), progress=False, desc=name)
        verdicts = [read(spec or builtin_spec(DEFAULT_SPEC), o[0]) for o in outs]
        pairs = list(zip(verdicts, samples, strict=True))
        stats[name] = {
            **gen.stats.summary(),
            "accuracy": sum(v.choice == s.label for v, s in pairs) / len(samples),
            "strength_accuracy": sum(v.choice == s.label and v.strength == abs(s.strength) for v, s in pairs)
            / len(samples),
        }
        texts[name] = [o[0] for o in outs]
    for name in stats:
        stats[name]["same_as_target"] = sum(
            a == b for a, b in zip(texts[name], texts["target"], strict=True)
        ) / len(samples)
    return stats, texts


def decoder_table(decoders: dict[str, dict[str, float]]) -> str:
    """A markdown table of `compare_decoders` stats: accuracy, accepted tokens per cycle, wall time,
    speedups over target-only and over speculative decoding (when those rows are present).

    >>> row = {"accuracy": 0.5, "strength_accuracy": 0.5, "accepted_per_cycle": 0.0, "tokens_per_cycle": 1.0,
    ...        "target_calls_per_token": 1.0, "wall_s": 2.0}
    >>> print(decoder_table({"target": row}).splitlines()[-1])
    | target | 0.500 | 0.500 | 0.00 | 1.00 | 1.000 | 2.0 | 1.00x | - |
    """
    rows = [
        "| decoder | accuracy | verdict+strength | accepted draft tokens / cycle | tokens / cycle | "
        "target calls / token | wall s | speedup vs target | speedup vs speculative |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = decoders.get("target", {}).get("wall_s")
    spec = decoders.get("speculative", {}).get("wall_s")

    def ratio(ref: float | None, wall: float) -> str:
        return f"{ref / wall:.2f}x" if ref and wall else "-"

    for name, d in decoders.items():
        rows.append(
            f"| {name} | {d['accuracy']:.3f} | {d['strength_accuracy']:.3f} | {d['accepted_per_cycle']:.2f} | "
            f"{d['tokens_per_cycle']:.2f} | {d['target_calls_per_token']:.3f} | {d['wall_s']:.1f} | "
            f"{ratio(base, d['wall_s'])} | {ratio(spec, d['wall_s'])} |"
        )
    return "\n".join(rows)


def run_autojudge(stage: AutoJudgeStage, ctx: StageContext) -> StageResult:
    """Mine, fit the classifier and (with `test`) compare the decoders; metrics in metrics.json.

    Usage: result = run_autojudge(AutoJudgeStage(target=..., draft=..., train=...), ctx)

    judgerl run recipes/autojudge_quickstart.yaml
    """
    from judgerl.autojudge.checkers import get_checker
    from judgerl.autojudge.classifier import fit_classifier, pick_threshold
    from judgerl.autojudge.features import mismatch_features
    from judgerl.autojudge.mining import items_from_samples, mine, mining_summary
    from judgerl.models.loading import load_model_and_tokenizer

    spec = resolve_spec(stage.judge_spec, stage.prompt, stage.target, f"stage {ctx.name}", log)
    target, tok = load_model_and_tokenizer(stage.target, dtype=stage.dtype, device=stage.device)
    draft, dtok = load_model_and_tokenizer(stage.draft, dtype=stage.dtype, device=stage.device)
    if dtok.get_vocab() != tok.get_vocab():
        raise StageError(f"autojudge: draft {stage.draft} and target {stage.target} do not share a tokenizer")
    train = read_samples(stage.train)[: stage.n_mine]
    records = mine(
        draft,
        target,
        tok,
        items_from_samples(train, spec),
        get_checker(stage.checker),
        ctx.resume_path(OUTPUTS["mining"]),
        max_new_tokens=stage.max_new_tokens,
        max_mismatches=stage.max_mismatches,
        progress=ctx.progress,
        batch_size=stage.batch_size,
    )
    ds = mismatch_features(records, target, setup="DT")
    clf = fit_classifier(ds.X, ds.y, ds.groups, setup="DT", target_recall=stage.target_recall, seed=ctx.seed)
    clf.save(ctx.path(OUTPUTS["classifier"]))
    metrics: dict[str, Any] = {
        "mining": mining_summary(records),
        "classifier": {"C": clf.C, "val_auc": clf.val_auc, "threshold": clf.threshold, **clf.counts},
    }
    if stage.test:
        test = read_samples(stage.test)[: stage.n_test]
        thresholds = {f"recall {r}": pick_threshold(clf.table, r) for r in stage.recalls}
        decoders, _ = compare_decoders(
            target, draft, tok, test, clf.scorer(), thresholds, stage.window, stage.max_new_tokens, spec
        )
        metrics["decoders"] = decoders
    write_json(ctx.path(OUTPUTS["metrics"]), metrics)
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=metrics)
