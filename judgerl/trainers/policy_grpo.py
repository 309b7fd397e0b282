"""GRPO of a policy (not a judge) with a served judge as its reward, on TRL's GRPOTrainer.

judgerl run recipes/policy_with_judge.yaml --only policy_grpo
judgerl run recipes/policy_with_judge.yaml            # judge, policy SFT, eval, GRPO, eval

The policy answers the questions of judge samples (`data_prep.policy_data`: the question as a
chat turn, the preferred response as the reference answer). Each completion is scored by the
`remote_judge` reward: POST /v1/score of a `judgerl serve` endpoint, judged against the reference
in both orders (`serving.app.reference_score`, 0-10, reward = score / 10).

With `judge_server: {model: PATH}` the stage serves that judge itself: it starts the server on a
free loopback port, fills the URL into every `remote_judge` reward that names none, and stops the
server when training ends, also when it fails. Trainers may not import `judgerl.serving` (the
layer rules of docs/architecture.md), so the process class comes in as `server_factory`, which
`judgerl.stages` wires to `serving.process.JudgeServerProcess`. Without `judge_server`, each
`remote_judge` reward must name the `url` of a server run elsewhere.

The run logs `answer_match`: the exact-match rate of the sampled completions against the true
answers, next to the judge's reward, so a rising reward can be checked against real accuracy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

from pydantic import Field, ValidationInfo, field_validator, model_validator

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json
from judgerl.core.logging import get_logger
from judgerl.core.samples import read_samples
from judgerl.core.serve_options import SERVE_PROMPTS, ServeOptions, serve_args
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.policy_data import answer_correct, policy_rows
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, save_spec
from judgerl.rewards.adapters import completion_text
from judgerl.rewards.registry import parse_reward_specs
from judgerl.trainers.common import TrainingKeys, train_resumable, trl_grpo_config, whole_stage_loss
from judgerl.trainers.curves import curve_summary, plot_reward_curve, reward_keys

log = get_logger("judgerl.policy_grpo")
OUTPUTS = {
    "checkpoint": "checkpoint",
    "log": "log_history.json",
    "curve": "reward_curve.json",
    "plot": "reward_curve.png",
}
POLICY_REWARDS = ("remote_judge",)


class JudgeServer(Protocol):
    """What the stage needs of a judge server process (serving.process.JudgeServerProcess)."""

    @property
    def url(self) -> str:
        """The server's base URL."""
        ...

    def start(self) -> Any:
        """Launch and wait until healthy."""
        ...

    def stop(self, kill: bool = False) -> None:
        """Stop the process (a no-op when it is not running)."""
        ...


ServerFactory = Callable[..., JudgeServer]


class JudgeServerSpec(ServeOptions):
    """The judge the stage serves for its rewards: the `judgerl serve` options (ServeOptions, the
    one spec with its defaults, see `judgerl serve -h`), plus the judge's `model`.

    `ready_timeout` bounds the wait for the server's /health; `threads` sets OMP_NUM_THREADS /
    MKL_NUM_THREADS of the server process (default: inherited).

    >>> JudgeServerSpec(model="runs/quickstart/sft/checkpoint", max_new_tokens=150).cli_args(None)[:4]
    ['--max-batch', '32', '--max-wait-ms', '10.0']
    """

    model: str
    ready_timeout: float = Field(180.0, gt=0)
    threads: int | None = Field(None, ge=1)

    def cli_args(self, prompt: PromptSpec | None, spec_file: str | None = None) -> list[str]:
        """The `judgerl serve` arguments after --model/--host/--port, serving with `prompt`.

        Generated from the ServeOptions fields (`core.serve_options.serve_args`), then --prompt
        and --instruction.

        Usage: JudgeServerProcess(spec.model, extra_args=spec.cli_args(PromptSpec("strength")))
        """
        if prompt is not None and (prompt.family not in SERVE_PROMPTS or prompt.hint != "none"):
            raise ValueError(
                f"judge_server: the judge prompt must be one of {SERVE_PROMPTS} without a hint, got {prompt}"
            )
        args = serve_args(self, prompt and prompt.family, prompt and prompt.instruction)
        return args + (["--judge-spec", spec_file] if spec_file else [])

    def env(self) -> dict[str, str]:
        """Environment overrides for the server process (thread counts when `threads` is set)."""
        if self.threads is None:
            return {}
        return {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}


class PolicyGRPOStage(TrainingKeys):
    """Recipe keys of a `policy_grpo` stage. Batch keys count completions per process (TRL's convention).

    `model` is the policy checkpoint, `data` judge samples whose questions and preferred responses
    become prompts and references. `prompt` is the served judge's prompt (the recipe's prompt by
    default), not the policy's. `rewards` lists registry rewards usable for a policy
    (`remote_judge`, options url, reference, timeout, retries, unparsed_reward);
    `reward_concurrency` bounds the requests in flight to the judge (two judgements each), so
    that one step's completions can share one server batch.
    """

    kind: Literal["policy_grpo"] = "policy_grpo"
    model: str
    data: str
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    judge_server: JudgeServerSpec | None = None
    rewards: list[dict[str, Any]] = Field(default_factory=lambda: [{"name": "remote_judge", "weight": 1.0}])
    reward_concurrency: int = Field(64, ge=1)
    max_prompts: int | None = Field(None, ge=1)
    num_generations: int = Field(8, ge=2)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    beta: float = Field(0.0, ge=0)
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    scale_rewards: Literal["group", "batch", "none"] = "group"
    max_completion_length: int = Field(32, ge=1)
    lr: float = Field(1e-5, gt=0)
    batch_size: int = Field(32, ge=1)
    steps_per_generation: int | None = Field(None, ge=1, validate_default=True)
    log_completions: bool = False

    @field_validator("rewards", mode="before")
    @classmethod
    def _policy_rewards(cls, value: Any) -> list[dict[str, Any]]:
        specs = parse_reward_specs(value)  # ValueError names the bad entry and the known rewards
        wrong = [s.name for s in specs if s.name not in POLICY_REWARDS]
        if wrong:
            raise ValueError(
                f"rewards {wrong} score judgements, not policy answers; a policy_grpo stage accepts {list(POLICY_REWARDS)}"
            )
        return [{"name": s.name, "weight": s.weight, **s.kwargs} for s in specs]

    @field_validator("steps_per_generation")
    @classmethod
    def _whole_groups(cls, value: int | None, info: ValidationInfo) -> int | None:
        data = info.data
        if not {"batch_size", "grad_accum", "num_generations"} <= set(data):
            return value
        rows = data["batch_size"] * (value or data["grad_accum"])
        if rows % data["num_generations"]:
            raise ValueError(
                f"batch_size * steps_per_generation (default grad_accum) = {rows} completions per generation "
                f"must be a multiple of num_generations = {data['num_generations']}"
            )
        return value

    @model_validator(mode="after")
    def _reward_urls(self) -> PolicyGRPOStage:
        for r in self.rewards:
            if self.judge_server is not None and r.get("url"):
                raise ValueError(
                    f"rewards: {r['name']} names url {r['url']!r} while judge_server serves the judge; "
                    "drop the url (the stage fills in its own server's) or drop judge_server"
                )
            if self.judge_server is None and not r.get("url"):
                raise ValueError(
                    f"rewards: {r['name']} needs a judge: set judge_server: {{model: PATH}} for the stage "
                    "to serve one, or give the reward the url of a running `judgerl serve`"
                )
        if self.judge_server is not None:
            self.judge_server.cli_args(self.prompt)  # the prompt must be servable
        return self


def policy_reward_funcs(
    rewards: Sequence[dict[str, Any]], url: str | None, concurrency: int = 32
) -> tuple[list[Callable[..., list[float]]], list[float]]:
    """TRL reward functions and weights for a policy stage's rewards; `url` fills in missing urls.

    >>> funcs, weights = policy_reward_funcs([{"name": "remote_judge", "weight": 2.0}], "http://127.0.0.1:9")
    >>> funcs[0].__name__, weights, funcs[0].client.url
    ('remote_judge', [2.0], 'http://127.0.0.1:9')
    """
    from judgerl.rewards.remote import remote_trl_reward

    funcs, weights = [], []
    for spec in parse_reward_specs(list(rewards)):
        if spec.name not in POLICY_REWARDS:
            raise ValueError(
                f"reward {spec.name!r} is not a policy reward (use one of {list(POLICY_REWARDS)})"
            )
        options = dict(spec.kwargs)
        target = options.pop("url", None) or url
        if not target:
            raise ValueError(f"reward {spec.name!r}: no url given and no judge server started")
        reference = options.pop("reference", "label")
        if reference not in ("label", "none"):
            raise ValueError(f"reward {spec.name!r}: reference must be 'label' or 'none', got {reference!r}")
        funcs.append(
            remote_trl_reward(
                target,
                reference_column="reference" if reference == "label" else None,
                concurrency=concurrency,
                **options,
            )
        )
        weights.append(spec.weight)
    return funcs, weights


def with_answer_match(fn: Callable[..., list[float]], stats: dict[str, float]) -> Callable[..., list[float]]:
    """Wrap a TRL reward so each call also logs `answer_match` (exact-match rate of the completions).

    Usage: funcs[0] = with_answer_match(funcs[0], stats)   # stats["answer_match_last"] after a call
    """

    def reward(prompts: Any = None, completions: Sequence[Any] = (), **columns: Any) -> list[float]:
        answers, references = columns.get("answer"), columns.get("reference")
        if answers is not None and references is not None and completions:
            texts = [completion_text(c) for c in completions]
            rows = [{"answer": a, "reference": r} for a, r in zip(answers, references, strict=True)]
            rate = sum(answer_correct(t, row) for t, row in zip(texts, rows, strict=True)) / len(texts)
            stats["answer_match_last"] = rate
            stats["calls"] = stats.get("calls", 0) + 1
            if callable(columns.get("log_metric")):
                columns["log_metric"]("answer_match", rate)
        return fn(prompts=prompts, completions=completions, **columns)

    reward.__name__ = fn.__name__
    reward.__qualname__ = fn.__qualname__
    reward.__doc__ = fn.__doc__
    return reward


def curve_points(
    history: Sequence[dict[str, Any]], keys: Sequence[str] = ("reward", "answer_match")
) -> list[dict]:
    """The logged training points: step and each of `keys` present (rounded to 4 places).

    >>> curve_points([{"step": 5, "reward": 0.41234, "answer_match": 0.5, "loss": 0.1}, {"step": 5, "train_loss": 1}])
    [{'step': 5, 'reward': 0.4123, 'answer_match': 0.5}]
    """
    points = []
    for h in history:
        values = {k: round(float(h[k]), 4) for k in keys if h.get(k) is not None}
        if values and "step" in h:
            points.append({"step": h["step"], **values})
    return points


def _server_metrics(url: str) -> dict[str, Any]:
    """The judge server's /metrics (request counts, latencies, batch sizes, parse failures); {} on failure."""
    from judgerl.core.http import HTTPClient, HTTPError

    token = os.environ.get("JUDGERL_SERVE_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        with HTTPClient(url, timeout=10, retries=0, headers=headers) as http:
            return http.get_json("/metrics")
    except (HTTPError, ValueError) as err:
        log.warning(f"policy_grpo: could not read {url}/metrics: {err}")
        return {}


def run_policy_grpo(
    stage: PolicyGRPOStage, ctx: StageContext, server_factory: ServerFactory | None = None
) -> StageResult:
    """GRPO of the policy with the judge's rewards; serves the judge for the run when `judge_server` is set.

    `server_factory(model, extra_args=..., log_path=..., ready_timeout=..., env=...)` makes the
    server (judgerl.stages passes serving.process.JudgeServerProcess). The server is stopped in a
    `finally`: after success, a training error or an interrupt. Writes the policy checkpoint,
    log_history.json, reward_curve.json (.png) and, in the stage folder, judge_server.log.

    Usage: run_policy_grpo(PolicyGRPOStage(model=..., data=..., judge_server={"model": ...}), ctx, JudgeServerProcess)
    """
    if stage.judge_server is None:
        return _train(stage, ctx, url=None)
    if server_factory is None:
        raise StageError(
            "policy_grpo: judge_server is set but no server_factory was given (judgerl.stages wires one)"
        )
    spec = stage.judge_server
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    server = server_factory(
        spec.model,
        extra_args=spec.cli_args(
            stage.prompt,
            str(save_spec(stage.judge_spec, ctx.out_dir)) if stage.judge_spec is not None else None,
        ),
        log_path=ctx.path("judge_server.log"),
        ready_timeout=spec.ready_timeout,
        env=spec.env(),
    )
    try:
        started = time.time()
        server.start()
        log.info(
            f"policy_grpo: judge {spec.model} served at {server.url} (ready in {time.time() - started:.1f} s)"
        )
        result = _train(stage, ctx, url=server.url)
        result.metrics["judge_server"] = _summary(_server_metrics(server.url))
        return result
    finally:
        server.stop()
        log.info("policy_grpo: judge server stopped")


def _summary(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The manifest's view of the judge server's /metrics: counts, batch sizes, /v1/score latency.

    >>> _summary({"judgements": 4, "batches": {"mean_size": 2.0}, "parse_failures_total": 1, "x": 0})
    {'judgements': 4, 'parse_failures_total': 1, 'batches': {'mean_size': 2.0}}
    """
    out = {
        k: snapshot[k] for k in ("judgements", "parse_failures_total", "batches", "requests") if k in snapshot
    }
    score_latency = snapshot.get("latency_seconds", {}).get("/v1/score")
    if score_latency:
        out["score_latency_seconds"] = score_latency
    return out


def _grpo_config(stage: PolicyGRPOStage, ctx: StageContext, weights: list[float]) -> Any:
    return trl_grpo_config(stage, ctx, weights, activation_checkpointing=False)


def _train(stage: PolicyGRPOStage, ctx: StageContext, url: str | None) -> StageResult:
    from datasets import Dataset
    from trl import GRPOTrainer

    from judgerl.models.loading import load_model_and_tokenizer
    from judgerl.trainers.publish import card_files, push_after_training
    from judgerl.trainers.saving import save_trained
    from judgerl.trainers.tracking import tracking

    built = policy_rows(read_samples(stage.data))
    rows = built.rows[: stage.max_prompts] if stage.max_prompts else built.rows
    if built.skipped:
        log.warning(f"policy_grpo: skipped {len(built.skipped)} samples: first {built.skipped[:3]}")
    funcs, weights = policy_reward_funcs(stage.rewards, url, stage.reward_concurrency)
    config = _grpo_config(stage, ctx, weights)
    prompts_per_generation = config.generation_batch_size // stage.num_generations
    if len(rows) < prompts_per_generation:
        raise StageError(
            f"policy_grpo: {len(rows)} questions are fewer than one generation batch of "
            f"{prompts_per_generation} prompts; add data or lower batch_size"
        )
    model, tokenizer = load_model_and_tokenizer(stage.model, dtype="auto")
    match_stats: dict[str, float] = {}
    funcs[0] = with_answer_match(funcs[0], match_stats)
    with tracking(stage, ctx):
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=funcs,
            args=config,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
        )
        output, train_seconds, resumed_from = train_resumable(trainer, ctx, log, stage.on_nonfinite)

    history = trainer.state.log_history
    per_reward = [k for k in reward_keys(history) if k != "reward"]
    keys = ["reward", "answer_match", *per_reward]
    points = curve_points(history, keys)
    checkpoint = ctx.path(OUTPUTS["checkpoint"])
    save_trained(trainer, tokenizer, checkpoint, False, card_files(stage, ctx, checkpoint))
    pushed: dict[str, Any] = {}
    if trainer.is_world_process_zero():
        pushed = push_after_training(stage, ctx, checkpoint)
        write_json(ctx.path(OUTPUTS["log"]), history)
        write_json(ctx.path(OUTPUTS["curve"]), points)
        plot_reward_curve(history, ctx.path(OUTPUTS["plot"]), keys, title=f"policy GRPO ({ctx.name})")
    metrics = {
        "train_prompts": len(rows),
        "steps": trainer.state.global_step,
        "reward_curve": curve_summary(points, "reward"),
        "answer_match_curve": curve_summary(points, "answer_match"),
        **{f"curve/{k}": curve_summary(points, k) for k in per_reward},
        "train_loss": whole_stage_loss(trainer, output, resumed_from),
        "train_seconds": round(train_seconds, 1),
        "resumed_from": resumed_from,
        **pushed,
    }
    log.info(
        f"policy_grpo: reward {metrics['reward_curve']}, answer_match {metrics['answer_match_curve']} "
        f"over {metrics['steps']} steps"
    )
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=metrics)
