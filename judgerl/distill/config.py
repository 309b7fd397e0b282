"""Recipe keys of a `distill` stage and its teachers (torch-free and httpx-free: recipes validate against it).

```yaml
  distill:
    kind: distill
    data: ${stages.skywork.train}
    teacher:
      kind: openai                        # openai | hf | vllm
      base_url: https://api.deepseek.com  # or http://127.0.0.1:8000/v1 for `vllm serve`
      model_name: deepseek-reasoner
      api_key_env: DEEPSEEK_API_KEY       # the key is read from this variable, never from the recipe
    n: 1
    max_thinking_tokens: 4096
    over_budget: trim
```
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from judgerl.core.config import StrictModel
from judgerl.core.serve_options import SERVE_PROMPTS, ServeOptions, serve_args
from judgerl.data_prep.sources.specs import PathOrSource
from judgerl.data_prep.subsample import DEFAULT_SUBSAMPLE, SubsampleMode, drop_unused_subsample
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField
from judgerl.models.decoding_config import CHUNK_HELP, EndpointConnection
from judgerl.models.import_config import LoadDtype

OUTPUTS = {"traces": "traces.jsonl", "answers": "answers.jsonl", "stats": "stats.json"}


class ServedTeacher(ServeOptions):
    """A checkpoint the stage serves itself with `judgerl serve` (the ServeOptions flags, plus the
    judge's `model`), started on a free loopback port before the first request and stopped after
    the last, also when the stage fails. `threads` sets the server's OMP/MKL thread counts.

    >>> ServedTeacher(model="runs/quickstart/sft/checkpoint", max_new_tokens=150).cli_args(None)[:2]
    ['--max-batch', '32']
    """

    model: str
    ready_timeout: float = Field(180.0, gt=0)
    threads: int | None = Field(None, ge=1)

    def cli_args(self, prompt: PromptSpec | None, spec_file: str | None = None) -> list[str]:
        """The `judgerl serve` arguments after --model/--host/--port: the stage's prompt shorthand or judge
        spec file when it has one (else the server uses the spec saved with the model).

        Usage: JudgeServerProcess(spec.model, extra_args=spec.cli_args(PromptSpec("strength")))
        """
        if prompt is not None and prompt.family not in SERVE_PROMPTS:
            raise ValueError(f"teacher.serve: the prompt family must be one of {SERVE_PROMPTS}, got {prompt}")
        args = serve_args(self, prompt and prompt.family, prompt and prompt.instruction)
        return args + (["--judge-spec", spec_file] if spec_file else [])

    def env(self) -> dict[str, str]:
        """Environment overrides for the server process (thread counts when `threads` is set).

        Usage: JudgeServerProcess(spec.model, env=spec.env())
        """
        if self.threads is None:
            return {}
        return {"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}


class OpenAITeacher(EndpointConnection):
    """Any OpenAI-compatible chat-completions endpoint (vLLM's or SGLang's server, DeepSeek's API,
    `judgerl serve`), asked through the `openai` generation backend (judgerl.models.generation.openai)
    with the connection keys every endpoint has (EndpointConnection: base_url, api_key_env, use_n,
    concurrency, timeout, retries, backoff, max_backoff, extra_body).

    `base_url` is the API root that "/chat/completions" is appended to (".../v1" for vLLM, SGLang
    and `judgerl serve`; "https://api.deepseek.com" for DeepSeek); `model_name` the endpoint's
    model. With `serve` the stage starts `judgerl serve` itself and fills in the URL (and the model
    name when it is not given). DeepSeek's API takes no `n`: leave `use_n` off there.

    >>> OpenAITeacher(base_url="https://api.deepseek.com", model_name="deepseek-reasoner").concurrency
    8
    """

    kind: Literal["openai"] = "openai"
    base_url: str | None = None  # type: ignore[assignment]  # optional here: `serve` fills it in
    model_name: str | None = None
    serve: ServedTeacher | None = None

    @model_validator(mode="after")
    def _endpoint(self) -> OpenAITeacher:
        if self.serve is None and not self.base_url:
            raise ValueError(
                "an openai teacher needs base_url (e.g. https://api.deepseek.com or http://127.0.0.1:8000/v1) "
                "and model_name, or serve: {model: CHECKPOINT} for the stage to serve one"
            )
        if self.serve is not None and self.base_url:
            raise ValueError(
                f"base_url {self.base_url!r} and serve are both set: drop base_url (the stage serves "
                "the teacher and fills it in) or drop serve"
            )
        if self.serve is None and not self.model_name:
            raise ValueError(
                "an openai teacher needs model_name (the endpoint's model, e.g. deepseek-reasoner)"
            )
        return self


class LocalTeacher(StrictModel):
    """A checkpoint run in the stage's own process by a shared generation backend (make_generator).

    >>> LocalTeacher(kind="hf", model="runs/quickstart/sft/checkpoint").batch_size
    32
    """

    kind: Literal["hf", "vllm"]
    model: str
    batch_size: int = Field(32, ge=1)
    chunk_size: int | None = Field(None, ge=1, description=CHUNK_HELP)
    top_k: int = Field(0, ge=0)
    dtype: LoadDtype = "auto"


Teacher = Annotated[OpenAITeacher | LocalTeacher, Field(discriminator="kind")]


class DistillStage(StrictModel):
    """Recipe keys of a `distill` stage: ask a teacher for judgements, keep the traces it got right.

    `data` is a JudgeSample JSONL path or a source mapping; `prompt` the recipe's judge prompt (no
    hint). For each sample (both orders with `both_orders`) the teacher writes `n` judgements at
    `temperature` / `top_p`, at most `max_new_tokens` each. A judgement is kept when the strict
    parser reads a verdict equal to the label and, in the strength family, a strength equal to the
    sample's (unless `verdict_only`; a sample without a strength takes the teacher's).
    `max_traces_per_order` keeps at most that many accepted traces per sample and order (None:
    all). `max_items` asks about that many samples, drawn by `subsample` (random, seeded by the recipe
    seed; stratified by subset; or the first in file order). Thinking longer than `max_thinking_tokens` (counted with `tokenizer`, else in
    whitespace-separated words) is cut to the budget (`over_budget: trim`) or rejected (`drop`).
    """

    kind: Literal["distill"] = "distill"
    data: PathOrSource
    teacher: Teacher
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    n: int = Field(1, ge=1)
    both_orders: bool = False
    verdict_only: bool = False
    temperature: float = Field(0.6, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(4096, ge=1)
    max_items: int | None = Field(None, ge=1)
    subsample: SubsampleMode = DEFAULT_SUBSAMPLE
    max_traces_per_order: int | None = Field(1, ge=1)
    max_thinking_tokens: int | None = Field(None, ge=1)
    over_budget: Literal["trim", "drop"] = "drop"
    tokenizer: str | None = None

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # the subsample mode is hashed only where it draws (a stage without max_items keeps its hash)
        return drop_unused_subsample(handler(self), "subsample", ["max_items"])

    @model_validator(mode="after")
    def _fits(self) -> DistillStage:
        if self.prompt is not None and self.prompt.hint != "none":
            raise ValueError(
                f"prompt.hint is {self.prompt.hint!r}: the teacher judges with the judge's own prompt "
                "(hint none); a critic SFT stage adds its hint to the same traces"
            )
        if self.n > 1 and self.temperature == 0:
            raise ValueError(f"n = {self.n} judgements per sample need temperature > 0 (0 is greedy)")
        serve = getattr(self.teacher, "serve", None)
        if serve is not None and "max_new_tokens" not in serve.model_fields_set:
            serve.max_new_tokens = self.max_new_tokens  # the served teacher's limit is the stage's
        elif serve is not None and serve.max_new_tokens < self.max_new_tokens:
            raise ValueError(
                f"teacher.serve.max_new_tokens = {serve.max_new_tokens} is below max_new_tokens = "
                f"{self.max_new_tokens}: the server would refuse every request (drop one of the two)"
            )
        if self.tokenizer is not None and self.max_thinking_tokens is None:
            raise ValueError("tokenizer counts thinking tokens for max_thinking_tokens, which is not set")
        return self

    @property
    def orders(self) -> tuple[str, ...]:
        """The answer orders each sample is judged in. Usage: for order in stage.orders: ..."""
        return ("ab", "ba") if self.both_orders else ("ab",)
