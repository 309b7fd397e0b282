"""What every generation backend shares: prompts, sampling settings, the Generator protocol, rendering, stop ids.

Torch-free: recipe validation imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from judgerl.models.chat_templates import require_chat_template, template_stop_tokens

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Messages = list[dict[str, str]]
Prompts = list[Messages] | list[str]


@dataclass
class SamplingSpec:
    """How to sample completions. temperature 0 means greedy; top_k 0 means no top-k cut.

    `batch_size` counts prompts per forward batch (the HF backend; vLLM schedules itself).

    >>> SamplingSpec(temperature=0.0).greedy
    True
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    n: int = 1
    seed: int = 0
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 disables it), got {self.top_k}")
        if self.n < 1 or self.batch_size < 1:
            raise ValueError(f"n and batch_size must be >= 1, got n={self.n}, batch_size={self.batch_size}")

    @property
    def greedy(self) -> bool:
        """True when decoding is greedy (temperature 0)."""
        return self.temperature == 0.0


class Generator(Protocol):
    """What every generation backend provides: n completions per prompt, in input order."""

    def generate(
        self, prompts: Prompts, spec: SamplingSpec, progress: bool = True, desc: str = "generating"
    ) -> list[list[str]]:
        """Return `spec.n` completions (new text only) for each prompt, in input order.

        Usage: outs = generator.generate([[{"role": "user", "content": "2+2?"}]], SamplingSpec(n=4))
        """
        ...


def generator_stats(generator: Any, backend: str) -> dict[str, Any] | None:
    """A stage's metrics["decoding"]: the backend and the generator's own counters, when it keeps them
    (`stats.summary()`: the speculative decoders' accepted tokens, the openai backend's requests,
    tokens and seconds); None for a backend without counters.

    Usage: if (decoding := generator_stats(generator, stage.backend)): metrics["decoding"] = decoding
    """
    stats = getattr(generator, "stats", None)
    if stats is None or not callable(getattr(stats, "summary", None)):
        return None
    return {"backend": backend, **stats.summary()}


def render_prompts(tokenizer: PreTrainedTokenizerBase, prompts: Prompts) -> list[str]:
    """Render chat-message prompts with the chat template (generation prompt added); strings pass through.

    A tokenizer without a chat template gets a one-line ChatTemplateError naming the model and the
    `chat_template` recipe key, not a traceback from inside transformers.

    Usage: texts = render_prompts(tok, [[{"role": "user", "content": "2+2?"}]])
    """
    rendered = []
    for p in prompts:
        if isinstance(p, str):
            rendered.append(p)
        else:
            require_chat_template(tokenizer)
            rendered.append(tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True))
    return rendered


def stop_token_ids(tokenizer: PreTrainedTokenizerBase, model: Any = None) -> list[int]:
    """The token ids that end a completion: the tokenizer's eos, the model's generation eos ids and the
    end-of-turn marker the chat template writes (Gemma's `<end_of_turn>`, ChatML's `<|im_end|>`).

    Usage: ids = stop_token_ids(tok, model)
    """
    ids: list[int] = []
    cfg_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    markers = [tokenizer.convert_tokens_to_ids(m) for m in template_stop_tokens(tokenizer)]
    for eid in (tokenizer.eos_token_id, *(cfg_eos if isinstance(cfg_eos, list) else [cfg_eos]), *markers):
        if eid is not None and eid not in ids:
            ids.append(int(eid))
    return ids
