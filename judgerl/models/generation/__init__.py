"""Generation backends behind one `Generator` interface, and the factory that builds them by name.

base.py holds the shared types (torch-free), hf.py the Hugging Face backend, vllm.py the vLLM one,
speculative.py the target/speculative/judge decoder, openai.py a model behind an OpenAI-compatible
server. Backends register lazily by name in `GENERATORS`; "judge" lives in
`judgerl.autojudge.decoding` (it needs AutoJudge's classifier).
"""

from __future__ import annotations

from typing import Any, Literal

from judgerl.core.registry import Registry
from judgerl.models.generation.base import (
    Generator,
    Messages,
    Prompts,
    SamplingSpec,
    generator_stats,
    render_prompts,
    stop_token_ids,
)

GENERATORS: Registry[Any] = Registry(
    "generator kind",
    lazy={
        "hf": "judgerl.models.generation.hf:make_hf_generator",
        "vllm": "judgerl.models.generation.vllm:VLLMGenerator",
        "speculative": "judgerl.models.generation.speculative:make_lossless_generator",
        "judge": "judgerl.autojudge.decoding:make_judge_generator",
        "openai": "judgerl.models.generation.openai:make_openai_generator",
    },
)


def make_generator(
    kind: Literal["hf", "vllm", "speculative", "judge", "openai"] | str, model_path: str | None, **kwargs: Any
) -> Generator:
    """Build a generation backend for the checkpoint at `model_path`.

    "hf" forwards kwargs to `load_model_and_tokenizer` (dtype, device, lora_adapter, ...);
    "vllm" forwards them to `VLLMGenerator` (needs a GPU and `pip install judgerl[vllm]`);
    "speculative" / "judge" (greedy only) take draft_path and window; judge also classifier, threshold;
    "openai" takes `endpoint` (an EndpointSpec), and `model_path` is the served model's name (None:
    the one model the endpoint lists).

    Usage: gen = make_generator("hf", "runs/quickstart/sft/checkpoint", device="cpu")
    """
    if kind not in GENERATORS:
        raise ValueError(f"generator kind must be one of {', '.join(GENERATORS.names())}, got {kind!r}")
    return GENERATORS.get(kind)(model_path, **kwargs)


def __getattr__(name: str) -> Any:
    # HFGenerator needs torch: import it only when asked for, so the base types stay torch-free
    if name == "HFGenerator":
        from judgerl.models.generation.hf import HFGenerator

        return HFGenerator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GENERATORS",
    "Generator",
    "Messages",
    "Prompts",
    "SamplingSpec",
    "generator_stats",
    "make_generator",
    "render_prompts",
    "stop_token_ids",
]
