"""Rendering through the `prompt:` shorthand in tests: the built-in spec a PromptSpec stands for,
rendered by the one renderer (judgerl/judge_spec/render.py)."""

from __future__ import annotations

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.judge_spec.render import judge_prompt, prompt_text


def rendered(sample: JudgeSample, prompt: PromptSpec = PromptSpec()) -> list[dict[str, str]]:
    """The chat messages of `sample` under the shorthand `prompt` (its hint included).

    Usage: messages = rendered(sample, PromptSpec("cot"))
    """
    messages = judge_prompt(spec_for_prompt(prompt), sample, prompt.hint)
    assert isinstance(messages, list)
    return messages


def user_text(sample: JudgeSample, prompt: PromptSpec = PromptSpec()) -> str:
    """The text of the rendered prompt (the one user turn of judgerl's families). Usage: user_text(s, P)"""
    return prompt_text(rendered(sample, prompt))
