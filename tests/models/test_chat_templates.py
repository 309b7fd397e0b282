"""Chat templates: built-ins render their formats, a template-less model gets a one-line error, stop tokens follow the template."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgerl.models.chat_templates import (
    BUILTIN_TEMPLATES,
    ChatTemplateError,
    apply_default_template,
    check_template_name,
    require_chat_template,
    resolve_chat_template,
    template_stop_tokens,
)
from judgerl.models.generation.base import render_prompts, stop_token_ids
from judgerl.models.tokenizer import train_tokenizer

CHAT = [
    {"role": "system", "content": "Be fair."},
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"},
]


@pytest.fixture(scope="module")
def bare_tokenizer(corpus: list[str]):
    """The tiny ChatML tokenizer with its template removed (a base model's tokenizer)."""
    tok = train_tokenizer(corpus + ["<start_of_turn>", "<end_of_turn>"], vocab_size=400)
    tok.add_special_tokens(
        {"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>", "<|im_start|>"]}
    )
    tok.chat_template = None
    tok.name_or_path = "base-model-x"
    return tok


def test_each_builtin_renders_its_turn_format(bare_tokenizer) -> None:
    expected = {
        "chatml": "<|im_start|>system\nBe fair.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>assistant\n",
        "gemma": "<start_of_turn>user\nBe fair.\n\n2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n"
        "<start_of_turn>model\n",
        "llama3": "<|start_header_id|>system<|end_header_id|>\n\nBe fair.<|eot_id|><|start_header_id|>user"
        "<|end_header_id|>\n\n2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "mistral": "[INST] Be fair.\n\n2+2? [/INST]4<|im_end|>",
    }
    for name, text in expected.items():
        bare_tokenizer.chat_template = BUILTIN_TEMPLATES[name]
        got = bare_tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
        assert got == text, name
    bare_tokenizer.chat_template = None


def test_builtin_templates_mark_the_assistant_turn_for_assistant_only_loss(bare_tokenizer) -> None:
    bare_tokenizer.chat_template = BUILTIN_TEMPLATES["chatml"]
    out = bare_tokenizer.apply_chat_template(
        CHAT, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert bare_tokenizer.decode(masked) == "4<|im_end|>"
    bare_tokenizer.chat_template = None


def test_template_names_and_files_are_checked(tmp_path: Path) -> None:
    assert check_template_name("llama3") == "llama3" and check_template_name(None) is None
    with pytest.raises(ValueError, match="neither a built-in name"):
        check_template_name("gemma4")
    with pytest.raises(ChatTemplateError, match="no such file"):
        resolve_chat_template(str(tmp_path / "missing.jinja"))
    (tmp_path / "plain.jinja").write_text("no jinja here")
    with pytest.raises(ChatTemplateError, match="holds no Jinja"):
        resolve_chat_template(str(tmp_path / "plain.jinja"))
    own = "{% for m in messages %}{{ m['content'] }}<end_of_turn>{% endfor %}"
    (tmp_path / "own.jinja").write_text(own)
    assert resolve_chat_template(str(tmp_path / "own.jinja")) == own


def test_a_model_without_template_gets_one_line_naming_model_and_key(bare_tokenizer) -> None:
    with pytest.raises(ChatTemplateError) as err:
        render_prompts(bare_tokenizer, [[{"role": "user", "content": "hi"}]])
    message = str(err.value)
    assert "\n" not in message and "'base-model-x'" in message and "`chat_template:`" in message
    assert render_prompts(bare_tokenizer, ["raw text passes"]) == ["raw text passes"]
    # a command names its flag, not the recipe key
    with pytest.raises(ChatTemplateError) as err:
        require_chat_template(bare_tokenizer, flag="--chat-template")
    message = str(err.value)
    assert "pass `--chat-template` with a built-in name (chatml" in message
    assert "recipe" not in message and "chat_template:" not in message


def test_default_template_fills_a_gap_but_never_replaces_the_models_own(
    bare_tokenizer, tmp_path: Path
) -> None:
    assert apply_default_template(bare_tokenizer, "gemma") is True
    require_chat_template(bare_tokenizer)
    bare_tokenizer.save_pretrained(tmp_path / "tok")
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert reloaded.chat_template == BUILTIN_TEMPLATES["gemma"]  # saved with the checkpoint
    assert apply_default_template(bare_tokenizer, "chatml") is False
    assert bare_tokenizer.chat_template == BUILTIN_TEMPLATES["gemma"]
    bare_tokenizer.chat_template = None


def test_stop_tokens_follow_the_template(bare_tokenizer) -> None:
    bare_tokenizer.chat_template = BUILTIN_TEMPLATES["gemma"]
    end = bare_tokenizer.convert_tokens_to_ids("<end_of_turn>")
    assert template_stop_tokens(bare_tokenizer) == ["<end_of_turn>"]
    assert stop_token_ids(bare_tokenizer) == [bare_tokenizer.eos_token_id, end]
    bare_tokenizer.chat_template = BUILTIN_TEMPLATES["llama3"]  # <|eot_id|> is not in this vocabulary
    assert template_stop_tokens(bare_tokenizer) == []
    bare_tokenizer.chat_template = None
    assert stop_token_ids(bare_tokenizer) == [bare_tokenizer.eos_token_id]
