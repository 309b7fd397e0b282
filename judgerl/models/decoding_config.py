"""Recipe selection of a generation backend: `backend: hf|vllm|speculative|judge` plus, for the two
AutoJudge backends, a `decoding:` mapping (draft checkpoint, window, classifier, threshold).

Shared by the stages that generate with `make_generator` (eval, pairs), so that both validate the
same keys the same way at recipe load:

```yaml
  eval_judge:
    kind: eval
    model: ${stages.sft.checkpoint}
    data: ${stages.data.test}
    backend: judge                      # hf | vllm | speculative | judge
    decoding:
      draft: ${stages.draft_sft.checkpoint}
      classifier: ${stages.autojudge.classifier}
      window: 8
      threshold: 0.05                   # optional: overrides the threshold saved with the classifier
```

`speculative` and `judge` decode greedily, one prompt at a time (judgerl.models.generation.speculative):
a stage that samples (temperature > 0) cannot use them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from judgerl.core.config import StrictModel

Backend = Literal["hf", "vllm", "speculative", "judge"]
DRAFT_BACKENDS: tuple[str, ...] = ("speculative", "judge")


class DecodingSpec(StrictModel):
    """Draft-model decoding settings for `backend: speculative` or `backend: judge`.

    `draft`: a draft checkpoint sharing the target's tokenizer; `window`: tokens the draft proposes
    per cycle; `classifier` (judge only): a folder saved by the AutoJudge classifier (DT setup);
    `threshold` (judge only): accept a mismatching draft token when P(important) < threshold
    (default: the threshold saved with the classifier).

    >>> DecodingSpec(draft="runs/aj/draft_sft/checkpoint", window=8).window
    8
    """

    draft: str = Field(min_length=1)
    window: int = Field(16, ge=1)
    classifier: str | None = None
    threshold: float | None = Field(None, ge=0, le=1)


def check_backend(
    backend: str, decoding: DecodingSpec | None, temperatures: dict[str, float] | None = None
) -> DecodingSpec | None:
    """Check that `decoding` fits `backend` (and that the AutoJudge backends are asked to be greedy).

    Raises ValueError naming the key, the value and what was expected. Called from the `decoding`
    field validators of the stages, so that a recipe error points at `stages.NAME.decoding`.

    >>> check_backend("hf", None) is None
    True
    >>> check_backend("judge", DecodingSpec(draft="d"))
    Traceback (most recent call last):
    ...
    ValueError: backend 'judge' needs decoding.classifier (a folder saved by the AutoJudge classifier, e.g. ${stages.autojudge.classifier} or `judgerl autojudge fit --out DIR`)
    """
    if backend not in DRAFT_BACKENDS:
        if decoding is not None:
            raise ValueError(
                f"decoding (draft {decoding.draft!r}) applies to backend speculative or judge only, "
                f"but backend is {backend!r}: remove decoding or set backend: speculative|judge"
            )
        return None
    if decoding is None:
        raise ValueError(
            f"backend {backend!r} needs a decoding mapping with at least the draft checkpoint, "
            "e.g. decoding: {draft: ${stages.draft_sft.checkpoint}, window: 8}"
        )
    if backend == "judge" and not decoding.classifier:
        raise ValueError(
            "backend 'judge' needs decoding.classifier (a folder saved by the AutoJudge classifier, "
            "e.g. ${stages.autojudge.classifier} or `judgerl autojudge fit --out DIR`)"
        )
    if backend == "speculative":
        for key in ("classifier", "threshold"):
            if getattr(decoding, key) is not None:
                raise ValueError(
                    f"decoding.{key} = {getattr(decoding, key)!r} applies to backend judge only "
                    "(speculative decoding is lossless: it accepts only the target's own tokens)"
                )
    for key, value in (temperatures or {}).items():
        if value != 0:
            raise ValueError(
                f"backend {backend!r} decodes greedily, but {key} = {value!r}: set {key}: 0 "
                "or use backend hf|vllm to sample"
            )
    return decoding


def generator_kwargs(backend: str, decoding: DecodingSpec | None) -> dict[str, Any]:
    """The extra `make_generator` keyword arguments of a validated (backend, decoding) pair.

    >>> generator_kwargs("speculative", DecodingSpec(draft="d", window=4))
    {'draft_path': 'd', 'window': 4}
    >>> generator_kwargs("hf", None)
    {}
    """
    if backend not in DRAFT_BACKENDS or decoding is None:
        return {}
    kwargs: dict[str, Any] = {"draft_path": decoding.draft, "window": decoding.window}
    if backend == "judge":
        kwargs.update(classifier=decoding.classifier, threshold=decoding.threshold)
    return kwargs
