"""The "judge" generation backend: speculative decoding that also accepts unimportant mismatches.

`make_generator("judge", ...)` resolves here by name (models cannot import autojudge): this loads
the AutoJudge classifier folder and hands its scorer to the decoder in
`judgerl.models.generation.speculative`.
"""

from __future__ import annotations

from typing import Any

from judgerl.autojudge.classifier_file import load_linear_importance
from judgerl.models.generation.speculative import (
    FEATURE_SETUPS,
    SpeculativeGenerator,
    make_speculative_generator,
)


def make_judge_generator(
    model_path: str,
    draft_path: str | None = None,
    classifier: str | None = None,
    window: int = 16,
    threshold: float | None = None,
    **load_kwargs: Any,
) -> SpeculativeGenerator:
    """Judge decoding with the classifier saved in `classifier`: its threshold unless `threshold` is
    given, and its feature setup ("DT": the target's hidden state; "DD-DT": the draft's and the
    target's, the draft's computed while drafting at one extra draft pass per cycle).

    Usage: gen = make_judge_generator("runs/q/sft/checkpoint", draft_path="runs/d",
    classifier="runs/aj/classifier", device="cpu")
    """
    if not classifier:
        raise ValueError(
            "generator kind 'judge' needs classifier (a folder saved by ImportanceClassifier.save)"
        )
    importance, meta = load_linear_importance(classifier)
    setup = meta.get("setup", "DT")
    if setup not in FEATURE_SETUPS:
        raise ValueError(f"AutoJudge classifier {classifier}: setup {setup!r} is not one of {FEATURE_SETUPS}")
    thr = float(meta["threshold"]) if threshold is None else threshold
    return make_speculative_generator(
        "judge",
        model_path,
        draft_path=draft_path,
        window=window,
        importance=importance,
        threshold=thr,
        setup=setup,
        **load_kwargs,
    )
