"""Judge samples into policy-training rows: the question as a chat turn, the preferred response as reference.

A judge sample already holds what a policy needs: the conversation (the question) and, in its
preferred response, a reference answer. For the built-in addition task that is "The sum is 85.",
the format a policy is taught to answer in, so the prep stage's train.jsonl / test.jsonl serve
policy SFT, policy GRPO (the reference goes to the served judge) and policy evaluation alike.

    rows = policy_rows(read_samples("runs/quickstart/data/train.jsonl")).rows
    rows[0]  # {"id": ..., "prompt": [{"role": "user", "content": "What is 47+38?"}],
             #  "reference": "The sum is 85.", "answer": "85"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.data_prep.answers import answers_equal, extract_answer


@dataclass
class PolicyRows:
    """Policy rows plus the samples skipped, with why."""

    rows: list[dict[str, Any]]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def preferred_response(sample: JudgeSample) -> str:
    """The response the sample's label prefers (the reference answer for a policy).

    >>> from judgerl.data_prep.synthetic import make_synthetic_splits
    >>> s = make_synthetic_splits(1, 0, seed=1).train[0]
    >>> preferred_response(s) == f"The sum is {s.metadata['x'] + s.metadata['y']}."
    True
    """
    return sample.response_a if sample.label == "a" else sample.response_b


def rejected_response(sample: JudgeSample) -> str:
    """The response the sample's label does not prefer (a wrong answer for the addition task).

    >>> from judgerl.data_prep.synthetic import make_synthetic_splits
    >>> s = make_synthetic_splits(1, 0, seed=1).train[0]
    >>> rejected_response(s) != preferred_response(s)
    True
    """
    return sample.response_b if sample.label == "a" else sample.response_a


def policy_rows(samples: list[JudgeSample], dedupe: bool = True) -> PolicyRows:
    """One policy row per question: prompt (chat messages), reference (preferred response), answer, rejected.

    `answer` is the reference's final answer (`answers.extract_answer`; None when it has none); exact-match scoring
    uses it. With `dedupe`, a question asked twice (e.g. both answer orders) keeps its first row.

    >>> from judgerl.data_prep.synthetic import make_synthetic_splits
    >>> rows = policy_rows(make_synthetic_splits(3, 0, seed=1).train).rows
    >>> len(rows), rows[0]["prompt"][-1]["role"], rows[0]["reference"].startswith("The sum is ")
    (3, 'user', True)
    >>> rows[0]["rejected"] != rows[0]["reference"]
    True
    """
    out = PolicyRows(rows=[])
    seen: set[str] = set()
    for s in samples:
        reference = preferred_response(s).strip()
        if not s.conversation or s.conversation[-1].get("role") != "user":
            out.skipped.append((s.id, "the conversation does not end with a user turn"))
            continue
        if not reference:
            out.skipped.append((s.id, f"preferred response ({s.label}) is empty"))
            continue
        key = "\n".join(f"{m.get('role')}:{m.get('content')}" for m in s.conversation)
        if dedupe and key in seen:
            out.skipped.append((s.id, "question already seen"))
            continue
        seen.add(key)
        out.rows.append(
            {
                "id": s.id,
                "prompt": [dict(m) for m in s.conversation],
                "reference": reference,
                "answer": extract_answer(reference),
                "rejected": rejected_response(s).strip(),
            }
        )
    return out


def policy_sft_rows(rows: list[dict[str, Any]], with_rejected: bool = False) -> list[dict[str, Any]]:
    """Prompt-completion rows (TRL SFT) teaching the policy to write the reference answer.

    `with_rejected` also teaches each question's rejected response (when it has a non-empty one):
    the policy then writes the right answer about half the time when sampled, a policy with room
    for RL to sharpen (the `sft` stage's `target: policy_mixed`).

    >>> rows = [{"prompt": [{"role": "user", "content": "2+2?"}], "reference": "4", "rejected": "5"}]
    >>> [r["completion"][0]["content"] for r in policy_sft_rows(rows)], len(policy_sft_rows(rows, True))
    (['4'], 2)
    """
    out = []
    for r in rows:
        answers = [r["reference"]] + ([r["rejected"]] if with_rejected and r.get("rejected") else [])
        out += [{"prompt": r["prompt"], "completion": [{"role": "assistant", "content": a}]} for a in answers]
    return out


def answer_correct(completion: str, row: dict[str, Any]) -> bool:
    """The completion's final answer equals the row's answer by value (`answers.answers_equal`), or,
    with no answer, the stripped completion equals the reference.

    >>> row = {"reference": "The sum is 85.", "answer": "85"}
    >>> answer_correct("The sum is 85.", row), answer_correct("The sum is 58.", row), answer_correct("", row)
    (True, False, False)
    """
    if row.get("answer") is None:
        return completion.strip() == str(row["reference"]).strip()
    return answers_equal(extract_answer(completion), str(row["answer"]))
