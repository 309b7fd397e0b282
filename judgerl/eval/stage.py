"""The `eval` stage and `judgerl eval`: a judge checkpoint against judge samples, both orders."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from judgerl.core.config import StrictModel
from judgerl.core.jsonl import write_json, write_jsonl, write_text_atomic
from judgerl.core.logging import get_logger, print_report
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.specs import PathOrSource
from judgerl.data_prep.subsample import DEFAULT_SUBSAMPLE, SubsampleMode, drop_unused_subsample, subsample
from judgerl.eval.logprob import EvalScoring, check_eval_scoring, drop_default_scoring
from judgerl.eval.metrics import metrics_table, pairwise_metrics
from judgerl.eval.pairwise import judge_sample_rows, judgement_from_row
from judgerl.eval.stage_clock import StageClock, TimedGenerator
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, resolve_spec
from judgerl.models.chat_templates import check_template_name
from judgerl.models.decoding_config import (
    CHUNK_HELP,
    Backend,
    DecodingSpec,
    EndpointSpec,
    check_backend,
    check_endpoint,
    check_model,
    chunk_prompts,
    drop_unset,
    generator_kwargs,
)
from judgerl.models.import_config import LoadDtype

log = get_logger("judgerl.eval")
OUTPUTS = {"metrics": "metrics.json", "predictions": "predictions.jsonl", "table": "table.md"}
RELIABILITY = "reliability.png"  # scoring: logprob only


class EvalStage(StrictModel):
    """Recipe keys of an `eval` stage. `data` is a JudgeSample JSONL path or a source mapping.

    `backend: speculative|judge` (AutoJudge, greedy only) needs `decoding: {draft, window,
    classifier (judge), threshold (judge, optional)}` (judgerl.models.decoding_config).
    `backend: openai` needs `endpoint: {base_url, ...}`; `model` is then the served model's name
    (omitted: the endpoint's only model) and `model_name` the name written to metrics.json.
    `scoring: logprob` (hf backend, or openai with endpoint.tokenizer) picks the verdict sentence the
    judge finds most probable, after its generated thinking for a thinking family
    (judgerl.models.logprob_judge), and reports calibration.
    `scoring: classifier` (hf backend) scores each response with a sequence-classification reward
    model and the higher score wins (judgerl.eval.classifier); no prompt, no judge spec.
    `max_samples` keeps that many samples, drawn as `subsample` says: random (default, seeded by the
    recipe seed), stratified (each subset its share) or first (file order).
    `chat_template` (a built-in name or a Jinja file) is used when the model's tokenizer has none.
    `chunk_size`: judgements appended to the partial predictions between generate calls (default:
    one batch; vllm 256), so an interrupt loses at most that many; not part of the config hash.
    """

    kind: Literal["eval"] = "eval"
    model: str | None = None
    model_name: str | None = None
    data: PathOrSource
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    both_orders: bool = True
    max_new_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0)
    batch_size: int = Field(32, ge=1)
    chunk_size: int | None = Field(None, ge=1, exclude=True, description=CHUNK_HELP)
    max_samples: int | None = Field(None, ge=1)
    subsample: SubsampleMode = DEFAULT_SUBSAMPLE
    backend: Backend = "hf"
    decoding: DecodingSpec | None = Field(None, validate_default=True)
    dtype: LoadDtype = "auto"
    scoring: EvalScoring = "generate"
    chat_template: str | None = None
    endpoint: EndpointSpec | None = Field(None, validate_default=True)

    @field_validator("decoding")
    @classmethod
    def _decoding_fits_backend(cls, value: DecodingSpec | None, info: ValidationInfo) -> DecodingSpec | None:
        temperature = {"temperature": info.data["temperature"]} if "temperature" in info.data else {}
        return check_backend(info.data.get("backend", "hf"), value, temperature)

    @field_validator("scoring", "chat_template")
    @classmethod
    def _hf_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        backend = info.data.get("backend", "hf")
        if info.field_name == "chat_template":
            value = check_template_name(value)
        allowed = ("hf", "openai") if info.field_name == "scoring" else ("hf",)
        if value not in (None, "generate") and backend not in allowed:
            raise ValueError(
                f"{info.field_name}: {value!r} needs backend: {' or '.join(allowed)}, got backend: {backend}"
            )
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_fits_backend(cls, value: EndpointSpec | None, info: ValidationInfo) -> EndpointSpec | None:
        return check_endpoint(info.data.get("backend", "hf"), value)

    @model_validator(mode="after")
    def _model_fits_backend(self) -> EvalStage:
        check_model(self.model, self.backend)
        check_eval_scoring(self.scoring, self.backend, self.endpoint)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # the defaults are left out so that eval stages keep the config hash they had before these keys
        dump = drop_unset(drop_default_scoring(handler(self)), ("chat_template", "endpoint", "model_name"))
        return drop_unused_subsample(dump, "subsample", ["max_samples"])


def _load_eval_samples(data: str | dict[str, Any]) -> list[JudgeSample]:
    if isinstance(data, str):
        return read_samples(data, unique=True)
    from judgerl.data_prep.sources import load_source

    result = load_source(dict(data))
    log.info(result.summary())
    return result.samples


def run_eval(stage: EvalStage, ctx: StageContext) -> StageResult:
    """Judge the samples in both orders and write predictions.jsonl, metrics.json and table.md.

    judgerl run recipes/quickstart.yaml --only eval_sft
    judgerl eval --model runs/quickstart/sft/checkpoint --data runs/quickstart/data/test.jsonl

    Usage: run_eval(EvalStage(model="runs/quickstart/sft/checkpoint", data="test.jsonl"), ctx)
    """
    from judgerl.models.generation import generator_stats

    classifier = stage.scoring == "classifier"
    spec = (
        None
        if classifier
        else resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}", log)
    )
    samples, drawn = subsample(_load_eval_samples(stage.data), stage.max_samples, stage.subsample, ctx.seed)
    if not samples:
        raise ValueError(f"eval: no samples in {stage.data}")
    partial = ctx.resume_path("predictions.partial.jsonl")
    if not ctx.resume and partial.exists():
        partial.unlink()
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    # judging seconds of every attempt, so a resumed stage reports its whole judging time
    clock = StageClock(ctx.resume_path("predictions.partial.seconds.json"), resume=ctx.resume)
    backend: Any = None
    if classifier:
        from judgerl.eval.classifier import classifier_rows, load_classifier

        scorer = load_classifier(str(stage.model), stage.dtype, stage.chat_template, stage.batch_size)
        rows = classifier_rows(scorer, samples, stage.both_orders)
    else:
        backend, generator = _judge(stage, spec)
        rows = judge_sample_rows(
            TimedGenerator(generator, clock),
            samples,
            spec,
            _sampling(stage, ctx.seed),
            partial,
            chunk_size=chunk_prompts(stage.chunk_size, stage.batch_size, stage.backend),
            both_orders=stage.both_orders,
        )
    seconds = clock.total()
    judgements = [judgement_from_row(r) for r in rows]
    metrics = pairwise_metrics(judgements, None if spec is None else spec.counting)
    decoding = None if backend is None else generator_stats(backend, stage.backend)
    if decoding is not None:  # speculative: accepted tokens; openai: requests
        metrics["decoding"] = decoding
    metrics.update(
        model=stage.model_name or stage.model or getattr(backend, "model", None),
        judge_spec=None if spec is None else spec.name,
        seconds=round(seconds, 1),
        judging_attempts=clock.attempt,
        scoring=stage.scoring,
    )
    if classifier:
        from judgerl.eval.classifier import CLASSIFIER_NOTE

        metrics["note"] = CLASSIFIER_NOTE
    if drawn is not None:
        metrics["subsample"] = drawn
    outputs = {k: str(ctx.path(v)) for k, v in OUTPUTS.items()}
    if stage.scoring == "logprob":
        from judgerl.eval.calibration import calibration_metrics, plot_reliability

        scored = [r for r in rows if "logprob" in r]
        metrics["calibration"] = calibration_metrics(
            [r["logprob"]["confidence"] for r in scored], [r["correct"] for r in scored]
        )
        plot_reliability(metrics["calibration"], ctx.path(RELIABILITY), ctx.name)
        outputs["reliability"] = str(ctx.path(RELIABILITY))
    write_jsonl(ctx.path(OUTPUTS["predictions"]), rows)
    write_json(ctx.path(OUTPUTS["metrics"]), metrics)
    rows = {ctx.name: metrics["overall"]} | {f"  {k}": v for k, v in metrics["subsets"].items()}
    if "as_counted" in metrics and spec is not None:
        rows[f"{ctx.name} (counted as {spec.counting.name})"] = metrics["as_counted"]["overall"]
    table = metrics_table(rows)
    if classifier:
        table += f"\n\n{metrics['note']}"
    write_text_atomic(ctx.path(OUTPUTS["table"]), table + "\n")
    partial.unlink(missing_ok=True)
    clock.finish()
    log.info(f"{ctx.name}: {len(judgements)} judgements in {seconds:.1f} s")
    print_report(table)
    summary = {**metrics["overall"], "seconds": metrics["seconds"], "judging_attempts": clock.attempt}
    if "calibration" in metrics:
        summary["ece"] = metrics["calibration"]["ece"]
    if drawn is not None:
        summary["subsample"] = drawn
    return StageResult(outputs=outputs, metrics=summary)


def _judge(stage: EvalStage, spec: Any) -> tuple[Any, Any]:
    """(the backend, the generator the stage judges with: the backend, wrapped for log-probability verdicts)."""
    from judgerl.models.generation import make_generator

    template = {"chat_template": stage.chat_template} if stage.chat_template else {}
    backend = make_generator(
        stage.backend,
        stage.model,
        **generator_kwargs(stage.backend, stage.decoding, stage.endpoint, dtype=stage.dtype, **template),
    )
    if stage.scoring == "logprob":
        from judgerl.models.logprob_judge import LogprobJudge

        return backend, LogprobJudge(backend, spec)
    return backend, backend


def _sampling(stage: EvalStage, seed: int) -> Any:
    from judgerl.models.generation import SamplingSpec

    return SamplingSpec(
        max_new_tokens=stage.max_new_tokens,
        temperature=stage.temperature,
        batch_size=stage.batch_size,
        seed=seed,
    )
