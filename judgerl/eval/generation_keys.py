"""The generation keys the benchmark stages share (rewardbench, judgebench, rmbench): one declaration.

Torch-free, like every stage config. Inheriting them changes no config hash (hashes sort the keys).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from judgerl.core.config import StrictModel


class BenchmarkGenerationKeys(StrictModel):
    """How a benchmark stage generates its judgements (HF or vLLM) and what it does with a bad row.

    >>> BenchmarkGenerationKeys().max_new_tokens, BenchmarkGenerationKeys().backend
    (1024, 'hf')
    """

    max_new_tokens: int = Field(1024, ge=1)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    batch_size: int = Field(32, ge=1)
    max_samples: int | None = Field(None, ge=1)
    backend: Literal["hf", "vllm"] = "hf"
    dtype: str = "auto"
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=1)
    on_bad_row: Literal["skip", "stop"] = "stop"
