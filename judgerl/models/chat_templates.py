"""Built-in chat templates (chatml, gemma, llama3, mistral), Jinja files, and the stop tokens they imply.

A recipe's (or a stage's) `chat_template` names a built-in or a path to a Jinja file; it is used
when the tokenizer has no template of its own (a base model), and saved with the checkpoint. Every
built-in wraps the assistant turn in `{% generation %}` so TRL's assistant-only loss works; training
on prompt-completion rows does not need the markers. Torch-free: recipe validation imports this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judgerl.core.errors import StageError

# ChatML (Qwen, SmolLM): `<|im_start|>role\n...<|im_end|>\n`.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Gemma: no system role (a system message is folded into the first user turn), the assistant is
# `model`, `<bos>` once at the start.
GEMMA_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages and messages[0]['role'] == 'system' %}"
    "{%- set first = messages[0]['content'] + '\\n\\n' %}{%- set messages = messages[1:] %}"
    "{%- else %}{%- set first = '' %}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<start_of_turn>model\\n' }}"
    "{%- generation %}{{- message['content'] + '<end_of_turn>' }}{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<start_of_turn>' + message['role'] + '\\n' + (first if loop.first else '') }}"
    "{{- message['content'] + '<end_of_turn>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
)

LLAMA3_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- generation %}{{- message['content'] + '<|eot_id|>' }}{%- endgeneration %}"
    "{%- else %}"
    "{{- message['content'] + '<|eot_id|>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

# Mistral instruct (v0.1-v0.3 layout): `[INST] user [/INST]answer</s>`; a system message joins the first user turn.
MISTRAL_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages and messages[0]['role'] == 'system' %}"
    "{%- set first = messages[0]['content'] + '\\n\\n' %}{%- set messages = messages[1:] %}"
    "{%- else %}{%- set first = '' %}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- generation %}{{- message['content'] + eos_token }}{%- endgeneration %}"
    "{%- else %}"
    "{{- '[INST] ' + (first if loop.first else '') + message['content'] + ' [/INST]' }}"
    "{%- endif %}"
    "{%- endfor %}"
)

BUILTIN_TEMPLATES: dict[str, str] = {
    "chatml": CHATML_TEMPLATE,
    "qwen": CHATML_TEMPLATE,
    "gemma": GEMMA_TEMPLATE,
    "llama3": LLAMA3_TEMPLATE,
    "mistral": MISTRAL_TEMPLATE,
}
# End-of-turn markers: a template that writes one ends every assistant turn with it, so generation stops there.
END_OF_TURN_MARKERS: tuple[str, ...] = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>")
CHAT_TEMPLATE_HELP = (
    f"a built-in name ({', '.join(BUILTIN_TEMPLATES)}) or the path to a Jinja file (.jinja / .j2 / .txt)"
)


class ChatTemplateError(StageError):
    """A model needs a chat template and has none, or the `chat_template` key names nothing usable."""


def check_template_name(value: str | None) -> str | None:
    """Validate a recipe's `chat_template` value without reading files: a built-in name or a path.

    >>> check_template_name("gemma")
    'gemma'
    >>> check_template_name("gema")
    Traceback (most recent call last):
    ...
    ValueError: chat_template 'gema' is neither a built-in name (chatml, qwen, gemma, llama3, mistral) nor a path ending in .jinja, .j2 or .txt

    Usage: field_validator("chat_template")(lambda v: check_template_name(v))
    """
    if value is None or value in BUILTIN_TEMPLATES:
        return value
    if Path(value).suffix in (".jinja", ".j2", ".txt"):
        return value
    raise ValueError(
        f"chat_template {value!r} is neither a built-in name ({', '.join(BUILTIN_TEMPLATES)}) "
        "nor a path ending in .jinja, .j2 or .txt"
    )


def resolve_chat_template(value: str) -> str:
    """The Jinja text a `chat_template` value names: a built-in's text or the file's content.

    >>> resolve_chat_template("chatml") == CHATML_TEMPLATE
    True

    Usage: tokenizer.chat_template = resolve_chat_template("gemma")
    """
    if value in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[value]
    path = Path(value).expanduser()
    if not path.is_file():
        raise ChatTemplateError(f"chat_template {value!r}: no such file; expected {CHAT_TEMPLATE_HELP}")
    text = path.read_text(encoding="utf-8")
    if "{{" not in text and "{%" not in text:
        raise ChatTemplateError(f"chat_template file {value!r} holds no Jinja template")
    return text


def _model_name(tokenizer: Any) -> str:
    return str(getattr(tokenizer, "name_or_path", "") or "this model")


def apply_default_template(tokenizer: Any, chat_template: str | None) -> bool:
    """Give `tokenizer` the named template when it has none of its own; True when one was set.

    The tokenizer's own template wins: a recipe-wide default must not replace an instruct
    model's format. `tokenizer.save_pretrained` then saves it with the checkpoint.

    Usage: apply_default_template(tok, "gemma")
    """
    if chat_template is None or getattr(tokenizer, "chat_template", None):
        return False
    tokenizer.chat_template = resolve_chat_template(chat_template)
    return True


def require_chat_template(tokenizer: Any, flag: str | None = None) -> None:
    """Raise a one-line ChatTemplateError naming the model, and the fix, when the tokenizer has no template.

    The fix named is the command-line `flag` (`--chat-template`) for a command, else the recipe
    key `chat_template:`.

    Usage: require_chat_template(tok)  # before rendering chat messages or training on them
    Usage: require_chat_template(tok, flag="--chat-template")  # a command, before its model loads
    """
    if getattr(tokenizer, "chat_template", None):
        return
    fix = (
        f"pass `{flag}` with"
        if flag
        else "set `chat_template:` in the recipe (recipe-wide or on the stage) to"
    )
    raise ChatTemplateError(
        f"model {_model_name(tokenizer)!r} has no chat template: {fix} {CHAT_TEMPLATE_HELP}"
    )


def template_stop_tokens(tokenizer: Any) -> list[str]:
    """The end-of-turn markers the tokenizer's chat template writes that are single tokens of its vocabulary.

    Usage: template_stop_tokens(tok)  # ['<end_of_turn>'] for Gemma's template
    """
    template = getattr(tokenizer, "chat_template", None)
    if not isinstance(template, str):
        return []
    vocab = tokenizer.get_vocab()
    return [m for m in END_OF_TURN_MARKERS if m in template and m in vocab]
