"""The `scaling` stage and `judgerl scaling`: candidates + judges -> delta(k), delta(T), plots, table.

Outputs in the stage folder: `points.json` (every (judge, k, T) point with mean, std, standard
error and prompt counts, plus the run's inputs and each judge's failure counts), `table.md`,
`delta_vs_k.png` (delta at one T against k, one line per judge, with the perfect judge's
-pass@k) and `delta_vs_T.png` (delta at one k against T). Judge scores are cached under
`scores/`, so a rerun or an interrupted sweep does not score again; converted or sampled
candidates are written to `candidates.jsonl` - a user's candidates file is only read.
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
from judgerl.eval.scaling.report import PERFECT, ScalingSweep, points_report, write_scaling_outputs
from judgerl.eval.scaling.theory import DeltaPoint, fit_inverse_square, pass_at_k, sweep
from judgerl.judge_spec.families import PromptSpec
from judgerl.models.decoding_config import EndpointSpec, check_endpoint, drop_unset, generator_kwargs

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

    `candidates` is a candidates JSONL or `gsm8k:FILE` (OpenAI's example model solutions); or
    give `policy` (a checkpoint) and `problems` (GSM8K-style JSONL) to sample `n` candidates per
    problem. `judges` are specs (oracle:EPS, generative:PATH, prm:PATH, http:URL, pairwise:PATH,
    hook:NAME; `probe:NAME` is the deprecated spelling of `hook:NAME`). The delta-vs-k plot is drawn at `plot_T` (default: the first T), the
    delta-vs-T plot at `plot_k` (default: the largest k). `backend: openai` (with `endpoint:
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
    prompt: PromptSpec | None = None
    backend: Literal["hf", "vllm", "openai"] = "hf"
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int = Field(32, ge=1)
    score_max_new_tokens: int = Field(8, ge=1)
    pairwise_max_new_tokens: int = Field(512, ge=1)
    both_orders: bool = True
    prm_separator: str = PRM_SEPARATOR
    trust_remote_code: bool = False
    http_timeout: float = Field(30.0, gt=0)
    http_retries: int = Field(3, ge=0)
    endpoint: EndpointSpec | None = Field(None, validate_default=True)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_fits_backend(cls, value: EndpointSpec | None, info: ValidationInfo) -> EndpointSpec | None:
        return check_endpoint(info.data.get("backend", "hf"), value)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return drop_unset(handler(self))  # an unset endpoint keeps the config hash of older scaling stages

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


def load_candidates(stage: ScalingStage, ctx: StageContext) -> CandidateLoad:
    """The stage's candidates: read (never written), converted from GSM8K, or sampled from a policy.

    Usage: load = load_candidates(ScalingStage(candidates="c.jsonl"), StageContext("s", Path("out")))
    """
    out = ctx.path(CANDIDATES_FILE)
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
        load = sample_candidates(generator, problems, stage.n, sampling, out, progress=ctx.progress)
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
        prompt=stage.prompt or PromptSpec(),
        both_orders=stage.both_orders,
        prm_separator=stage.prm_separator,
        trust_remote_code=stage.trust_remote_code,
        http_timeout=stage.http_timeout,
        http_retries=stage.http_retries,
        seed=seed,
        progress=progress,
        endpoint=stage.endpoint,
    )


def run_scaling(stage: ScalingStage, ctx: StageContext) -> StageResult:
    """Load candidates, score them with every judge (cached), sweep k and T, write JSON, table, plots.

    judgerl scaling --candidates gsm8k:../shared/data/gsm8k/example_model_solutions.jsonl \\
        --judge oracle:0,oracle:0.1,oracle:0.5 --k 1,2,3,4 --T 0,0.5,1,2,5 --out runs/scaling

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
    largest = max(p.pool_size for p in items)
    too_big = [k for k in ks if k > largest]
    if too_big:
        raise DataError(f"scaling: k {too_big} exceed the largest pool ({largest} candidates per prompt)")
    Ts = stage.T
    plot_T = stage.plot_T if stage.plot_T is not None else Ts[0]
    plot_k = stage.plot_k if stage.plot_k is not None else ks[-1]
    if plot_T not in Ts or plot_k not in ks:
        raise RecipeError(f"scaling: plot_T {plot_T} must be one of T {Ts} and plot_k {plot_k} one of k {ks}")
    ids = [p.id for p in items]
    correct = [p.correctness for p in items]
    options = judge_options(stage, ctx.seed, ctx.progress)
    points: list[DeltaPoint] = []
    judges_info = []
    for spec in stage.judges:
        judge = build_judge(spec, items, options)
        cache = ctx.path("scores", judge_cache_name(judge))
        pool = score_all(judge, items, cache, progress=ctx.progress)
        judges_info.append(pool.summary() | {"spec": spec, "cache": str(cache)})
        if pool.failures:
            log.warning(
                f"{spec}: {pool.failures} unusable judge outputs of {pool.calls} (filled: {pool.details})"
            )
        points += sweep(spec, pool.rewards, correct, ids, ks, Ts, stage.repeats, ctx.seed)
    binary = all(c in (0.0, 1.0) for row in correct for c in row)
    if binary:  # pass@k is the perfect judge's delta only for 0/1 correctness
        for k in ks:
            s = pass_at_k(correct, k)
            points.append(
                DeltaPoint(PERFECT, k, 0.0, s.mean, s.std, s.sem, s.n_prompts, len(items) - s.n_prompts)
            )
    theory: dict[str, tuple[float, float]] = {}
    if stage.theory and len(ks) >= 2:
        for j in stage.judges:
            curve = [p for p in points if p.judge == j and plot_T == p.T and p.n_prompts > 0]
            if len({p.k for p in curve}) >= 2:
                theory[j] = fit_inverse_square([p.k for p in curve], [p.mean for p in curve])
    result = ScalingSweep(points, list(stage.judges), ks, Ts, plot_T, plot_k, theory)
    report = points_report(load, items, result, judges_info, stage.repeats, ctx.seed)
    paths = {k: ctx.path(v) for k, v in OUTPUTS.items()}
    write_scaling_outputs(result, report, paths, title=Path(load.source).stem)
    log.info(f"{ctx.name}: {len(points)} points in {time.time() - start:.1f} s, written under {ctx.out_dir}")
    metrics: dict[str, Any] = {"prompts": len(items), "mean_accuracy": round(report["mean_accuracy"], 4)}
    for p in points:
        if plot_T == p.T and p.k == plot_k and p.n_prompts:
            metrics[f"delta[{p.judge}]"] = round(p.mean, 4)
    return StageResult(outputs={k: str(v) for k, v in paths.items()}, metrics=metrics)
