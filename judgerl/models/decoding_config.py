"""Recipe selection of a generation backend: `backend: hf|vllm|speculative|judge|openai` plus, for the
two AutoJudge backends, a `decoding:` mapping (draft checkpoint, window, classifier, threshold), and for
`openai` an `endpoint:` mapping (the server's URL, the API key's variable, concurrency, retries).

Shared by the stages that generate with `make_generator` (eval, the benchmarks, pairs, scaling), so
that all of them validate the same keys the same way at recipe load:

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

With `backend: openai` the judge is a model behind an OpenAI-compatible server (`vllm serve`, SGLang,
`judgerl serve`, a hosted API); `model` is then the name the server serves it under (omitted: the
one model GET /v1/models lists):

```yaml
  eval_served:
    kind: eval
    backend: openai
    model: judge-7b                     # the served model name (vllm serve --served-model-name)
    data: ${stages.data.test}
    endpoint:
      base_url: http://127.0.0.1:8000/v1
      api_key_env: OPENAI_API_KEY       # optional: the key is read from this variable, never the recipe
      concurrency: 32
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from judgerl.core.config import StrictModel

Backend = Literal["hf", "vllm", "speculative", "judge", "openai"]
DRAFT_BACKENDS: tuple[str, ...] = ("speculative", "judge")
# request keys the backend sets itself: extra_body may not override them
RESERVED_BODY_KEYS = frozenset(
    {"model", "messages", "prompt", "n", "max_tokens", "temperature", "top_p", "seed", "echo", "logprobs"}
)


class DecodingSpec(StrictModel):
    """Draft-model decoding settings for `backend: speculative` or `backend: judge`.

    `draft`: a draft checkpoint sharing the target's tokenizer; `window`: tokens the draft proposes
    per cycle; `classifier` (judge only): a folder saved by the AutoJudge classifier (DT or DD-DT setup);
    `threshold` (judge only): accept a mismatching draft token when P(important) < threshold
    (default: the threshold saved with the classifier).

    >>> DecodingSpec(draft="runs/aj/draft_sft/checkpoint", window=8).window
    8
    """

    draft: str = Field(min_length=1)
    window: int = Field(16, ge=1)
    classifier: str | None = None
    threshold: float | None = Field(None, ge=0, le=1)


class EndpointConnection(StrictModel):
    """How to reach an OpenAI-compatible server: what the `openai` generation backend and the distill
    stage's openai teacher share (both talk through judgerl.core.http: timeouts, retries with
    backoff, 429/503 Retry-After).

    `base_url` is the API root that "/chat/completions" is appended to (".../v1" for vLLM, SGLang
    and `judgerl serve`). `api_key_env` names the environment variable holding the key (sent as a
    bearer token; the key itself is never written anywhere). `use_n` asks for all n completions of
    a prompt in one request (vLLM, SGLang and `judgerl serve` take `n`; some APIs do not), else n
    requests are sent. `concurrency` bounds the requests in flight; `extra_body` is merged into
    every request (e.g. vLLM's `top_k`, `chat_template_kwargs`).

    >>> EndpointConnection(base_url="http://127.0.0.1:8000/v1").concurrency
    8
    """

    base_url: str
    api_key_env: str | None = None
    use_n: bool = False
    concurrency: int = Field(8, ge=1)
    timeout: float = Field(600.0, gt=0, description="seconds per request")
    retries: int = Field(5, ge=0)
    backoff: float = Field(1.0, ge=0)
    max_backoff: float = Field(30.0, ge=0)
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value

    @field_validator("extra_body")
    @classmethod
    def _not_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(RESERVED_BODY_KEYS & set(value))
        if reserved:
            raise ValueError(f"extra_body may not set {reserved}: they are stage keys")
        return value


class EndpointSpec(EndpointConnection):
    """The `endpoint:` mapping of a stage with `backend: openai` (docs/evaluation.md).

    `tokenizer` (a folder or hub id of the served model's tokenizer) is needed by `scoring: logprob`
    only: it renders the prompt and counts its tokens, whose log-probabilities the server returns
    through /v1/completions (`echo` + `logprobs`, as vLLM's server does). `on_refused`: a prompt the
    server refuses (HTTP 400/413/422, e.g. longer than its context) stops the stage (`stop`) or
    becomes an empty, unreadable completion that is counted (`empty`).

    >>> EndpointSpec(base_url="http://127.0.0.1:8000/v1").on_refused
    'stop'
    """

    tokenizer: str | None = None
    on_refused: Literal["stop", "empty"] = "stop"


def check_endpoint(backend: str, endpoint: EndpointSpec | None) -> EndpointSpec | None:
    """Check that an `endpoint` is given exactly when the backend is `openai`.

    >>> check_endpoint("hf", None) is None
    True
    >>> check_endpoint("openai", None)
    Traceback (most recent call last):
    ...
    ValueError: backend 'openai' needs endpoint: {base_url: URL} (the server's API root, e.g. http://127.0.0.1:8000/v1; --base-url on the command line)

    Usage: field_validator("endpoint")(lambda v, info: check_endpoint(info.data.get("backend", "hf"), v))
    """
    if backend == "openai" and endpoint is None:
        raise ValueError(
            "backend 'openai' needs endpoint: {base_url: URL} (the server's API root, e.g. "
            "http://127.0.0.1:8000/v1; --base-url on the command line)"
        )
    if backend != "openai" and endpoint is not None:
        raise ValueError(
            f"endpoint (base_url {endpoint.base_url!r}) applies to backend openai only, but backend is "
            f"{backend!r}: set backend: openai (--backend openai) or remove endpoint"
        )
    return endpoint


def check_model(model: str | None, backend: str, key: str = "model") -> str | None:
    """Check a stage's model key against its backend: a checkpoint (folder or hub id) for the local
    backends, required; the served model's name for `openai` (None: the endpoint's only model).
    A URL is never a model: it points at `backend: openai` and `endpoint.base_url`.

    >>> check_model("http://127.0.0.1:8000/v1", "hf")
    Traceback (most recent call last):
    ...
    ValueError: model 'http://127.0.0.1:8000/v1' is a URL: to judge with a model behind an OpenAI-compatible server use backend: openai with endpoint.base_url (judgerl eval --backend openai --base-url URL [--model SERVED_NAME])

    Usage: check_model(stage.model, stage.backend)
    """
    if model is not None and model.startswith(("http://", "https://")):
        if backend == "openai":
            raise ValueError(
                f"{key} {model!r} is a URL: with backend openai, {key} is the name the server serves the "
                "model under (GET /v1/models) and the URL goes in endpoint.base_url (--base-url)"
            )
        raise ValueError(
            f"{key} {model!r} is a URL: to judge with a model behind an OpenAI-compatible server use "
            "backend: openai with endpoint.base_url (judgerl eval --backend openai --base-url URL "
            "[--model SERVED_NAME])"
        )
    if model is None and backend != "openai":
        raise ValueError(f"{key} is required with backend {backend!r} (a checkpoint folder or hub id)")
    return model


def drop_unset(data: Any, keys: tuple[str, ...] = ("endpoint",)) -> Any:
    """Leave `keys` whose value is None out of a stage's dump, so that stages keep the config hash they
    had before those keys existed. Usage: inside a `model_serializer(mode="wrap")`.

    >>> drop_unset({"model": "m", "endpoint": None})
    {'model': 'm'}
    """
    if isinstance(data, dict):
        for key in keys:
            if key in data and data[key] is None:
                data.pop(key)
    return data


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


def generator_kwargs(
    backend: str,
    decoding: DecodingSpec | None = None,
    endpoint: EndpointSpec | None = None,
    **local: Any,
) -> dict[str, Any]:
    """The `make_generator` keyword arguments of a validated (backend, decoding, endpoint).

    `local` are the settings of a backend that loads the model itself (dtype, device,
    chat_template, vLLM's engine options); an endpoint takes none of them, only `endpoint`.

    >>> generator_kwargs("speculative", DecodingSpec(draft="d", window=4), dtype="auto")
    {'dtype': 'auto', 'draft_path': 'd', 'window': 4}
    >>> generator_kwargs("hf", None)
    {}
    >>> sorted(generator_kwargs("openai", endpoint=EndpointSpec(base_url="http://h/v1"), dtype="auto"))
    ['endpoint']
    """
    if backend == "openai":
        return {"endpoint": endpoint}
    if backend not in DRAFT_BACKENDS or decoding is None:
        return dict(local)
    kwargs: dict[str, Any] = {**local, "draft_path": decoding.draft, "window": decoding.window}
    if backend == "judge":
        kwargs.update(classifier=decoding.classifier, threshold=decoding.threshold)
    return kwargs


VLLM_CHUNK = 256  # prompts per vLLM call by default: enough to keep its scheduler full
CHUNK_HELP = "prompts per generate call, saved after each (default: batch_size; vllm: 256)"


def chunk_prompts(chunk_size: int | None, batch_size: int, backend: str) -> int:
    """Prompts per generate call of a resumable stage, whose results are appended (and fsynced) after
    each call: `chunk_size` when set, else one batch (`batch_size`), or for vLLM, which schedules
    its own batches, at least VLLM_CHUNK. An interrupt loses at most one call's work.

    >>> chunk_prompts(None, 32, "hf"), chunk_prompts(None, 32, "vllm"), chunk_prompts(1000, 32, "hf")
    (32, 256, 1000)

    Usage: judge_samples(gen, samples, spec, sampling, partial, chunk_prompts(stage.chunk_size, 32, "hf"))
    """
    if chunk_size is not None:
        return chunk_size
    return max(batch_size, VLLM_CHUNK) if backend == "vllm" else batch_size
