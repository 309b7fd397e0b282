"""Judges for selection: anything that scores a prompt's candidates, behind one small interface.

    judge.score(prompt, candidates) -> list[float]        (higher is better)

Kinds, by the spec string the CLI and the `scaling` stage take (`JUDGE_KINDS`, one module each):
- `oracle:EPS`       the truth with noise: r = 10*c + 10*EPS*N(0, 1), clamped to [0, 10], seeded (`oracle`);
- `generative:PATH`  a causal LM prompted for a 0-10 score (greedy, first number, clamped) (`generative`);
- `prm:PATH`         a two-class head: steps joined by a separator token, 10 x the mean
                     positive-class probability at the separators (a sequence-classification
                     head scores the whole solution: 10 x P(positive)) (`prm`);
- `http:URL`         a reward endpoint: POST JSON, read a score (timeouts, retries with backoff) (`http`);
- `pairwise:PATH`    a judgerl pairwise judge: each candidate's win rate over the others, x 10 (`pairwise`);
- `hook:NAME`        a score hook registered with `register_score_hook` (or `hook:module:function`)
                     (`hook`); `probe:NAME` is its deprecated spelling.

Any judge's scores can be given the seed's judge noise, r + 10*eps*N(0, 1) clamped, after scoring
(`noise.add_judge_noise`; the stage's `judge_noise`).

A new kind is one builder `fn(arg, spec, items, options) -> judge`, registered lazily:
`JUDGE_KINDS.add_lazy("mine", "my_pkg.judges:build_my_judge")`. Scores are cached on disk by
`score_all` (`cache`), so an interrupted sweep resumes and a rerun with the same judge does not
score again.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from judgerl.core.registry import Registry, resolve_dotted
from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import (
    PRM_SEPARATOR,
    SCORE_HIGH,
    SCORE_LOW,
    BatchJudge,
    JudgeBuilder,
    JudgeOptions,
    PromptScores,
    SelectionJudge,
)
from judgerl.eval.scaling.judges.cache import ScoredPool, checkpoint_stamp, judge_cache_name, score_all
from judgerl.eval.scaling.judges.hook import (
    SCORE_HOOKS,
    ScoreHookError,
    ScoreHookFn,
    ScoreHookJudge,
    get_score_hook,
    register_probe,
    register_score_hook,
)
from judgerl.eval.scaling.judges.oracle import OracleJudge, parse_noise

if TYPE_CHECKING:  # imported on first use at run time (see `__getattr__`)
    from judgerl.eval.scaling.judges.generative import GenerativeScoreJudge
    from judgerl.eval.scaling.judges.http import HTTPJudge, JudgeEndpointError
    from judgerl.eval.scaling.judges.pairwise import PairwiseScoreJudge
    from judgerl.eval.scaling.judges.prm import PRM_SYSTEM, PRMJudge, load_prm, split_steps

__all__ = [
    "DEPRECATED_KINDS",
    "JUDGE_KINDS",
    "PRM_SEPARATOR",
    "PRM_SYSTEM",
    "SCORE_HIGH",
    "SCORE_HOOKS",
    "SCORE_LOW",
    "BatchJudge",
    "GenerativeScoreJudge",
    "HTTPJudge",
    "JudgeBuilder",
    "JudgeEndpointError",
    "JudgeOptions",
    "OracleJudge",
    "PRMJudge",
    "PairwiseScoreJudge",
    "PromptScores",
    "ScoreHookError",
    "ScoreHookFn",
    "ScoreHookJudge",
    "ScoredPool",
    "SelectionJudge",
    "build_judge",
    "checkpoint_stamp",
    "get_score_hook",
    "judge_cache_name",
    "load_prm",
    "parse_judge_spec",
    "register_probe",
    "register_score_hook",
    "score_all",
    "split_steps",
]

_HERE = "judgerl.eval.scaling.judges"
# the model-backed and HTTP kinds, imported when first asked for: recipe validation imports this
# package (for `parse_judge_spec`) and stays free of httpx and of what the model kinds load
_LAZY_EXPORTS = {
    "GenerativeScoreJudge": "generative",
    "HTTPJudge": "http",
    "JudgeEndpointError": "http",
    "PairwiseScoreJudge": "pairwise",
    "PRMJudge": "prm",
    "PRM_SYSTEM": "prm",
    "load_prm": "prm",
    "split_steps": "prm",
}


def __getattr__(name: str) -> object:
    if name in _LAZY_EXPORTS:
        return resolve_dotted(f"{_HERE}.{_LAZY_EXPORTS[name]}:{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


JUDGE_KINDS: Registry[JudgeBuilder] = Registry(
    "scaling judge kind",
    lazy={
        "oracle": f"{_HERE}.oracle:build_oracle_judge",
        "generative": f"{_HERE}.generative:build_generative_judge",
        "prm": f"{_HERE}.prm:build_prm_judge",
        "http": f"{_HERE}.http:build_http_judge",
        "pairwise": f"{_HERE}.pairwise:build_pairwise_judge",
        "hook": f"{_HERE}.hook:build_hook_judge",
    },
)
# old spelling -> (kind, why it was renamed); still accepted, with a warning that names the new spelling
DEPRECATED_KINDS = {
    "probe": ("hook", "the scaling 'probe' is a score hook, not an INSPECTOR probe of judgerl.probes"),
}


def parse_judge_spec(spec: str) -> tuple[str, str]:
    """Split a judge spec into (kind, argument); a bare URL is an HTTP judge.

    A deprecated spelling (`probe:NAME`) gives its new kind (`hook`) and a FutureWarning.

    >>> parse_judge_spec("oracle:0.1"), parse_judge_spec("http://127.0.0.1:8000/score")
    (('oracle', '0.1'), ('http', 'http://127.0.0.1:8000/score'))

    Usage: kind, arg = parse_judge_spec("pairwise:runs/x/checkpoint")
    """
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        return "http", spec
    kind, sep, arg = spec.partition(":")
    if kind in DEPRECATED_KINDS and sep and arg:
        new, why = DEPRECATED_KINDS[kind]
        warnings.warn(
            f"judge spec {spec!r}: the judge kind {kind!r} is deprecated, write {new}:{arg} ({why})",
            FutureWarning,
            stacklevel=2,
        )
        kind = new
    if kind not in JUDGE_KINDS or not sep or not arg:
        raise ValueError(
            f"judge spec {spec!r}: expected KIND:ARG with KIND one of {', '.join(JUDGE_KINDS)} "
            "(oracle:0.1, generative:PATH, prm:PATH, http:URL, pairwise:PATH, hook:NAME)"
        )
    if kind == "oracle":
        parse_noise(arg, spec)
    return kind, arg


def build_judge(
    spec: str, items: Sequence[PromptCandidates], options: JudgeOptions | None = None
) -> BatchJudge:
    """The judge a spec names; models load lazily, only for the kinds that need one.

    >>> judge = build_judge("oracle:0.5", [PromptCandidates("q", "p", ["a"], [1.0])])
    >>> judge.name, judge.score("p", ["a"])[0] <= 10.0
    ('oracle:0.5', True)

    Usage: judge = build_judge("prm:runs/prm/checkpoint", items, JudgeOptions(device="cpu"))
    """
    kind, arg = parse_judge_spec(spec)
    return JUDGE_KINDS.get(kind)(arg, spec, items, options or JudgeOptions())
