"""The `hook:NAME` judge: a plain function `fn(prompt, candidates) -> scores` used as a judge.

A score hook is registered by name in `SCORE_HOOKS` (eagerly with `register_score_hook`, or lazily
with `SCORE_HOOKS.add_lazy("name", "my_pkg.hooks:fn")`), or named directly as `hook:module:function`.
It has nothing to do with the INSPECTOR probes of `judgerl.probes`: the spelling `probe:NAME` and
`register_probe` are deprecated aliases kept for old recipes and plugins.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from judgerl.core.registry import Registry, RegistryError, resolve_dotted
from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import BatchJudge, JudgeOptions, PromptScores, scores_with_gaps

ScoreHookFn = Callable[[str, list[str]], Sequence[float]]
SCORE_HOOKS: Registry[ScoreHookFn] = Registry("score hook")


class ScoreHookError(RegistryError, ValueError):
    """A score hook that is not registered, cannot be imported, or is not callable."""


def register_score_hook(name: str, fn: ScoreHookFn | None = None) -> Any:
    """Register a score hook `fn(prompt, candidates) -> scores` as `hook:NAME`; also a decorator.

    Registering a name twice is an error unless it is the same function again.

    >>> @register_score_hook("length")
    ... def by_length(prompt, candidates):
    ...     return [float(len(c)) for c in candidates]
    >>> ScoreHookJudge.named("length").score("q", ["ab", "a"])
    [2.0, 1.0]

    Usage: register_score_hook("length", by_length)
    """
    if not name or ":" in name:
        raise ValueError(f"score hook name must be non-empty and without ':', got {name!r}")

    def add(f: ScoreHookFn) -> ScoreHookFn:
        if not callable(f):
            raise TypeError(f"score hook {name!r} must be callable, got {type(f).__name__}")
        return SCORE_HOOKS.add(name, f)

    return add if fn is None else add(fn)


def register_probe(name: str, fn: ScoreHookFn | None = None) -> Any:
    """Deprecated alias of `register_score_hook` (the scaling "probe" is a score hook).

    Usage: register_score_hook("length", by_length)  # instead of register_probe("length", by_length)
    """
    warnings.warn(
        "judgerl.eval.scaling.judges.register_probe is deprecated: use register_score_hook "
        "(a scaling score hook is not an INSPECTOR probe of judgerl.probes)",
        DeprecationWarning,
        stacklevel=2,
    )
    return register_score_hook(name, fn)


def get_score_hook(name: str) -> ScoreHookFn:
    """A registered score hook, or `module:function` imported (for hooks defined outside judgerl).

    Usage: fn = get_score_hook("length"); fn = get_score_hook("my_pkg.hooks:correctness")
    """
    if name in SCORE_HOOKS:
        fn = SCORE_HOOKS.get(name)
    elif ":" in name:
        try:
            fn = resolve_dotted(name)  # type: ignore[assignment]
        except RegistryError as e:
            raise ScoreHookError(f"score hook {name!r}: {e}") from e
    else:
        known = ", ".join(SCORE_HOOKS.names()) or "none registered"
        raise ScoreHookError(f"no score hook named {name!r} (registered: {known}; or give module:function)")
    if not callable(fn):
        raise ScoreHookError(f"score hook {name!r} is not callable")
    return fn


class ScoreHookJudge(BatchJudge):
    """A score hook used as a judge; a non-finite score is NaN and counted.

    Usage: ScoreHookJudge.named("correctness").score(prompt, candidates)
    """

    def __init__(self, fn: ScoreHookFn, name: str) -> None:
        self.fn = fn
        self.name = name

    @classmethod
    def named(cls, name: str) -> ScoreHookJudge:
        """The judge of score hook `name` (see `get_score_hook`). Usage: ScoreHookJudge.named("length")"""
        return cls(get_score_hook(name), f"hook:{name}")

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Calls the hook once per prompt. Usage: judge.score_batch(["q"], [["a", "b"]])"""
        out = []
        for prompt, cands in zip(prompts, candidate_lists, strict=True):
            raw = list(self.fn(prompt, list(cands)))
            if len(raw) != len(cands):
                raise ValueError(f"{self.name} returned {len(raw)} scores for {len(cands)} candidates")
            out.append(scores_with_gaps(raw))
        return out


def build_hook_judge(
    arg: str, spec: str, items: Sequence[PromptCandidates], options: JudgeOptions
) -> ScoreHookJudge:
    """The `hook:NAME` (or `hook:module:function`) judge of a spec, named by the spec as written.

    Usage: build_hook_judge("length", "hook:length", [], JudgeOptions())
    """
    return ScoreHookJudge(get_score_hook(arg), spec)
