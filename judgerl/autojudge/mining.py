"""Important-token mining (AutoJudge Algorithm 1) for any draft/target pair of HF causal LMs
sharing a tokenizer.

Per item: the target's greedy completion gives the reference answer. Then, repeatedly, the draft
is run teacher-forced over the current completion; the earliest position p >= left_border where
its argmax differs from the current token is a mismatch. The draft token is swapped in at p and
the target continues greedily; if the continuation's final answer equals the reference the
mismatch is unimportant and the swapped sequence becomes the current one, otherwise it is
important and the sequence is kept. left_border = p + 1. Records are appended to a JSONL file as
each item finishes, so a rerun skips finished items.

Batching (`mine(..., batch_size=B)`): the steps of one item depend on each other, but items do
not, so B items advance in lockstep: the greedy target references (and draft answers) are one
left-padded batched `generate` each; each round runs the draft teacher-forced over every active
item's current sequence in one right-padded forward pass (causal attention: right padding leaves
the real positions unchanged), and all swaps of that round continue in one batched target
`generate`, each cut to its own token budget. `batch_size=1` runs the item-at-a-time reference
path (`mine_item`); both give the same records (tests/rewards/test_autojudge_mining.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from judgerl.autojudge.checkers import AnswerChecker
from judgerl.core.errors import DataError
from judgerl.core.jsonl import read_appended
from judgerl.core.logging import get_logger
from judgerl.core.types import JudgeSample
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec
from judgerl.judge_spec.render import judge_prompt
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.generation import Prompts, render_prompts, stop_token_ids
from judgerl.models.generation.speculative import SpeculativeGenerator

log = get_logger(__name__)


@dataclass
class MiningItem:
    """One prompt to mine: a unique id and a chat prompt (or a raw string)."""

    id: str
    prompt: list[dict[str, str]] | str
    meta: dict[str, Any] = field(default_factory=dict)


def items_from_samples(samples: Iterable[JudgeSample], spec: JudgeSpec | None = None) -> list[MiningItem]:
    """Judge prompts of `samples` (current order) as mining items.

    Usage: items = items_from_samples(read_samples("train.jsonl"), builtin_spec("strength-compact"))
    """
    return [
        MiningItem(
            s.id,
            judge_prompt(spec or builtin_spec(DEFAULT_SPEC), s),
            {"label": s.label, "strength": s.strength},
        )
        for s in samples
    ]


@torch.inference_mode()
def draft_argmax(draft: PreTrainedModel, prompt_ids: list[int], completion: list[int]) -> list[int]:
    """The draft's teacher-forced argmax at each completion position (the token it would put there).

    Usage: preds = draft_argmax(draft, prompt_ids, completion_ids); preds[j] vs completion_ids[j]
    """
    if not completion:
        return []
    ids = torch.tensor([prompt_ids + completion[:-1]], dtype=torch.long, device=draft.device)
    logits = draft(input_ids=ids).logits[0, len(prompt_ids) - 1 :]
    return logits.argmax(-1).tolist()


def mine_item(
    draft: PreTrainedModel,
    target: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt_ids: list[int],
    checker: AnswerChecker,
    max_new_tokens: int = 256,
    max_mismatches: int | None = None,
) -> dict[str, Any]:
    """Run Algorithm 1 on one prompt; returns the record (without id).

    Positions are counted from the first completion token. Usage: rec = mine_item(d, t, tok, ids, get_checker("gsm8k"))
    """
    stops = set(stop_token_ids(tokenizer, target))
    greedy = SpeculativeGenerator(target, tokenizer, mode="target")
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    reference = greedy.generate_ids(prompt_ids, max_new_tokens)
    ref_answer = checker.extract(decode(reference))
    draft_gen = SpeculativeGenerator(draft, tokenizer, mode="target")
    draft_answer = checker.extract(decode(draft_gen.generate_ids(prompt_ids, max_new_tokens)))
    current, left, mismatches = list(reference), 0, []
    while max_mismatches is None or len(mismatches) < max_mismatches:
        preds = draft_argmax(draft, prompt_ids, current)
        p = next((j for j in range(left, len(current)) if preds[j] != current[j]), None)
        if p is None:
            break
        alt = current[:p] + [preds[p]]
        if preds[p] not in stops and len(alt) < max_new_tokens:
            alt += greedy.generate_ids(prompt_ids + alt, max_new_tokens - len(alt))
        alt_answer = checker.extract(decode(alt))
        important = not checker.same(alt_answer, ref_answer)
        mismatches.append(
            {"position": p, "important": important, "target_token": current[p], "draft_token": preds[p]}
        )
        if not important:
            current = alt
        left = p + 1
    return {
        "prompt_ids": list(prompt_ids),
        "reference_ids": reference,
        "final_ids": current,
        "target_answer": ref_answer,
        "draft_answer": draft_answer,
        "final_answer": checker.extract(decode(current)),
        "final_text": decode(current),
        "mismatches": mismatches,
    }


def _pad_id(tokenizer: PreTrainedTokenizerBase, stops: set[int]) -> int:
    pad = tokenizer.pad_token_id
    return int(pad) if pad is not None else min(stops, default=0)


def _cut(row: list[int], stops: set[int], budget: int) -> list[int]:
    """A generated row up to and including its first stop token, at most `budget` tokens."""
    for j, tok in enumerate(row[:budget]):
        if tok in stops:
            return row[: j + 1]
    return row[:budget]


@torch.inference_mode()
def greedy_batch(
    model: PreTrainedModel,
    prompts: list[list[int]],
    budgets: list[int],
    stops: set[int],
    pad_id: int,
) -> list[list[int]]:
    """Greedy continuations of token-id prompts in one left-padded `generate`, each cut at its first
    stop token (included) and at its own budget (greedy rows do not depend on each other).

    Usage: news = greedy_batch(target, [[1, 2], [3, 4, 5]], [16, 8], {tok.eos_token_id}, tok.pad_token_id)
    """
    if not prompts:
        return []
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p) :] = 1
    cfg = GenerationConfig(
        max_new_tokens=max(budgets),
        do_sample=False,
        temperature=1.0,
        top_p=1.0,
        top_k=50,
        repetition_penalty=1.0,
        eos_token_id=sorted(stops),
        pad_token_id=pad_id,
        use_cache=True,
    )
    out = model.generate(
        input_ids=ids.to(model.device), attention_mask=mask.to(model.device), generation_config=cfg
    )
    rows = out[:, width:].tolist()
    return [_cut(r, stops, b) for r, b in zip(rows, budgets, strict=True)]


@torch.inference_mode()
def draft_argmax_batch(
    draft: PreTrainedModel, prompts: list[list[int]], completions: list[list[int]], pad_id: int
) -> list[list[int]]:
    """`draft_argmax` for many sequences in one right-padded forward pass (attention-masked).

    Usage: preds = draft_argmax_batch(draft, [prompt_ids] * 2, [completion_a, completion_b], pad_id)
    """
    seqs = [p + c[:-1] for p, c in zip(prompts, completions, strict=True) if c]
    out: list[list[int]] = [[] for _ in prompts]
    if not seqs:
        return out
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    argmax = draft(input_ids=ids.to(draft.device), attention_mask=mask.to(draft.device)).logits.argmax(-1)
    row = 0
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        if c:
            out[i] = argmax[row, len(p) - 1 : len(p) - 1 + len(c)].tolist()
            row += 1
    return out


def mine_batch(
    draft: PreTrainedModel,
    target: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    checker: AnswerChecker,
    max_new_tokens: int = 256,
    max_mismatches: int | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Algorithm 1 on several prompts in lockstep; yields (index, record) as each item finishes.

    The records equal `mine_item`'s for each prompt. Usage:
    for i, rec in mine_batch(d, t, tok, [ids_a, ids_b], get_checker("synthetic"), 150): ...
    """
    stops = set(stop_token_ids(tokenizer, target))
    pad = _pad_id(tokenizer, stops)
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    n = len(prompts)
    refs = greedy_batch(target, prompts, [max_new_tokens] * n, stops, pad)
    drafts = greedy_batch(draft, prompts, [max_new_tokens] * n, stops, pad)
    ref_answers = [checker.extract(decode(r)) for r in refs]
    current = [list(r) for r in refs]
    left = [0] * n
    found: list[list[dict[str, Any]]] = [[] for _ in range(n)]

    def record(i: int) -> dict[str, Any]:
        return {
            "prompt_ids": list(prompts[i]),
            "reference_ids": refs[i],
            "final_ids": current[i],
            "target_answer": ref_answers[i],
            "draft_answer": checker.extract(decode(drafts[i])),
            "final_answer": checker.extract(decode(current[i])),
            "final_text": decode(current[i]),
            "mismatches": found[i],
        }

    active = list(range(n))
    while active:
        still = []
        for i in active:
            if max_mismatches is not None and len(found[i]) >= max_mismatches:
                yield i, record(i)
            else:
                still.append(i)
        preds = draft_argmax_batch(draft, [prompts[i] for i in still], [current[i] for i in still], pad)
        swaps: dict[int, tuple[int, list[int]]] = {}
        for i, pr in zip(still, preds, strict=True):
            p = next((j for j in range(left[i], len(current[i])) if pr[j] != current[i][j]), None)
            if p is None:
                yield i, record(i)
            else:
                swaps[i] = (p, current[i][:p] + [pr[p]])
        grow = [i for i, (p, alt) in swaps.items() if alt[-1] not in stops and len(alt) < max_new_tokens]
        conts = greedy_batch(
            target,
            [prompts[i] + swaps[i][1] for i in grow],
            [max_new_tokens - len(swaps[i][1]) for i in grow],
            stops,
            pad,
        )
        for i, cont in zip(grow, conts, strict=True):
            swaps[i][1].extend(cont)
        for i, (p, alt) in swaps.items():
            important = not checker.same(checker.extract(decode(alt)), ref_answers[i])
            found[i].append(
                {"position": p, "important": important, "target_token": current[i][p], "draft_token": alt[p]}
            )
            if not important:
                current[i] = alt
            left[i] = p + 1
        active = list(swaps)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Read mining records; a torn last line (an interrupted append) is cut off with a warning.

    Usage: records = read_records("runs/aj/mining.jsonl")
    """
    p = Path(path)
    size = p.stat().st_size if p.exists() else 0
    try:
        records = read_appended(p)
    except ValueError as e:
        raise DataError(str(e)) from None
    if p.exists() and p.stat().st_size < size:
        log.warning(
            "%s: dropped a torn last record (%d bytes) from an interrupted run", p, size - p.stat().st_size
        )
    return records


def _append(path: Path, record: dict[str, Any]) -> None:
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)  # one write per record: a crash leaves at most a torn last line
        os.fsync(fd)
    finally:
        os.close(fd)


def mine(
    draft: PreTrainedModel,
    target: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    items: list[MiningItem],
    checker: AnswerChecker,
    out_path: str | Path,
    max_new_tokens: int = 256,
    max_mismatches: int | None = None,
    progress: bool = True,
    batch_size: int = 1,
) -> list[dict[str, Any]]:
    """Mine every item not already in `out_path`; returns all records (old and new) in item order.

    `batch_size` > 1 mines that many items in lockstep (`mine_batch`); each record is appended as
    its item finishes, so an interrupted run loses at most the unfinished items of one batch.

    Usage: recs = mine(draft, target, tok, items, get_checker("synthetic"), "runs/aj/mining.jsonl", batch_size=16)
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if draft.config.vocab_size != target.config.vocab_size:
        raise ValueError(
            f"draft and target must share a tokenizer: vocab sizes {draft.config.vocab_size} and {target.config.vocab_size}"
        )
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        raise DataError("mining items must have unique ids")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {r["id"]: r for r in read_records(out)}
    todo = [it for it in items if it.id not in done]
    if done:
        log.info("mining: %d items already in %s, %d to go", len(items) - len(todo), out, len(todo))
    draft.eval()
    target.eval()
    prompts: Prompts = [it.prompt for it in todo]  # type: ignore[misc]
    texts = render_prompts(tokenizer, prompts)
    all_ids = [
        tokenizer(text, add_special_tokens=isinstance(it.prompt, str))["input_ids"]
        for it, text in zip(todo, texts, strict=True)
    ]

    def finish(it: MiningItem, body: dict[str, Any]) -> None:
        rec = {"id": it.id, **body}
        if it.meta:
            rec["meta"] = it.meta
        _append(out, rec)
        done[it.id] = rec

    with tqdm(total=len(todo), desc="mining", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            chunk, chunk_ids = todo[start : start + batch_size], all_ids[start : start + batch_size]
            if batch_size == 1:
                body = mine_item(
                    draft, target, tokenizer, chunk_ids[0], checker, max_new_tokens, max_mismatches
                )
                finish(chunk[0], body)
                bar.update(1)
                continue
            for i, body in mine_batch(
                draft, target, tokenizer, chunk_ids, checker, max_new_tokens, max_mismatches
            ):
                finish(chunk[i], body)
                bar.update(1)
    return [done[i] for i in ids if i in done]


def mining_summary(records: list[dict[str, Any]]) -> dict[str, float]:
    """Counts: items, mismatches, important share, mismatches per item, draft/target answer agreement.

    >>> mining_summary([{"mismatches": [{"important": True}, {"important": False}],
    ...                  "target_answer": "a:1", "draft_answer": "a:1", "final_answer": "a:1"}])["important_share"]
    0.5
    """
    flags = [m["important"] for r in records for m in r["mismatches"]]
    n = len(records)
    return {
        "items": n,
        "mismatches": len(flags),
        "important": sum(flags),
        "important_share": sum(flags) / len(flags) if flags else 0.0,
        "mismatches_per_item": len(flags) / n if n else 0.0,
        "draft_agrees_with_target": sum(r["draft_answer"] == r["target_answer"] for r in records) / n
        if n
        else 0.0,
        "final_agrees_with_target": sum(r["final_answer"] == r["target_answer"] for r in records) / n
        if n
        else 0.0,
    }
