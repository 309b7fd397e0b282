"""Think-J DPO pair construction from already-parsed judge and critic completions.

Critic mode (Think-J's offline RL). Each training item is judged once by the judge; the critic
(an SFT model trained on hinted prompts) is run with a POSITIVE hint (the true winner) or a
NEGATIVE hint (the wrong one):

| judge          | critic needed      | critic verdict | pair                                             |
|----------------|--------------------|----------------|--------------------------------------------------|
| right          | negative           | wrong          | chosen judge, rejected negative critic (`judge_right`) |
| right          | negative           | right          | skip "negative critic not wrong"                 |
| wrong          | positive           | right          | chosen positive critic, rejected judge (`judge_wrong`) |
| wrong          | positive           | wrong          | skip "positive critic not right"                 |

A pair with an empty side is dropped ("empty trace"). Judge-only mode (rejection sampling, no
critic): N sampled judgements per item, each right one paired with a wrong one, at most M pairs
per item; an item whose samples are all right or all wrong is skipped.

"Right" means the verdict names the label with no parse problem (an unparseable verdict is
wrong); with `match_strength` the [[k]] must equal |strength| too. The pair's prompt is always the
JUDGE's own prompt for the sample (the Think-J seed filled the `direct` prompt: a defect), never
the hinted critic prompt the critic side was generated from.

This module only takes parsed Verdicts (judgerl.judge_spec.parser does the parsing), so every
branch is testable on hand-made completions. `read_pairs` reads a pairs file: the pairs stage's
JSONL, or Think-J's own DPO file ({system, instruction, chosen, rejected}), whose rows become
pairs rows with the prompt as written (`thinkj_pair_row`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from judgerl.core.errors import DataError
from judgerl.core.types import JudgeSample, Verdict
from judgerl.data_prep.sources.base import BadRow, describe_error
from judgerl.data_prep.sources.readers import read_file_rows
from judgerl.data_prep.sources.thinkj import split_judgement
from judgerl.data_prep.sources.thinkj_files import dpo_row_sample
from judgerl.judge_spec import render as _render
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN

JUDGE = "judge"
CRITIC_POSITIVE = "critic_positive"
CRITIC_NEGATIVE = "critic_negative"
IMPORTED = "imported"  # a side read from another system's pairs file, which does not say who wrote it
SOURCES: tuple[str, ...] = (JUDGE, CRITIC_POSITIVE, CRITIC_NEGATIVE, IMPORTED)

BRANCH_JUDGE_RIGHT = "judge_right"
BRANCH_JUDGE_WRONG = "judge_wrong"
BRANCH_REJECTION = "rejection_sampling"
BRANCH_THINKJ_FILE = "thinkj_dpo_file"  # a row of Think-J's own DPO file (create_judgement_pairs)
BRANCHES: tuple[str, ...] = (BRANCH_JUDGE_RIGHT, BRANCH_JUDGE_WRONG, BRANCH_REJECTION, BRANCH_THINKJ_FILE)

SKIP_NEGATIVE_NOT_WRONG = "negative critic not wrong"
SKIP_POSITIVE_NOT_RIGHT = "positive critic not right"
SKIP_EMPTY = "empty trace"
SKIP_NO_WRONG = "no wrong sample"
SKIP_NO_RIGHT = "no right sample"

PAIR_KEYS: tuple[str, ...] = (
    "id",
    "sample",
    "prompt",
    "chosen",
    "rejected",
    "chosen_source",
    "rejected_source",
    "branch",
)


@dataclass(frozen=True)
class Completion:
    """One generated judgement: its raw text and its parsed verdict.

    >>> Completion("Therefore, Response (a) is better.", Verdict("a")).empty
    False
    """

    text: str
    verdict: Verdict

    @property
    def empty(self) -> bool:
        """True when the completion holds no text at all (an empty trace)."""
        return not self.text.strip()


@dataclass(frozen=True)
class Built:
    """The outcome for one item: the pairs built from it, or the reason it was skipped."""

    pairs: list[dict[str, Any]] = field(default_factory=list)
    skip: str = ""


def is_right(sample: JudgeSample, verdict: Verdict, match_strength: bool = False) -> bool:
    """True when `verdict` names the sample's label with no parse problem (and, with
    `match_strength`, the target strength |g|).

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a", -2)
    >>> is_right(s, Verdict("a", 1)), is_right(s, Verdict("a", 1), match_strength=True)
    (True, False)
    >>> is_right(s, Verdict("a", None, reason="strength missing"))
    False
    """
    if verdict.choice != sample.label or verdict.reason:
        return False
    return not match_strength or sample.abs_strength is None or verdict.strength == sample.abs_strength


def judge_prompt(sample: JudgeSample, spec: JudgeSpec) -> list[dict[str, str]]:
    """The judge's own chat prompt for `sample` (never the critic's hinted one): the prompt every pair
    is trained under, since DPO trains the judge, which never sees a hint at evaluation.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> judge_prompt(s, builtin_spec("strength"))[0]["role"]
    'user'
    """
    prompt = _render.judge_prompt(spec, sample)
    if isinstance(prompt, str):
        raise ValueError(
            f"judge spec {spec.name!r} has a raw (no chat template) prompt: DPO needs chat messages"
        )
    return prompt


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    return {"choice": v.choice, "strength": v.strength, "reason": v.reason}


def pair_row(
    pair_id: str,
    sample: JudgeSample,
    spec: JudgeSpec,
    chosen: Completion,
    rejected: Completion,
    chosen_source: str,
    rejected_source: str,
    branch: str,
) -> dict[str, Any]:
    """One pairs.jsonl row: id, sample, the judge prompt, chosen/rejected text, sources, branch, verdicts.

    Usage: row = pair_row("add-1:ab", sample, builtin_spec("strength"), good, bad, "judge", "critic_negative", "judge_right")
    """
    return {
        "id": pair_id,
        "sample": sample.to_dict(),
        "prompt": judge_prompt(sample, spec),
        "chosen": chosen.text,
        "rejected": rejected.text,
        "chosen_source": chosen_source,
        "rejected_source": rejected_source,
        "branch": branch,
        "chosen_verdict": _verdict_dict(chosen.verdict),
        "rejected_verdict": _verdict_dict(rejected.verdict),
    }


def item_key(sample: JudgeSample) -> str:
    """The id of a pair built from `sample` in its shown order.

    >>> item_key(JudgeSample("q7", "t", [{"role": "user", "content": "q"}], "x", "y", "a"))
    'q7:ab'
    """
    return f"{sample.id}:{sample.order}"


def critic_pair(
    sample: JudgeSample,
    spec: JudgeSpec,
    judge: Completion,
    positive: Completion | None = None,
    negative: Completion | None = None,
    match_strength: bool = False,
) -> Built:
    """Think-J's four branches for one item (see the module docstring).

    Only the critic the branch needs must be given: the negative critic when the judge is right,
    the positive one when it is wrong (the pairs stage generates no other); a missing one that is
    needed raises ValueError.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> good = Completion("<think>ok</think>\\nTherefore, Response (a) is better.", Verdict("a"))
    >>> bad = Completion("<think>hm</think>\\nTherefore, Response (b) is better.", Verdict("b"))
    >>> critic_pair(s, builtin_spec("cot"), good, negative=bad).pairs[0]["branch"]
    'judge_right'
    >>> critic_pair(s, builtin_spec("cot"), good, negative=good).skip
    'negative critic not wrong'
    """
    if judge.empty:
        return Built(skip=SKIP_EMPTY)
    key = item_key(sample)
    if is_right(sample, judge.verdict, match_strength):
        if negative is None:
            raise ValueError(f"item {key}: the judge is right, so the negative critic's completion is needed")
        if negative.empty:
            return Built(skip=SKIP_EMPTY)
        if is_right(sample, negative.verdict, match_strength):
            return Built(skip=SKIP_NEGATIVE_NOT_WRONG)
        row = pair_row(key, sample, spec, judge, negative, JUDGE, CRITIC_NEGATIVE, BRANCH_JUDGE_RIGHT)
        return Built(pairs=[row])
    if positive is None:
        raise ValueError(f"item {key}: the judge is wrong, so the positive critic's completion is needed")
    if positive.empty:
        return Built(skip=SKIP_EMPTY)
    if not is_right(sample, positive.verdict, match_strength):
        return Built(skip=SKIP_POSITIVE_NOT_RIGHT)
    row = pair_row(key, sample, spec, positive, judge, CRITIC_POSITIVE, JUDGE, BRANCH_JUDGE_WRONG)
    return Built(pairs=[row])


def _unique(completions: Iterable[Completion]) -> list[Completion]:
    seen: set[str] = set()
    out = []
    for c in completions:
        if c.text not in seen:
            seen.add(c.text)
            out.append(c)
    return out


def rejection_pairs(
    sample: JudgeSample,
    spec: JudgeSpec,
    samples: list[Completion],
    max_pairs: int = 1,
    match_strength: bool = False,
) -> Built:
    """Judge-only pairs (rejection sampling): right judgements against wrong ones, at most `max_pairs`.

    Repeated texts count once and empty completions are left out. Pairs are taken in shifted
    round-robin order (right i with wrong i, then wrong i+1, ...) so that the first pairs use as
    many different completions as there are.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "b")
    >>> r1, r2 = Completion("r1", Verdict("b")), Completion("r2", Verdict("b"))
    >>> w1 = Completion("w1", Verdict("a"))
    >>> [(p["chosen"], p["rejected"]) for p in rejection_pairs(s, builtin_spec("cot"), [r1, w1, r2, r1], 3).pairs]
    [('r1', 'w1'), ('r2', 'w1')]
    """
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    usable = _unique(c for c in samples if not c.empty)
    right = [c for c in usable if is_right(sample, c.verdict, match_strength)]
    wrong = [c for c in usable if not is_right(sample, c.verdict, match_strength)]
    if not right or not wrong:
        if not usable:
            return Built(skip=SKIP_EMPTY)
        return Built(skip=SKIP_NO_WRONG if right else SKIP_NO_RIGHT)
    order = sorted(
        ((i, j) for i in range(len(right)) for j in range(len(wrong))),
        key=lambda ij: ((ij[1] - ij[0]) % len(wrong), ij[0]),
    )
    key = item_key(sample)
    rows = [
        pair_row(f"{key}:{n}", sample, spec, right[i], wrong[j], JUDGE, JUDGE, BRANCH_REJECTION)
        for n, (i, j) in enumerate(order[:max_pairs])
    ]
    return Built(pairs=rows)


@dataclass
class PairStats:
    """Counts of a pair-construction run: items, pairs by branch, skips by reason, judge/critic accuracy.

    >>> st = PairStats()
    >>> st.add(Built(skip="empty trace")); st.to_dict()["skipped"]
    {'empty trace': 1}
    """

    items: int = 0
    branches: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    judged: Counter[str] = field(default_factory=Counter)

    def add(self, built: Built) -> None:
        """Count one item's outcome."""
        self.items += 1
        if built.skip:
            self.skipped[built.skip] += 1
        for p in built.pairs:
            self.branches[p["branch"]] += 1

    def judged_as(self, role: str, right: bool) -> None:
        """Count one parsed judgement of `role` (judge, critic_positive, critic_negative)."""
        self.judged[role] += 1
        self.right[role] += int(right)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (accuracy per role over the judgements it made)."""
        return {
            "items": self.items,
            "pairs_built": sum(self.branches.values()),
            "branches": dict(self.branches),
            "skipped": dict(self.skipped),
            "accuracy": {r: round(self.right[r] / n, 4) for r, n in self.judged.items() if n},
            "judgements": dict(self.judged),
        }


def length_stats(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Mean chosen and rejected trace lengths in characters (None with no rows).

    >>> length_stats([{"chosen": "abcd", "rejected": "ab"}])
    {'mean_chosen_chars': 4.0, 'mean_rejected_chars': 2.0}
    """
    n = len(rows)
    return {
        "mean_chosen_chars": round(sum(len(r["chosen"]) for r in rows) / n, 1) if n else None,
        "mean_rejected_chars": round(sum(len(r["rejected"]) for r in rows) / n, 1) if n else None,
    }


def chosen_sft_sample(row: dict[str, Any]) -> JudgeSample:
    """The chosen side of a pair as an SFT sample that `trace_for` renders back to the chosen text.

    The thinking goes to metadata["thinking"] for the shown order; the strength becomes the
    chosen verdict's (the label's own is kept as metadata["label_strength"]) so the rendered
    verdict sentence is the one the chosen side wrote. The source gets a ":chosen" suffix, which
    also keeps the synthetic task's programmatic trace from replacing the chosen one.

    Usage: samples = [chosen_sft_sample(r) for r in pairs]; write_samples("chosen_sft.jsonl", samples)
    """
    sample = JudgeSample.from_dict(row["sample"])
    verdict = row.get("chosen_verdict") or {}
    thinking = _thinking_of(row["chosen"])
    strength = sample.strength
    k = verdict.get("strength")
    if isinstance(k, int) and k in (1, 2, 3) and sample.strength is not None:
        strength = -k if sample.label == "a" else k
    meta = dict(sample.metadata)
    meta.update(
        thinking=thinking,
        thinking_order=sample.order,
        label_strength=sample.strength,
        chosen_source=row["chosen_source"],
        pair_id=row["id"],
    )
    return JudgeSample(
        id=sample.id,
        source=f"{sample.source}:chosen",
        conversation=sample.conversation,
        response_a=sample.response_a,
        response_b=sample.response_b,
        label=sample.label,
        strength=strength,
        subset=sample.subset,
        metadata=meta,
    )


def chosen_sft_samples(rows: list[dict[str, Any]]) -> list[JudgeSample]:
    """The chosen sides of `rows` as SFT samples, each (item, order, chosen text) once: judge-only
    mode may pair one right judgement with several wrong ones.

    Usage: write_samples("chosen_sft.jsonl", chosen_sft_samples(pairs))
    """
    seen: set[tuple[str, str, str]] = set()
    out = []
    for row in rows:
        sample = chosen_sft_sample(row)
        key = (sample.id, sample.order, row["chosen"])
        if key not in seen:
            seen.add(key)
            out.append(sample)
    return out


def _thinking_of(text: str) -> str:
    # The same split the parser makes (the text between the first <think> and the last </think>).
    close = text.rfind(THINK_CLOSE)
    if close < 0:
        return ""
    head = text[:close]
    start = head.find(THINK_OPEN)
    return (head[start + len(THINK_OPEN) :] if start >= 0 else head).strip()


# ---- reading pairs files -------------------------------------------------------------------


def _check_messages(value: Any) -> str:
    if not isinstance(value, list) or not value:
        return f"'prompt' must be a non-empty list of chat messages, got {type(value).__name__}"
    for k, m in enumerate(value):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            return f"'prompt'[{k}] must be a message {{role: str, content: str}}, got {m!r:.80}"
    if value[-1]["role"] != "user":
        return f"'prompt' must end with a user turn, got role {value[-1]['role']!r}"
    return ""


def _judgement_verdict(text: str) -> dict[str, Any]:
    try:
        _, choice, strength = split_judgement(text)
    except ValueError as err:
        return {"choice": None, "strength": None, "reason": str(err)}
    return {"choice": choice, "strength": strength, "reason": ""}


def thinkj_pair_row(row: dict[str, Any], index: int, source: str = "thinkj-dpo") -> dict[str, Any]:
    """A pairs row from one row of Think-J's DPO file ({system, instruction, chosen, rejected}).

    The sample is read from the instruction's blocks with the chosen verdict's label
    (`sources.thinkj_files`); its id is "<source>-<row index>" and the pair's "<id>:ab", so the
    same file always gives the same ids. The prompt is the file's system and user messages as
    written, chosen and rejected the file's texts; both sides are `imported` (the file does not
    say which model wrote them) and the branch is `thinkj_dpo_file`. KeyError/ValueError for a row
    that does not fit.

    Usage: row = thinkj_pair_row(json_rows[0], 0, "helpsteer2-judgement")
    """
    sample = dpo_row_sample(source, index, row)
    return {
        "id": item_key(sample),
        "sample": sample.to_dict(),
        "prompt": [dict(m) for m in sample.metadata["prompt_messages"]],
        "chosen": row["chosen"],
        "rejected": row["rejected"],
        "chosen_source": IMPORTED,
        "rejected_source": IMPORTED,
        "branch": BRANCH_THINKJ_FILE,
        "chosen_verdict": {"choice": sample.label, "strength": sample.abs_strength, "reason": ""},
        "rejected_verdict": _judgement_verdict(row["rejected"]),
    }


def validate_pair_row(
    row: Any, prompt: JudgeSpec | None = None, *, index: int = 0, source: str = "thinkj-dpo"
) -> dict[str, Any]:
    """Check one pairs row and return it; raise ValueError naming the problem.

    A row in Think-J's DPO layout (`instruction` and no `sample`) is first turned into a pairs
    row by `thinkj_pair_row(row, index, source)`, which is what is returned. With `prompt`, the
    row's prompt must be exactly that prompt rendered for its sample (the judge prompt the DPO
    stage trains and the eval stage evaluates with).

    >>> validate_pair_row({"id": "1"})
    Traceback (most recent call last):
    ...
    ValueError: missing 'sample'
    """
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    if "sample" not in row and "instruction" in row:
        try:
            row = thinkj_pair_row(row, index, source)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"not a Think-J DPO row {{system, instruction, chosen, rejected}}: {describe_error(e)}"
            ) from e
    for key in PAIR_KEYS:
        if key not in row:
            hint = ""
            if not {"id", "sample"} & set(row):
                hint = (
                    " (neither a judgerl pairs row {id, sample, prompt, chosen, rejected, ...} nor a "
                    "Think-J DPO row {system, instruction, chosen, rejected})"
                )
            raise ValueError(f"missing {key!r}{hint}")
    for key in ("id", "chosen", "rejected", "chosen_source", "rejected_source", "branch"):
        if not isinstance(row[key], str):
            raise ValueError(f"{key!r} must be a string, got {type(row[key]).__name__}")
    if not row["id"]:
        raise ValueError("'id' is empty")
    for key in ("chosen", "rejected"):
        if not row[key].strip():
            raise ValueError(f"{key!r} is an empty trace")
    for key in ("chosen_source", "rejected_source"):
        if row[key] not in SOURCES:
            raise ValueError(f"{key!r} must be one of {SOURCES}, got {row[key]!r}")
    if not isinstance(row["sample"], dict):
        raise ValueError(f"'sample' must be a judge-sample object, got {type(row['sample']).__name__}")
    try:
        sample = JudgeSample.from_dict(row["sample"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"'sample' is not a judge sample: {e}") from e
    problem = _check_messages(row["prompt"])
    if problem:
        raise ValueError(problem)
    if prompt is not None and row["prompt"] != judge_prompt(sample, prompt):
        written = (
            "is the prompt as Think-J's file wrote it, not"
            if row["branch"] == BRANCH_THINKJ_FILE
            else "is not"
        )
        raise ValueError(
            f"'prompt' {written} the judge prompt of judge spec {prompt.name!r} rendered for its sample; "
            "pairs must be trained under the prompt the judge is evaluated with (set check_prompt: false "
            "on the dpo stage to train under the prompt as written)"
        )
    return row


@dataclass
class PairsFile:
    """Validated pairs rows and the (row index, reason) of each row skipped."""

    rows: list[dict[str, Any]]
    skipped: list[tuple[int, str]] = field(default_factory=list)


def read_pairs(
    path: str | os.PathLike[str],
    on_bad_row: Literal["stop", "skip"] = "stop",
    prompt: JudgeSpec | None = None,
) -> PairsFile:
    """Read and validate a pairs file; a bad row raises DataError with its index, or is counted and
    skipped with `on_bad_row="skip"`.

    A .jsonl file holds one row a line (indices count non-blank lines from 0); a .json file a
    list of rows, as Think-J's DPO file is written (JSON Lines in a .json file are read too).
    Rows in Think-J's DPO layout become pairs rows (`thinkj_pair_row`, ids from the file's stem).

    Usage: pairs = read_pairs("runs/quickstart/pairs/pairs.jsonl", prompt=builtin_spec("strength"))
           pairs = read_pairs("helpsteer2-Qwen2.5-7B-Instruct-judgement.json")
    """
    if on_bad_row not in ("stop", "skip"):
        raise ValueError(f"on_bad_row must be 'stop' or 'skip', got {on_bad_row!r}")
    if not os.path.exists(path):
        raise DataError(f"{path}: no such pairs file (did the pairs stage run?)")
    source = os.path.splitext(os.path.basename(path))[0]
    out = PairsFile(rows=[])
    for index, row in enumerate(_raw_pairs(path)):
        try:
            if isinstance(row, BadRow):
                raise ValueError(row.reason)
            out.rows.append(validate_pair_row(row, prompt, index=index, source=source))
        except ValueError as e:
            if on_bad_row == "stop":
                raise DataError(f"{path}: pairs row {index}: {e}") from None
            out.skipped.append((index, str(e)))
    return out


def _raw_pairs(path: str | os.PathLike[str]) -> list[Any]:
    """The raw rows of a pairs file; a line that is not JSON becomes a `BadRow`."""
    if str(path).lower().endswith(".json"):
        return read_file_rows(path).rows
    rows: list[Any] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                rows.append(BadRow(f"not valid JSON ({e.msg})"))
    return rows
