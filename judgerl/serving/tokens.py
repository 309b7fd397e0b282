"""Token rules of the server: prompt lengths counted with the served tokenizer, checked against the
model's context before a prompt is queued (413 with the counts), completion tokens for usage.

The context is the smallest of the known limits: an explicit setting, the tokenizer's
`model_max_length` (unless it is transformers' "no limit" sentinel), the model config's
`max_position_embeddings` and vLLM's `max_model_len`.
"""

from __future__ import annotations

from typing import Any

from judgerl.models.generation import Messages, render_prompts
from judgerl.serving.errors import ServeError

NO_LIMIT = 10**12  # transformers writes int(1e30) as model_max_length when a tokenizer has none


def context_length(generator: Any, tokenizer: Any) -> int | None:
    """The served model's context in tokens (None when nothing states it).

    Usage: ctx = context_length(generator, generator.tokenizer)
    """
    found = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < NO_LIMIT:
        found.append(tok_max)
    config = getattr(getattr(generator, "model", None), "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        found.append(positions)
    engine_config = getattr(
        getattr(getattr(generator, "llm", None), "llm_engine", None), "model_config", None
    )
    model_len = getattr(engine_config, "max_model_len", None)
    if isinstance(model_len, int) and model_len > 0:
        found.append(model_len)
    return min(found) if found else None


class TokenBudget:
    """Counts prompt and completion tokens with the served tokenizer and enforces the context.

    Without a tokenizer (a test's scripted generator) nothing is counted and only the schemas'
    character caps apply.

    Usage: budget = TokenBudget(tok, context=1024); n = budget.check(messages, max_new_tokens=512)
    """

    def __init__(self, tokenizer: Any | None, context: int | None) -> None:
        self.tokenizer = tokenizer
        self.context = context

    def prompt_tokens(self, messages: Messages) -> int:
        """Tokens of `messages` rendered with the chat template, as the generator will see them.

        Usage: n = budget.prompt_tokens([{"role": "user", "content": "2+2?"}])
        """
        if self.tokenizer is None:
            return 0
        text = render_prompts(self.tokenizer, [messages])[0]
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def text_tokens(self, text: str) -> int:
        """Tokens of a completion's text (usage counts; 0 without a tokenizer).

        Usage: n = budget.text_tokens(completion)
        """
        if self.tokenizer is None or not text:
            return 0
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def check(self, messages: Messages, max_new_tokens: int, param: str = "messages") -> int:
        """The prompt's token count; ServeError(413) when it plus `max_new_tokens` exceeds the context.

        Usage: prompt_tokens = budget.check(messages, 512)
        """
        n = self.prompt_tokens(messages)
        if self.context is not None and n + max_new_tokens > self.context:
            room = self.context - max_new_tokens
            raise ServeError(
                413,
                f"prompt is {n} tokens; the model's context is {self.context} tokens and "
                f"{max_new_tokens} are kept for the completion, which leaves {max(room, 0)} for the prompt",
                param=param,
                code="context_length_exceeded",
            )
        return n
