"""Classifier reward models as judges (`scoring: classifier`): a sequence-classification head scores
each response on its own and the higher score wins, so one table holds Bradley-Terry reward models
beside generative judges.

Each (conversation, response) is rendered with the tokenizer's chat template, the response as the
assistant's turn, as RewardBench's `scripts/run_rm.py` renders classifier inputs, and scored by the
model's single logit (left-truncated to the model's context). A pair's verdict is (a) when (a)'s
score is higher, (b) when (b)'s is, and a tie when they are equal. Both orders therefore give the
same verdict by construction: agreement is 100% and the position bias 0 unless scores tie; they
are reported only so the table lines up with generative judges. Scoring is one forward pass per
response and is not resumed part-way: a resumed stage scores again.

    scorer = load_classifier("runs/rm/checkpoint")
    rows = classifier_rows(scorer, samples, both_orders=True)   # predictions rows, as judge_sample_rows
"""

from __future__ import annotations

from typing import Any

from judgerl.core.logging import get_logger
from judgerl.core.types import Judgement, JudgeSample, Verdict
from judgerl.eval.pairwise import judge_inputs, judgement_from_row, judgement_row
from judgerl.models.chat_templates import require_chat_template
from judgerl.models.generation.base import Messages

log = get_logger("judgerl.eval")
CLASSIFIER_NOTE = (
    "scoring: classifier - each response is scored on its own and the higher score wins, so both "
    "orders give the same verdict by construction (agreement 100%, position bias 0 unless scores tie)"
)


class ClassifierScorer:
    """Scores (conversation, response) pairs with a sequence-classification model's single logit.

    Usage: scores = ClassifierScorer(model, tokenizer).score([conversation + [{"role": "assistant", ...}]])
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 8) -> None:
        labels = getattr(model.config, "num_labels", 1)
        if labels != 1:
            raise ValueError(
                f"scoring: classifier needs a reward model with one score (num_labels 1), "
                f"got num_labels {labels} for {getattr(model.config, 'name_or_path', 'the model')!r}"
            )
        require_chat_template(tokenizer)
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if model.config.pad_token_id is None:  # the head reads the last token that is not padding
            model.config.pad_token_id = tokenizer.pad_token_id
        self.max_length = _context(model, tokenizer)

    def _encode(self, messages: Messages) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        bos = self.tokenizer.bos_token
        # a template that writes the BOS itself must not get a second one from the tokenizer
        special = not (bos and text.startswith(bos))
        ids = self.tokenizer(text, add_special_tokens=special)["input_ids"]
        return ids[-self.max_length :] if self.max_length else ids  # left truncation, as RewardBench

    def score(self, conversations: list[Messages], desc: str = "scoring") -> list[float]:
        """The reward of each conversation (its last message is the scored assistant response).

        Usage: rewards = scorer.score([[{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]])
        """
        import torch
        from tqdm.auto import tqdm

        encoded = [self._encode(m) for m in conversations]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        out: list[float] = [0.0] * len(encoded)
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.inference_mode(), tqdm(total=len(encoded), desc=desc, disable=len(encoded) < 2) as bar:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer.pad(
                    {"input_ids": [encoded[i] for i in idx]}, padding=True, return_tensors="pt"
                ).to(device)
                logits = self.model(**batch).logits.float()[:, 0].tolist()
                for i, value in zip(idx, logits, strict=True):
                    out[i] = float(value)
                bar.update(len(idx))
        return out


def _context(model: Any, tokenizer: Any) -> int | None:
    limits = [
        getattr(model.config, "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    ]
    usable = [x for x in limits if isinstance(x, int) and 0 < x < 10**8]
    return min(usable) if usable else None


def load_classifier(
    path: str, dtype: str = "auto", chat_template: str | None = None, batch_size: int = 8
) -> ClassifierScorer:
    """Load a sequence-classification reward model; a checkpoint of another kind is a one-line error.

    Usage: scorer = load_classifier("Skywork/Skywork-Reward-Llama-3.1-8B-v0.2", dtype="bfloat16")
    """
    from transformers import AutoConfig

    from judgerl.models.loading import load_model_and_tokenizer

    architectures = getattr(AutoConfig.from_pretrained(path), "architectures", None) or []
    if not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise ValueError(
            f"scoring: classifier needs a sequence-classification checkpoint (a reward model), but "
            f"{path!r} is {', '.join(architectures) or 'of no declared architecture'}"
        )
    model, tokenizer = load_model_and_tokenizer(
        path, dtype=dtype, chat_template=chat_template, head="sequence_classification"
    )
    return ClassifierScorer(model, tokenizer, batch_size)


def classifier_verdict(score_a: float, score_b: float) -> Verdict:
    """(a) when its score is higher, (b) when (b)'s is, a tie when they are equal.

    >>> classifier_verdict(1.5, -0.5).choice, classifier_verdict(0.0, 0.0).choice
    ('a', 'tie')

    Usage: verdict = classifier_verdict(scores["a"], scores["b"])
    """
    choice = "a" if score_a > score_b else "b" if score_b > score_a else "tie"
    return Verdict(choice, None, "classifier")


def classifier_rows(
    scorer: Any, samples: list[JudgeSample], both_orders: bool = True
) -> list[dict[str, Any]]:
    """The predictions rows of `samples` judged by a classifier (both orders unless told otherwise), as
    `judge_sample_rows` writes them, each with `classifier`: the two responses' scores as shown.

    Each response is scored once; the swapped order reuses the scores.

    Usage: rows = classifier_rows(load_classifier(path), samples)
    """
    items = judge_inputs(samples, both_orders)
    pending: dict[tuple[str, str], Messages] = {}
    for s in items:
        for response in (s.response_a, s.response_b):
            pending.setdefault(
                (s.id, response), [*s.conversation, {"role": "assistant", "content": response}]
            )
    keys = list(pending)
    rewards = dict(zip(keys, scorer.score([pending[k] for k in keys], desc="scoring responses"), strict=True))
    rows = []
    for s in items:
        a, b = rewards[(s.id, s.response_a)], rewards[(s.id, s.response_b)]
        verdict = classifier_verdict(a, b)
        j = Judgement(
            s.id, s.order, f"score (a) {a:.4f}, score (b) {b:.4f}", verdict, s.label, s.strength, s.subset
        )
        row = judgement_row(j)
        row["classifier"] = {"a": a, "b": b}
        rows.append(row)
    return rows


def classifier_judgements(
    scorer: Any, samples: list[JudgeSample], both_orders: bool = True
) -> list[Judgement]:
    """`classifier_rows` as Judgements. Usage: judgements = classifier_judgements(scorer, samples)"""
    return [judgement_from_row(r) for r in classifier_rows(scorer, samples, both_orders)]


def item_rewards(scorer: Any, items: list[Any]) -> dict[str, list[float]]:
    """One reward per response of each RewardBench 2 item (`item.responses`, the correct ones first).

    Usage: rewards = item_rewards(load_classifier(path), items); rewards[item.id][0]
    """
    keys = [(item.id, i) for item in items for i in range(len(item.responses))]
    conversations = [
        [*item.conversation, {"role": "assistant", "content": response}]
        for item in items
        for response in item.responses
    ]
    flat = scorer.score(conversations, desc="scoring responses")
    out: dict[str, list[float]] = {item.id: [] for item in items}
    for (item_id, _), value in zip(keys, flat, strict=True):
        out[item_id].append(value)
    return out
