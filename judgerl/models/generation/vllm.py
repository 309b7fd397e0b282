"""The vLLM generation backend (GPU only). vllm is imported lazily, inside functions."""

from __future__ import annotations

from typing import Any

from judgerl.models.chat_templates import apply_default_template
from judgerl.models.generation.base import Prompts, SamplingSpec, render_prompts

VLLM_MISSING = (
    "vLLM is not installed. The vllm backend needs a CUDA GPU: `pip install judgerl[vllm]` on a GPU machine, "
    "or use the 'hf' generator backend."
)


def import_vllm() -> Any:
    """Import and return the vllm module, or raise ImportError saying how to install it.

    Usage: vllm = import_vllm()
    """
    try:
        import vllm
    except ImportError as e:
        raise ImportError(VLLM_MISSING) from e
    return vllm


def build_vllm_sampling_kwargs(spec: SamplingSpec, stop_token_ids: list[int] | None = None) -> dict[str, Any]:
    """Keyword arguments for `vllm.SamplingParams` equivalent to `spec`.

    Greedy (temperature 0) asks for one sequence, with top_p 1 and top_k -1: the caller repeats it
    n times, as the HF backend does. `stop_token_ids` (e.g. the id of `<|im_end|>`) end a completion.

    Usage: SamplingParams(**build_vllm_sampling_kwargs(SamplingSpec(temperature=0.7, n=4), [eos_id]))
    """
    greedy = spec.greedy
    kwargs: dict[str, Any] = {
        "n": 1 if greedy else spec.n,
        "temperature": 0.0 if greedy else float(spec.temperature),
        "top_p": 1.0 if greedy else float(spec.top_p),
        "top_k": -1 if greedy or spec.top_k == 0 else int(spec.top_k),
        "max_tokens": int(spec.max_new_tokens),
        "seed": int(spec.seed),
        "skip_special_tokens": True,
    }
    if stop_token_ids:
        kwargs["stop_token_ids"] = sorted({int(t) for t in stop_token_ids})
    return kwargs


class VLLMGenerator:
    """Generation with a vLLM engine; same interface as `HFGenerator`.

    Usage: VLLMGenerator("Qwen/Qwen2.5-7B-Instruct", tensor_parallel_size=2).generate(prompts, SamplingSpec())
    """

    def __init__(
        self,
        model_path: str,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        seed: int = 0,
        trust_remote_code: bool = False,
        chat_template: str | None = None,
        **engine_kwargs: Any,
    ) -> None:
        vllm = import_vllm()
        self.llm = vllm.LLM(
            model=str(model_path),
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            seed=seed,
            trust_remote_code=trust_remote_code,
            **engine_kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()
        # a built-in name or Jinja file for a tokenizer without a template (prompts are rendered here)
        apply_default_template(self.tokenizer, chat_template)

    def generate(
        self, prompts: Prompts, spec: SamplingSpec, progress: bool = True, desc: str = "generating"
    ) -> list[list[str]]:
        """Return `spec.n` completions for each prompt, in input order (vLLM batches internally).

        Usage: outs = VLLMGenerator(path).generate(prompts, SamplingSpec(temperature=1.0, n=8))
        """
        if not prompts:
            return []
        vllm = import_vllm()
        eos = self.tokenizer.eos_token_id
        params = vllm.SamplingParams(**build_vllm_sampling_kwargs(spec, [eos] if eos is not None else None))
        texts = render_prompts(self.tokenizer, prompts)
        # A rendered chat template already holds its special tokens: pass ids so none is added twice.
        inputs: list[Any] = [
            t
            if isinstance(p, str)
            else {"prompt_token_ids": self.tokenizer(t, add_special_tokens=False)["input_ids"]}
            for p, t in zip(prompts, texts, strict=True)
        ]
        outputs = self.llm.generate(inputs, params, use_tqdm=progress)
        results = []
        for out in outputs:
            group = [c.text for c in out.outputs]
            results.append(group * spec.n if spec.greedy else group)
        return results
