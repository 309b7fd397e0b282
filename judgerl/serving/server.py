"""`judgerl serve`: load a judge checkpoint once and serve it over HTTP with uvicorn.

judgerl serve --model runs/quickstart/sft/checkpoint                  # 127.0.0.1:8000, no token
judgerl serve --model CKPT --host 0.0.0.0 --token "$JUDGE_TOKEN"      # beyond loopback: token required
judgerl serve --model CKPT --backend vllm --max-batch 64              # GPUs
judgerl serve --model CKPT --scoring logprob                         # verdicts by log-probability

The defaults and the bounds of the numbers are those of the one serve-options spec
(`judgerl.core.serve_options`), which `judgerl serve` and a policy_grpo `judge_server` share.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from judgerl.core.errors import JudgeRLError
from judgerl.core.logging import get_logger
from judgerl.core.serve_options import BIND_DEFAULTS, SERVE_DEFAULTS, out_of_range
from judgerl.core.types import check_scoring
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import resolve_spec
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.generation import SamplingSpec, make_generator
from judgerl.serving.app import ServeSettings, create_app
from judgerl.serving.read_timeout import header_timeout_protocol

log = get_logger(__name__)
LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def is_loopback(host: str) -> bool:
    """True when `host` is a loopback address or name (every address it resolves to is loopback).

    Usage: if not is_loopback(host): require_token()

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_bind(host: str, token: str | None) -> None:
    """Refuse to bind beyond loopback without a bearer token (JudgeRLError with what to do).

    Usage: check_bind(args.host, args.token)   # before any model is loaded

    >>> check_bind("127.0.0.1", None)
    >>> check_bind("0.0.0.0", None)
    Traceback (most recent call last):
    ...
    judgerl.core.errors.JudgeRLError: refusing to serve on '0.0.0.0' without a token: anyone who can reach it could use the judge; pass --token TOKEN (clients send 'Authorization: Bearer TOKEN') or bind 127.0.0.1
    """
    if token is not None and not token.strip():
        raise JudgeRLError("--token is empty; give a non-empty token or leave it out on loopback")
    if not is_loopback(host) and not token:
        raise JudgeRLError(
            f"refusing to serve on {host!r} without a token: anyone who can reach it could use the "
            "judge; pass --token TOKEN (clients send 'Authorization: Bearer TOKEN') or bind 127.0.0.1"
        )


def check_numbers(
    port: int,
    max_batch: int,
    max_wait_ms: float,
    max_new_tokens: int,
    request_timeout: float,
    read_timeout: float = SERVE_DEFAULTS.read_timeout,
) -> None:
    """JudgeRLError naming every out-of-range serve setting (before any model is loaded).

    The bounds are the ServeBind / ServeOptions fields' own.

    Usage: check_numbers(port, max_batch, max_wait_ms, max_new_tokens, request_timeout, read_timeout)

    >>> check_numbers(8000, 0, 10, 512, 120)
    Traceback (most recent call last):
    ...
    judgerl.core.errors.JudgeRLError: bad serve settings: --max-batch 0 must be >= 1
    """
    problems = out_of_range(
        {
            "port": port,
            "max_batch": max_batch,
            "max_wait_ms": max_wait_ms,
            "max_new_tokens": max_new_tokens,
            "request_timeout": request_timeout,
            "read_timeout": read_timeout,
        }
    )
    if problems:
        raise JudgeRLError("bad serve settings: " + "; ".join(problems))


def serve_specs(
    model: str, prompt: PromptSpec | None, judge_spec: JudgeSpec | None, score_spec: JudgeSpec | None
) -> tuple[JudgeSpec, JudgeSpec]:
    """The (pairwise, pointwise) specs a server of `model` uses: the pairwise one given (or the `prompt`
    shorthand), else the model's saved spec, else the default; the pointwise one given, else the model's
    saved spec when it is pointwise, else the built-in `score`.

    Usage: spec, score_spec = serve_specs("runs/quickstart/sft/checkpoint", None, None, None)
    """
    spec = resolve_spec(judge_spec, prompt, model, "judgerl serve", log)
    if spec.mode == "pointwise":
        score_spec = score_spec or spec
        spec = builtin_spec(DEFAULT_SPEC)
        log.info(f"judgerl serve: {model}'s spec is pointwise; /v1/judge uses the default {spec.name!r}")
    return spec, score_spec or builtin_spec("score")


def serve(
    model: str,
    host: str = BIND_DEFAULTS.host,
    port: int = BIND_DEFAULTS.port,
    token: str | None = None,
    max_batch: int = SERVE_DEFAULTS.max_batch,
    max_wait_ms: float = SERVE_DEFAULTS.max_wait_ms,
    backend: str = SERVE_DEFAULTS.backend,
    device: str = SERVE_DEFAULTS.device,
    prompt: PromptSpec | None = None,
    judge_spec: JudgeSpec | None = None,
    score_spec: JudgeSpec | None = None,
    unparsed_reward: float = 0.0,
    max_new_tokens: int = SERVE_DEFAULTS.max_new_tokens,
    request_timeout: float = SERVE_DEFAULTS.request_timeout,
    served_model_name: str | None = None,
    generator_kwargs: dict[str, Any] | None = None,
    scoring: str = SERVE_DEFAULTS.scoring,
    read_timeout: float = SERVE_DEFAULTS.read_timeout,
) -> None:
    """Load `model` and serve it until interrupted (the bind, range and scoring checks run before
    the model loads).

    The judge spec is `judge_spec`, else the `prompt` shorthand, else the one saved with the model,
    else judgerl's default (said in the log); `score_spec` (default: built-in `score`) is the pointwise
    prompt and score format of /v1/score and /get_reward without a reference, and an unreadable score
    pays `unparsed_reward` there (marked 0 in the response's `extra_logs.judge_parsed` and counted
    in /metrics).

    `scoring="logprob"` (hf backend) reads the judge prompts' verdicts by log-probability. A client
    has `read_timeout` seconds to send a request's headers (uvicorn has no such limit:
    `serving.read_timeout`), then as long again for its body (the body gate), else the connection
    is closed (a late body gets a 408 first).

    Usage: serve("runs/quickstart/sft/checkpoint", port=8000, max_batch=32)
    """
    import uvicorn

    check_bind(host, token)
    check_numbers(port, max_batch, max_wait_ms, max_new_tokens, request_timeout, read_timeout)
    try:
        check_scoring(scoring, backend)
    except ValueError as err:
        raise JudgeRLError(f"bad serve settings: {err}") from None
    kwargs = dict(generator_kwargs or {})
    if backend == "hf":
        kwargs.setdefault("device", device)
    try:
        generator = make_generator(backend, model, **kwargs)  # type: ignore[arg-type]
    except (OSError, ValueError) as err:  # FileNotFoundError, a folder that is not a checkpoint, ...
        raise JudgeRLError(f"cannot load the judge model {model!r}: {err}") from err
    spec, score_spec = serve_specs(model, prompt, judge_spec, score_spec)
    settings = ServeSettings(
        prompt=spec,
        score_spec=score_spec,
        unparsed_reward=unparsed_reward,
        sampling=SamplingSpec(max_new_tokens=max_new_tokens, batch_size=max_batch),
        token=token,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        request_timeout=request_timeout,
        model_name=str(model),
        served_model_name=served_model_name,
        scoring=scoring,
        read_timeout=read_timeout,
    )
    try:
        app = create_app(generator, settings)
    except ValueError as err:  # a generator logprob scoring cannot read (no model and tokenizer)
        raise JudgeRLError(f"cannot serve {model!r}: {err}") from err
    log.info(
        f"serving {model} as {settings.model_id!r} on http://{host}:{port} "
        f"(max batch {max_batch}, max wait {max_wait_ms} ms, context {app.state.budget.context} tokens, "
        f"verdicts by {'log-probability' if scoring == 'logprob' else 'generation'})"
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        http=header_timeout_protocol(read_timeout),
    )
