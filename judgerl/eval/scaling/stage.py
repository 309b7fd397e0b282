"""The `scaling` stage and `judgerl scaling`: candidates + judges -> delta(k), delta(T), plots, table.

Outputs in the stage folder: `points.json` (every (judge, k, T) point with mean, std, standard
error and prompt counts, plus the run's inputs and each judge's failure counts), `table.md`,
`delta_vs_k.png` (delta at one T against k, one line per judge, with the perfect judge's
-pass@k) and `delta_vs_T.png` (delta at one k against T). Judge scores are cached under
`scores/`, so a rerun or an interrupted sweep does not score again; converted or sampled
candidates are written to `candidates.jsonl` - a user's candidates file is only read.

The Demystifying seed's own rules are options (docs/seeds/demystifying.md): `tie_rule: first`,
`answer_extraction: first`, `prm_steps: equals`, and `judge_noise` (its epsilon, on any judge).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, ValidationInfo, field_validator, model_serializer

from judgerl.core.config import StrictModel
from judgerl.core.errors import DataError, RecipeError
from judgerl.core.logging import get_logger
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.answers import AnswerOrder
from judgerl.eval.scaling.candidates import (
    CandidateLoad,
    PromptCandidates,
    file_sha256,
    gsm8k_solutions_to_candidates,
    read_candidates,
    read_problems,
    sample_candidates,
    write_candidates,
)
from judgerl.eval.scaling.judges import (
    PRM_SEPARATOR,
    JudgeOptions,
    build_judge,
    judge_cache_name,
    parse_judge_spec,
    score_all,
)
from judgerl.eval.scaling.judges.base import StepRule
from judgerl.eval.scaling.judges.noise import add_judge_noise, check_noise_levels, noisy_curve_name
from judgerl.eval.scaling.lm_eval_samples import (
    LM_EVAL_PREFIX,
    is_samples_pattern,
    looks_like_samples_file,
    read_lm_eval_samples,
)
from judgerl.eval.scaling.report import PERFECT, ScalingSweep, points_report, write_scaling_outputs
from judgerl.eval.scaling.theory import DeltaPoint, TieRule, fit_inverse_square, pass_at_k, sweep
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField
from judgerl.models.decoding_config import EndpointSpec, check_endpoint, drop_unset, generator_kwargs
from judgerl.models.import_config import LoadDtype

log = get_logger("judgerl.scaling")
OUTPUTS = {
    "points": "points.json",
    "table": "table.md",
    "plot_k": "delta_vs_k.png",
    "plot_T": "delta_vs_T.png",
}
CANDIDATES_FILE = "candidates.jsonl"


class ScalingStage(StrictModel):
    """Recipe keys of a `scaling` stage.

    `candidates` is a candidates JSONL, `gsm8k:FILE` (OpenAI's example model solutions), or
    lm-evaluation-harness samples: a samples file, a glob, or `lm-eval:GLOB`, with a `{k}`
    placeholder for one run per k (`lm_eval_filter` picks the filter whose rows are read); or
    give `policy` (a checkpoint) and `problems` (GSM8K-style JSONL) to sample `n` candidates per
    problem. `judges` are specs (oracle:EPS, generative:PATH, prm:PATH, http:URL, pairwise:PATH,
    hook:NAME; `probe:NAME` is the deprecated spelling of `hook:NAME`). The delta-vs-k plot is
    drawn at `plot_T` (default: the first T), the delta-vs-T plot at `plot_k` (default: the largest k).

    The Demystifying seed's rules, where judgerl's default differs: `tie_rule` (T = 0: tied maxima
    "share" the selection, or the "first" takes it), `answer_extraction` (how GSM8K answers are
    read: judgerl's "last" order or the seed's "first"), `prm_steps` ("lines" or the seed's
    "equals" sentences) and `judge_noise` (eps levels: every judge also scored r + 10*eps*N(0, 1),
    clamped to [0, 10], seeded; 0 is the judge as it is). `backend: openai` (with `endpoint:
    {base_url, ...}`) asks a server for the policy's candidates and the generative and pairwise
    judges' outputs: `policy` and the judges' PATHs are then model names it serves.
    """

    kind: Literal["scaling"] = "scaling"
    candidates: str | None = None
    policy: str | None = None
    problems: str | None = None
    n: int = Field(8, ge=1)
    policy_temperature: float = Field(0.8, ge=0)
    policy_max_new_tokens: int = Field(512, ge=1)
    judges: list[str] = Field(default_factory=lambda: ["oracle:0", "oracle:0.1", "oracle:0.5"], min_length=1)
    k: list[int] = Field(default_factory=lambda: [1, 2, 4], min_length=1)
    T: list[float] = Field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 5.0, 10.0], min_length=1)
    repeats: int = Field(32, ge=1)
    max_prompts: int | None = Field(None, ge=1)
    plot_T: float | None = Field(None, ge=0)
    plot_k: int | None = Field(None, ge=1)
    theory: bool = False
    on_bad_row: Literal["skip", "stop"] = "stop"
    lm_eval_filter: str | None = Field(None, min_length=1)
    tie_rule: TieRule = "share"
    answer_extraction: AnswerOrder = "last"
    judge_noise: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    backend: Literal["hf", "vllm", "openai"] = "hf"
    dtype: LoadDtype = "auto"
    device: str = "auto"
    batch_size: int = Field(32, ge=1)
    score_max_new_tokens: int = Field(8, ge=1)
    pairwise_max_new_tokens: int = Field(512, ge=1)
    both_orders: bool = True
    prm_separator: str = PRM_SEPARATOR
    prm_steps: StepRule = "lines"
    trust_remote_code: bool = False
    http_timeout: float = Field(30.0, gt=0)
    http_retries: int = Field(3, ge=0)
    endpoint: EndpointSpec | None = Field(None, validate_default=True)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_fits_backend(cls, value: EndpointSpec | None, info: ValidationInfo) -> EndpointSpec | None:
        return check_endpoint(info.data.get("backend", "hf"), value)

    @field_validator("judges")
    @classmethod
    def _judges(cls, v: list[str]) -> list[str]:
        for spec in v:
            parse_judge_spec(spec)
        if len(set(v)) != len(v):
            raise ValueError(f"judges are listed twice: {v}")
        return v

    @field_validator("k")
    @classmethod
    def _ks(cls, v: list[int]) -> list[int]:
        if any(k < 1 for k in v):
            raise ValueError(f"every k must be >= 1, got {v}")
        return sorted(set(v))

    @field_validator("T")
    @classmethod
    def _Ts(cls, v: list[float]) -> list[float]:
        if any(not t >= 0 for t in v):
            raise ValueError(f"every T must be >= 0 (0 = hard best-of-k, inf = uniform), got {v}")
        return sorted(set(v))

    @field_validator("judge_noise")
    @classmethod
    def _noise(cls, v: list[float]) -> list[float]:
        return check_noise_levels(v)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # an unset endpoint and the seed-rule keys at their defaults are left out, so scaling stages
        # keep the config hash they had before the keys existed
        data = drop_unset(handler(self))
        if isinstance(data, dict):
            for key, default in _SEED_RULE_DEFAULTS.items():
                if data.get(key) == default:
                    data.pop(key)
        return data


_SEED_RULE_DEFAULTS: dict[str, Any] = {
    "lm_eval_filter": None,
    "tie_rule": "share",
    "answer_extraction": "last",
    "judge_noise": [0.0],
    "prm_steps": "lines",
}


def lm_eval_pattern(candidates: str | None) -> str | None:
    """The samples pattern when `candidates` names lm-eval samples (`lm-eval:GLOB`, a glob or a
    `{k}` pattern, or a .jsonl file whose first line is an lm-eval sample), else None.

    Usage: pattern = lm_eval_pattern(stage.candidates)
    """
    if candidates is None:
        return None
    if candidates.startswith(LM_EVAL_PREFIX):
        return candidates.removeprefix(LM_EVAL_PREFIX)
    if candidates.startswith("gsm8k:"):
        return None
    if Path(candidates).is_file():  # an existing file is read by its content, whatever its name holds
        return candidates if looks_like_samples_file(candidates) else None
    return candidates if is_samples_pattern(candidates) else None


def load_candidates(stage: ScalingStage, ctx: StageContext) -> CandidateLoad:
    """The stage's candidates: read (never written), converted from GSM8K, or sampled from a policy.

    Usage: load = load_candidates(ScalingStage(candidates="c.jsonl"), StageContext("s", Path("out")))
    """
    out = ctx.path(CANDIDATES_FILE)
    pattern = lm_eval_pattern(stage.candidates)
    if stage.lm_eval_filter is not None and pattern is None:
        raise RecipeError(
            f"scaling: lm_eval_filter {stage.lm_eval_filter!r} applies to lm-eval samples candidates only "
            f"(candidates: {stage.candidates!r})"
        )
    if stage.policy is not None:
        if stage.candidates is not None or stage.problems is None:
            raise RecipeError("scaling: give either `candidates`, or `policy` with `problems` (not both)")
        from judgerl.models.generation import SamplingSpec, make_generator

        problems = read_problems(stage.problems, stage.on_bad_row)[: stage.max_prompts]
        local: dict[str, Any] = {"dtype": stage.dtype} | (
            {"device": stage.device} if stage.backend == "hf" else {}
        )
        kwargs = generator_kwargs(stage.backend, endpoint=stage.endpoint, **local)
        generator = make_generator(stage.backend, stage.policy, **kwargs)
        sampling = SamplingSpec(
            max_new_tokens=stage.policy_max_new_tokens,
            temperature=stage.policy_temperature,
            batch_size=stage.batch_size,
            seed=ctx.seed,
        )
        load = sample_candidates(
            generator,
            problems,
            stage.n,
            sampling,
            out,
            progress=ctx.progress,
            answer_extraction=stage.answer_extraction,
        )
        load.info |= {
            "policy": stage.policy,
            "problems": stage.problems,
            "problems_sha256": file_sha256(stage.problems),
        }
        return load
    if stage.candidates is None:
        raise RecipeError(
            "scaling: no candidates: give `candidates` (a JSONL file or gsm8k:FILE) or `policy` + `problems`"
        )
    if pattern is not None:
        return read_lm_eval_samples(
            pattern,
            stage.k,
            stage.lm_eval_filter,
            stage.answer_extraction,
            stage.on_bad_row,
            stage.max_prompts,
        )
    kind, _, rest = stage.candidates.partition(":")
    if kind == "gsm8k" and rest:
        load = gsm8k_solutions_to_candidates(rest, stage.on_bad_row)
        load.items = load.items[: stage.max_prompts]
        write_candidates(out, load.items, protect=[rest])
        load.info |= {"converted_from": rest, "source_sha256": file_sha256(rest), "written": str(out)}
        return load
    path = Path(stage.candidates)
    if not path.is_file():
        raise DataError(f"scaling: candidates file {path} does not exist")
    load = read_candidates(path, stage.on_bad_row)
    load.items = load.items[: stage.max_prompts]
    load.info |= {"format": "candidates", "sha256": file_sha256(path)}
    return load


def judge_options(stage: ScalingStage, seed: int, progress: bool) -> JudgeOptions:
    """The JudgeOptions of a stage config. Usage: judge_options(stage, ctx.seed, ctx.progress)."""
    return JudgeOptions(
        backend=stage.backend,
        dtype=stage.dtype,
        device=stage.device,
        batch_size=stage.batch_size,
        score_max_new_tokens=stage.score_max_new_tokens,
        pairwise_max_new_tokens=stage.pairwise_max_new_tokens,
        prompt=stage.prompt,
        judge_spec=stage.judge_spec,
        both_orders=stage.both_orders,
        prm_separator=stage.prm_separator,
        prm_steps=stage.prm_steps,
        answer_extraction=stage.answer_extraction,
        trust_remote_code=stage.trust_remote_code,
        http_timeout=stage.http_timeout,
        http_retries=stage.http_retries,
        seed=seed,
        progress=progress,
        endpoint=stage.endpoint,
    )


def _groups(
    items: list[PromptCandidates], ks: list[int], k_groups: dict[int, list[int]] | None
) -> dict[int, list[int]]:
    """Per k, the prompts its points are computed on; a k no pool can serve is a DataError."""
    if k_groups is None:
        largest = max(p.pool_size for p in items)
        too_big = [k for k in ks if k > largest]
        if too_big:
            raise DataError(f"scaling: k {too_big} exceed the largest pool ({largest} candidates per prompt)")
        return {k: list(range(len(items))) for k in ks}
    for k in ks:
        members = k_groups.get(k, [])
        if not members:
            raise DataError(f"scaling: no usable prompts for k = {k}")
        largest = max(items[i].pool_size for i in members)
        if k > largest:
            raise DataError(
                f"scaling: k = {k} exceeds the largest pool of its files ({largest} candidates per prompt)"
            )
    return k_groups


def sweep_groups(
    name: str,
    rewards: list[list[float]],
    correct: list[list[float]],
    ids: list[str],
    ks: list[int],
    Ts: list[float],
    groups: dict[int, list[int]] | None,
    repeats: int,
    seed: int,
    tie_rule: TieRule,
) -> list[DeltaPoint]:
    """`theory.sweep` over every k, each k on its own prompts when `groups` gives them (k -> indices).

    Usage: points = sweep_groups(spec, pool.rewards, correct, ids, [1, 2], [0.0], None, 32, 0, "share")
    """
    if groups is None:
        return sweep(name, rewards, correct, ids, ks, Ts, repeats, seed, tie_rule)
    points: list[DeltaPoint] = []
    for k in ks:
        at = groups[k]
        points += sweep(
            name,
            [rewards[i] for i in at],
            [correct[i] for i in at],
            [ids[i] for i in at],
            [k],
            Ts,
            repeats,
            seed,
            tie_rule,
        )
    return points


def run_scaling(stage: ScalingStage, ctx: StageContext) -> StageResult:
    """Load candidates, score them with every judge (cached), sweep k and T, write JSON, table, plots.

    judgerl scaling --candidates gsm8k:../shared/data/gsm8k/example_model_solutions.jsonl \\
        --judge oracle:0,oracle:0.1,oracle:0.5 --k 1,2,3,4 --T 0,0.5,1,2,5 --out runs/scaling

    Each judge is scored once; every `judge_noise` level is laid on those scores (a curve per
    level, `SPEC+noise:EPS`), and every curve is swept with the stage's `tie_rule`.

    Usage: run_scaling(ScalingStage(candidates="candidates.jsonl", judges=["oracle:0.1"]), ctx)
    """
    start = time.time()
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    load = load_candidates(stage, ctx)
    log.info(load.summary())
    items: list[PromptCandidates] = load.items
    if not items:
        raise DataError(f"scaling: no usable prompts in {load.source}")
    ks = list(stage.k)
    groups = _groups(items, ks, load.k_groups)
    Ts = stage.T
    plot_T = stage.plot_T if stage.plot_T is not None else Ts[0]
    plot_k = stage.plot_k if stage.plot_k is not None else ks[-1]
    if plot_T not in Ts or plot_k not in ks:
        raise RecipeError(f"scaling: plot_T {plot_T} must be one of T {Ts} and plot_k {plot_k} one of k {ks}")
    ids = [p.id for p in items]
    correct = [p.correctness for p in items]
    options = judge_options(stage, ctx.seed, ctx.progress)
    by_k = load.k_groups
    points: list[DeltaPoint] = []
    curves: list[str] = []
    judges_info = []
    for spec in stage.judges:
        judge = build_judge(spec, items, options)
        cache = ctx.path("scores", judge_cache_name(judge))
        pool = score_all(judge, items, cache, progress=ctx.progress)
        judges_info.append(pool.summary() | {"spec": spec, "cache": str(cache), "noise": stage.judge_noise})
        if pool.failures:
            log.warning(
                f"{spec}: {pool.failures} unusable judge outputs of {pool.calls} (filled: {pool.details})"
            )
        for eps in stage.judge_noise:
            name = noisy_curve_name(spec, eps)
            rewards = add_judge_noise(pool.rewards, items, eps, ctx.seed, spec)
            points += sweep_groups(
                name, rewards, correct, ids, ks, Ts, by_k, stage.repeats, ctx.seed, stage.tie_rule
            )
            curves.append(name)
    binary = all(c in (0.0, 1.0) for row in correct for c in row)
    if binary:  # pass@k is the perfect judge's delta only for 0/1 correctness
        for k in ks:
            s = pass_at_k([correct[i] for i in groups[k]], k)
            skipped = len(groups[k]) - s.n_prompts
            points.append(DeltaPoint(PERFECT, k, 0.0, s.mean, s.std, s.sem, s.n_prompts, skipped))
    theory: dict[str, tuple[float, float]] = {}
    if stage.theory and len(ks) >= 2:
        for j in curves:
            curve = [p for p in points if p.judge == j and plot_T == p.T and p.n_prompts > 0]
            if len({p.k for p in curve}) >= 2:
                theory[j] = fit_inverse_square([p.k for p in curve], [p.mean for p in curve])
    result = ScalingSweep(points, curves, ks, Ts, plot_T, plot_k, theory, tie_rule=stage.tie_rule)
    report = points_report(load, items, result, judges_info, stage.repeats, ctx.seed)
    paths = {k: ctx.path(v) for k, v in OUTPUTS.items()}
    write_scaling_outputs(result, report, paths, title=Path(load.source).stem)
    log.info(f"{ctx.name}: {len(points)} points in {time.time() - start:.1f} s, written under {ctx.out_dir}")
    metrics: dict[str, Any] = {"prompts": len(items), "mean_accuracy": round(report["mean_accuracy"], 4)}
    for p in points:
        if plot_T == p.T and p.k == plot_k and p.n_prompts:
            metrics[f"delta[{p.judge}]"] = round(p.mean, 4)
    return StageResult(outputs={k: str(v) for k, v in paths.items()}, metrics=metrics)
