"""The one spec of the judge server's options, with the one set of defaults.

`judgerl serve` derives its flags from these models, `serving` (the server and `ServeSettings`)
takes its defaults from them, and a `policy_grpo` stage's `judge_server` is a `ServeOptions`,
whose command line for the server is generated here (`serve_args`). It lives in core because
trainers may not import serving.

    judgerl serve --model CKPT --max-batch 32 --max-wait-ms 10     # the defaults below
    JudgeServerProcess(model, extra_args=serve_args(ServeOptions(max_new_tokens=150)))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from judgerl.core.config import StrictModel, flag_name
from judgerl.core.types import Scoring, check_scoring

# the prompt families whose verdict the server's parser reads, and the instruction lengths
SERVE_PROMPTS: tuple[str, ...] = ("cot", "strength", "direct")
SERVE_INSTRUCTIONS: tuple[str, ...] = ("full", "compact")


class ServeBind(StrictModel):
    """Where `judgerl serve` listens, the bearer token clients must send and the model id they name.

    Binding beyond loopback requires a token (`serving.server.check_bind`).

    >>> ServeBind().host, ServeBind().port
    ('127.0.0.1', 8000)
    """

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    token: str | None = Field(
        None, description="bearer token clients must send (default: $JUDGERL_SERVE_TOKEN)"
    )
    served_model_name: str | None = Field(
        None, min_length=1, description="the model id OpenAI-protocol clients send (default: --model)"
    )


class ServeOptions(StrictModel):
    """How the judge server batches and generates: the options `judgerl serve` and a served
    `policy_grpo` judge share.

    `scoring: logprob` (hf backend) reads the judge prompts' verdicts by comparing the
    log-probabilities of the verdict sentences. `read_timeout` bounds how long a client may take
    to send a request's headers, and then its body; it is not part of a stage's config hash (it
    changes no result), nor is `scoring` at its default.

    >>> ServeOptions().max_batch, ServeOptions().max_wait_ms, ServeOptions().max_new_tokens
    (32, 10.0, 512)
    """

    max_batch: int = Field(32, ge=1, description="prompts per generate call")
    max_wait_ms: float = Field(10.0, ge=0, description="how long a batch waits to fill")
    max_new_tokens: int = Field(512, ge=1)
    request_timeout: float = Field(120.0, gt=0, description="seconds per request")
    backend: Literal["hf", "vllm"] = "hf"
    device: str = Field("auto", description="hf backend device (auto, cpu, cuda)")
    scoring: Scoring = Field(
        "generate", description="judge verdicts: generate (parse the text) or logprob (hf backend)"
    )
    read_timeout: float = Field(
        15.0, gt=0, exclude=True, description="seconds a client may take to send headers, then body"
    )

    @model_validator(mode="after")
    def _scoring_fits_backend(self) -> ServeOptions:
        check_scoring(self.scoring, self.backend)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # `scoring: generate` is left out, so a served judge keeps the config hash it had before the key
        data = handler(self)
        if isinstance(data, dict) and data.get("scoring") == "generate":
            data.pop("scoring")
        return data


SERVE_DEFAULTS = ServeOptions()
BIND_DEFAULTS = ServeBind()


def serve_args(
    config: BaseModel,
    prompt: str | None = None,
    instruction: str | None = None,
    fields: Iterable[str] | None = None,
) -> list[str]:
    """`--flag value` pairs of `judgerl serve` for a config's serve fields, then the prompt flags.

    `fields` defaults to those of `ServeOptions` (a subclass's own extra fields are not server
    flags); a field whose value is None is left out, so the server's default applies.

    Usage: cmd = ["judgerl", "serve", "--model", m, *serve_args(spec, "strength", "full")]

    >>> serve_args(ServeOptions(max_batch=8), "strength", "compact")[:2], serve_args(ServeOptions())[-2:]
    (['--max-batch', '8'], ['--read-timeout', '15.0'])
    """
    args: list[str] = []
    for name in ServeOptions.model_fields if fields is None else fields:
        value = getattr(config, name)
        if value is not None:
            args += [flag_name(name), str(value)]
    if prompt is not None:
        args += ["--prompt", prompt]
    if instruction is not None:
        args += ["--instruction", instruction]
    return args


def _bound(value: Any, limits: list[Any]) -> str | None:
    lower = next((m for m in limits if isinstance(m, (Ge, Gt))), None)
    upper = next((m for m in limits if isinstance(m, (Le, Lt))), None)
    low = None if lower is None else (lower.ge if isinstance(lower, Ge) else lower.gt)
    high = None if upper is None else (upper.le if isinstance(upper, Le) else upper.lt)
    if isinstance(lower, Ge) and isinstance(upper, Le):
        return None if low <= value <= high else f"must be in {low}..{high}"
    if isinstance(lower, Ge) and not value >= low:
        return f"must be >= {low}"
    if isinstance(lower, Gt) and not value > low:
        return f"must be > {low}"
    if isinstance(upper, Le) and not value <= high:
        return f"must be <= {high}"
    if isinstance(upper, Lt) and not value < high:
        return f"must be < {high}"
    return None


def out_of_range(
    values: Mapping[str, Any], models: Iterable[type[BaseModel]] = (ServeBind, ServeOptions)
) -> list[str]:
    """ "--flag VALUE must be ..." for every given value outside its field's bounds, in field order.

    The bounds are the fields' own (`Field(ge=..., le=...)`), so the server's check of its
    command line and the recipe's check of a `judge_server` mapping cannot drift apart.

    Usage: problems = out_of_range({"port": port, "max_batch": max_batch})

    >>> out_of_range({"port": 70000, "max_batch": 0, "request_timeout": 5})
    ['--port 70000 must be in 0..65535', '--max-batch 0 must be >= 1']
    """
    problems = []
    for model in models:
        for name, info in model.model_fields.items():
            if name in values and values[name] is not None:
                why = _bound(values[name], info.metadata)
                if why:
                    problems.append(f"{flag_name(name)} {values[name]} {why}")
    return problems
