"""The `prm:PATH` judge: a two-class head scoring a solution's steps.

Steps are joined by a separator token; the score is 10 x the mean positive-class probability at
the separators (a sequence-classification head scores the whole solution: 10 x P(positive)).
A solution is cut into steps at its lines (`lines`, the default) or, as the Demystifying seed
does, at the sentences that contain "=" (`equals`; see `split_steps`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import (
    PRM_SEPARATOR,
    SCORE_HIGH,
    SCORE_LOW,
    STEP_RULES,
    BatchJudge,
    JudgeOptions,
    PromptScores,
    StepRule,
)
from judgerl.eval.scaling.judges.cache import stamped

PRM_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
_UP_TO_PERIOD = re.compile(r"[^.]+\.?")


def _equals_steps(solution: str) -> list[str]:
    """The seed's steps: the text cut after every period (a decimal point too), the pieces stripped
    and joined by one space until a piece that contains "=" closes the step; the rest is the last step.
    """
    steps, current = [], []
    for piece in _UP_TO_PERIOD.finditer(solution.strip()):
        text = piece.group(0)
        current.append(text.strip())
        if "=" in text:
            steps.append(" ".join(current).strip())
            current = []
    rest = " ".join(current).strip()
    if rest:
        steps.append(rest)
    return steps or [""]


def split_steps(solution: str, rule: StepRule = "lines") -> list[str]:
    """A solution's reasoning steps.

    "lines": its non-empty lines, or its sentences when it is one line. "equals" (the seed's):
    a step ends with each period-ended piece that contains "=" (see `_equals_steps`), so prose
    without an equation joins the next calculation and a decimal point ends a piece.

    >>> split_steps("a = 1\\n\\nb = 2\\n#### 2")
    ['a = 1', 'b = 2', '#### 2']
    >>> split_steps("First x = 2. Then y = 3.")
    ['First x = 2.', 'Then y = 3.']
    >>> split_steps("She has 3 apples. She buys 2, so 3 + 2 = 5. The answer is 5.", "equals")
    ['She has 3 apples. She buys 2, so 3 + 2 = 5.', 'The answer is 5.']

    Usage: steps = split_steps(solution, rule="lines")
    """
    if rule == "equals":
        return _equals_steps(solution)
    if rule != "lines":
        raise ValueError(f"PRM step rule must be one of {list(STEP_RULES)}, got {rule!r}")
    lines = [line.strip() for line in solution.splitlines() if line.strip()]
    if len(lines) > 1:
        return lines
    text = lines[0] if lines else ""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return sentences or [text]


class PRMJudge(BatchJudge):
    """A process reward model: 10 x mean positive-class probability at the step separators.

    The model's output `logits` must be [batch, tokens, 2] (a token-classification / PRM head;
    the score averages the separator positions) or [batch, 2] (a sequence-classification head:
    the score is 10 x P(positive) of the whole solution). Sequences are right-padded, so a score
    does not depend on the batch it was computed in.

    Usage: model, tok = load_prm("Qwen/Qwen2.5-Math-PRM-7B", trust_remote_code=True); PRMJudge(model, tok)
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str = "prm",
        separator: str = PRM_SEPARATOR,
        positive_label: int = 1,
        batch_size: int = 8,
        max_length: int = 4096,
        system_prompt: str | None = PRM_SYSTEM,
        missing: float = SCORE_LOW,
        step_rule: StepRule = "lines",
    ) -> None:
        split_steps("", step_rule)  # an unknown rule is an error here, not at the first solution
        ids = tokenizer.encode(separator, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(
                f"PRM step separator {separator!r} must be one token of the tokenizer, got ids {ids}; "
                "pass the model's own separator (Qwen2.5-Math-PRM: '<extra_0>') or add it as a special token"
            )
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right"
        if getattr(model.config, "pad_token_id", None) is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.separator = separator
        self.separator_id = ids[0]
        self.positive_label = positive_label
        self.batch_size = batch_size
        self.max_length = max_length
        self.system_prompt = system_prompt
        self.missing = float(missing)
        self.step_rule = step_rule

    def fingerprint(self) -> dict[str, Any]:
        """Name, separator, positive label, length limit, system prompt and (when not "lines") the
        step rule. Usage: judge.fingerprint()"""
        fp = {
            "name": self.name,
            "separator": self.separator,
            "positive_label": self.positive_label,
            "max_length": self.max_length,
            "system_prompt": self.system_prompt,
        }
        # the default rule is left out, so caches written before the rule existed stay valid
        return fp if self.step_rule == "lines" else fp | {"steps": self.step_rule}

    def render(self, prompt: str, solution: str) -> str:
        """The text the PRM reads: question, then the steps each followed by the separator.

        Usage: judge.render("2+2?", "2+2=4\\n#### 4")
        """
        steps = self.separator.join(split_steps(solution, self.step_rule)) + self.separator
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": steps}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        return f"{prompt}\n\n{steps}"

    def _score_texts(self, texts: list[str]) -> list[float]:
        import torch

        device = next(self.model.parameters()).device
        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            add_special_tokens=False,
            return_tensors="pt",
        ).to(device)
        with torch.inference_mode():
            out = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        logits = out.logits if hasattr(out, "logits") else out[0]
        if logits.shape[-1] != 2 or logits.dim() not in (2, 3):
            raise ValueError(
                f"a PRM needs a two-class head: logits [batch, tokens, 2] or [batch, 2], got {tuple(logits.shape)}"
            )
        pos = torch.softmax(logits.float(), dim=-1)[..., self.positive_label]
        if logits.dim() == 2:
            return (SCORE_HIGH * pos).tolist()
        at_sep = (enc["input_ids"] == self.separator_id) & enc["attention_mask"].bool()
        counts = at_sep.sum(dim=1)
        mean = (pos * at_sep).sum(dim=1) / counts.clamp_min(1)
        return [SCORE_HIGH * float(m) if int(n) else math.nan for m, n in zip(mean, counts, strict=True)]

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Forward passes in batches of `batch_size`; a solution whose separators were all cut off
        by `max_length` is NaN and counted.

        Usage: judge.score_batch(["2+2?"], [["2+2=4\\n#### 4", "#### 5"]])
        """
        flat = [(i, self.render(prompts[i], c)) for i, cands in enumerate(candidate_lists) for c in cands]
        scores: list[float] = []
        for start in range(0, len(flat), self.batch_size):
            scores += self._score_texts([t for _, t in flat[start : start + self.batch_size]])
        out = [PromptScores([], 0, 0) for _ in prompts]
        for (i, _), s in zip(flat, scores, strict=True):
            out[i].scores.append(s)
            out[i].failures += math.isnan(s)
            out[i].calls += 1
        return out


def load_prm(
    path: str, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """Load a two-class-head model and its tokenizer: token classification, sequence
    classification, or (e.g. Qwen2.5-Math-PRM, with trust_remote_code) the model's own class.

    Usage: model, tok = load_prm("runs/prm/checkpoint", device="cpu")
    """
    import torch
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    archs = " ".join(config.architectures or [])
    if "TokenClassification" in archs:
        cls: Any = AutoModelForTokenClassification
    elif "SequenceClassification" in archs:
        cls = AutoModelForSequenceClassification
    else:
        cls = AutoModel
    dev = (
        "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    )
    torch_dtype: Any = (
        torch.float32 if dtype == "auto" and dev == "cpu" else ("auto" if dtype == "auto" else dtype)
    )
    model = cls.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code).to(dev)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    return model, tokenizer


def build_prm_judge(
    arg: str, spec: str, items: Sequence[PromptCandidates], options: JudgeOptions
) -> PRMJudge:
    """The `prm:PATH` judge of a spec: the model at PATH, stamped with its checkpoint's files.

    Usage: build_prm_judge("runs/prm/checkpoint", "prm:runs/prm/checkpoint", [], JudgeOptions(device="cpu"))
    """
    model, tok = load_prm(
        arg, device=options.device, dtype=options.dtype, trust_remote_code=options.trust_remote_code
    )
    judge = PRMJudge(
        model,
        tok,
        name=spec,
        separator=options.prm_separator,
        batch_size=options.batch_size,
        max_length=options.prm_max_length,
        step_rule=options.prm_steps,
    )
    return stamped(judge, arg)
