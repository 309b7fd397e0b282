"""The generation keys the benchmark stages share (rewardbench, judgebench, rmbench): one declaration.

Torch-free, like every stage config. Inheriting them changes no config hash (hashes sort the keys).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from judgerl.core.config import StrictModel
from judgerl.data_prep.subsample import DEFAULT_SUBSAMPLE, SubsampleMode
from judgerl.models.chat_templates import check_template_name
from judgerl.models.decoding_config import CHUNK_HELP, EndpointSpec, check_endpoint, generator_kwargs
from judgerl.models.import_config import LoadDtype


class BenchmarkGenerationKeys(StrictModel):
    """How a benchmark stage generates its judgements (HF, vLLM or an OpenAI-compatible endpoint), what
    it does with a bad row, and which `max_samples` it keeps. `backend: openai` needs `endpoint:
    {base_url, ...}` (judgerl.models.decoding_config.EndpointSpec); the stage's `model` is then the
    served model's name. `subsample`: random (the default), stratified by subset, or first in file
    order (judgerl.data_prep.subsample); a stage's dump leaves it out where it changes nothing
    (`drop_unused_subsample`), so its config hash is the one it had before the key.

    `chat_template` (a built-in name or a Jinja file) is given to a model whose tokenizer has none.

    >>> BenchmarkGenerationKeys().max_new_tokens, BenchmarkGenerationKeys().backend
    (1024, 'hf')
    """

    max_new_tokens: int = Field(1024, ge=1)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    batch_size: int = Field(32, ge=1)
    # judgements saved after each generate call; not hashed (it changes no greedy result)
    chunk_size: int | None = Field(None, ge=1, exclude=True, description=CHUNK_HELP)
    max_samples: int | None = Field(None, ge=1)
    subsample: SubsampleMode = DEFAULT_SUBSAMPLE
    backend: Literal["hf", "vllm", "openai"] = "hf"
    dtype: LoadDtype = "auto"
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=1)
    on_bad_row: Literal["skip", "stop"] = "stop"
    endpoint: EndpointSpec | None = Field(None, validate_default=True)
    chat_template: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint_fits_backend(cls, value: EndpointSpec | None, info: ValidationInfo) -> EndpointSpec | None:
        return check_endpoint(info.data.get("backend", "hf"), value)

    @field_validator("chat_template")
    @classmethod
    def _template(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("backend") == "openai":
            raise ValueError(
                f"chat_template {value!r}: with backend openai the server applies its own template"
            )
        return check_template_name(value)

    def sampling(self, seed: int) -> Any:
        """The SamplingSpec of the stage's generation keys (the `seed` is the sampling seed).

        Usage: sampling = stage.sampling(ctx.seed)
        """
        from judgerl.models.generation.base import SamplingSpec

        return SamplingSpec(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            batch_size=self.batch_size,
            seed=seed,
        )

    def generator_kwargs(self, seed: int) -> dict[str, Any]:
        """The keyword arguments `make_generator(self.backend, self.model, **kw)` gets.

        >>> BenchmarkGenerationKeys(backend="vllm", tensor_parallel_size=4).generator_kwargs(0)["tensor_parallel_size"]
        4

        Usage: generator = make_generator(stage.backend, stage.model, **stage.generator_kwargs(ctx.seed))
        """
        local: dict[str, Any] = {"dtype": self.dtype}
        if self.chat_template:
            local["chat_template"] = self.chat_template
        if self.backend == "vllm":
            local.update(
                tensor_parallel_size=self.tensor_parallel_size,
                gpu_memory_utilization=self.gpu_memory_utilization,
                max_model_len=self.max_model_len,
                seed=seed,
            )
        return generator_kwargs(self.backend, endpoint=self.endpoint, **local)
