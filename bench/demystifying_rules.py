"""The measured effect of each Demystifying seed rule against judgerl's default, on the same inputs.

Data: OpenAI's GSM8K example_model_solutions.jsonl (1,319 test questions x 4 model solutions with
`is_correct`) and the GSM8K test split (the "#### N" references), both from ../shared/data/gsm8k.
Each section holds everything else fixed and changes one rule:

1. answer order: "last" (judgerl) vs "first" (the seed) - each order's correctness against the
   file's `is_correct` labels, as the solutions are written (they end "A: N") and with that last
   line rewritten as "The answer is N." (the ending lm-eval's gsm8k-cot prompt asks for);
2. T = 0 ties: "share" vs "first", for a judge that always ties, a self-consistency judge
   (10 x the share of the question's other solutions with the same final answer: coarse, so it
   ties often) and the noiseless oracle (whose ties never mix right and wrong);
3. judge noise: r + 10*eps*N(0, 1), clamped, on the self-consistency judge and on the oracle;
4. PRM steps: "lines" vs "equals" (the seed's sentences containing "="), steps per solution;
5. lm-eval samples read one filter's rows (judgerl) vs every row (the seed: one per doc and filter).

    OMP_NUM_THREADS=1 .venv/bin/python bench/demystifying_rules.py     # about two minutes on one loaded CPU thread

The output is markdown; docs/seeds/demystifying.md records it.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from judgerl.data_prep.answers import extract_answer
from judgerl.eval.scaling.candidates import PromptCandidates, check_gsm8k, gsm8k_solutions_to_candidates
from judgerl.eval.scaling.judges import OracleJudge, split_steps
from judgerl.eval.scaling.judges.noise import add_judge_noise
from judgerl.eval.scaling.lm_eval_samples import read_lm_eval_samples
from judgerl.eval.scaling.theory import delta, sweep

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k"
KS = [2, 3, 4]
SEED = 0
_FINAL_LINE = re.compile(r"\nA: *([^\n]*)\s*$")


def self_consistency(item: PromptCandidates) -> list[float]:
    """10 x the share of the other candidates whose final answer equals this one's."""
    answers = [extract_answer(c) for c in item.candidates]
    n = len(answers)
    return [
        10.0 * sum(a is not None and a == b for b in answers[:i] + answers[i + 1 :]) / (n - 1)
        for i, a in enumerate(answers)
    ]


def answer_order_section(items: list[PromptCandidates], gold: dict[str, str]) -> list[str]:
    rows = [
        "| solutions | order | agrees with is_correct | accuracy by the check | differ from the other order |",
        "|---|---|---:|---:|---:|",
    ]
    for label, rewrite in (("as written (end 'A: N')", False), ("last line as 'The answer is N.'", True)):
        marks: dict[str, list[bool]] = {"last": [], "first": []}
        labels: list[bool] = []
        for item in items:
            reference = gold[item.prompt]
            for text, c in zip(item.candidates, item.correctness, strict=True):
                if rewrite:
                    text = _FINAL_LINE.sub(lambda m: f"\nThe answer is {m.group(1)}.", text)
                labels.append(bool(c))
                for order in marks:
                    marks[order].append(check_gsm8k(text, reference, order))  # type: ignore[arg-type]
        differ = sum(a != b for a, b in zip(marks["last"], marks["first"], strict=True))
        for order, got in marks.items():
            agree = sum(g == y for g, y in zip(got, labels, strict=True)) / len(labels)
            rows.append(
                f"| {label} | {order} | {agree:.4f} | {sum(got) / len(got):.4f} | {differ} of {len(got)} |"
            )
    same = sum(extract_answer(r, "first") == extract_answer(r) for r in gold.values())
    rows.append(f"\nGSM8K references: both orders read the same answer in {same} of {len(gold)}.")
    return rows


def tie_section(items: list[PromptCandidates], judges: dict[str, list[list[float]]]) -> list[str]:
    correct = [i.correctness for i in items]
    ids = [i.id for i in items]
    rows = [
        "| judge | tie rule | " + " | ".join(f"k={k}" for k in KS) + " |",
        "|---|---|" + "---:|" * len(KS),
    ]
    for name, rewards in judges.items():
        for rule in ("share", "first"):
            pts = sweep(name, rewards, correct, ids, KS, [0.0], 32, SEED, rule)  # type: ignore[arg-type]
            rows.append(f"| {name} | {rule} | " + " | ".join(f"{p.mean:.4f}" for p in pts) + " |")
    models = items[0].metadata["models"]
    acc = [sum(i.correctness[m] for i in items) / len(items) for m in range(len(models))]
    rows.append(
        "\nAccuracy by candidate position: "
        + ", ".join(f"{m} {a:.3f}" for m, a in zip(models, acc, strict=True))
    )
    return rows


def noise_section(items: list[PromptCandidates], judges: dict[str, list[list[float]]]) -> list[str]:
    correct = [i.correctness for i in items]
    levels = [0.0, 0.05, 0.1, 0.25, 0.5, 1.0]
    rows = ["| judge | " + " | ".join(f"eps={e:g}" for e in levels) + " |", "|---|" + "---:|" * len(levels)]
    for name, rewards in judges.items():
        cells = [delta(add_judge_noise(rewards, items, e, SEED, name), correct, 0.0).mean for e in levels]
        rows.append(f"| {name} + noise | " + " | ".join(f"{d:.4f}" for d in cells) + " |")
    prompts, cands = [i.prompt for i in items], [i.candidates for i in items]
    oracle = []
    for e in levels:
        scored = OracleJudge(items, e, seed=SEED).score_batch(prompts, cands)
        oracle.append(delta([r.scores for r in scored], correct, 0.0).mean)
    rows.append("| oracle:EPS | " + " | ".join(f"{d:.4f}" for d in oracle) + " |")
    return rows


def steps_section(items: list[PromptCandidates], gold: dict[str, str]) -> list[str]:
    rows = [
        "| texts | n | mean steps (lines) | mean steps (equals) | median lines / equals | counts differ | equals fewer |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, texts in (
        ("model solutions", [c for i in items for c in i.candidates]),
        ("GSM8K references", list(gold.values())),
    ):
        lines = [len(split_steps(t)) for t in texts]
        equals = [len(split_steps(t, "equals")) for t in texts]
        differ = sum(a != b for a, b in zip(lines, equals, strict=True))
        fewer = sum(b < a for a, b in zip(lines, equals, strict=True))
        rows.append(
            f"| {label} | {len(texts)} | {statistics.mean(lines):.2f} | {statistics.mean(equals):.2f} | "
            f"{statistics.median(lines):g} / {statistics.median(equals):g} | {differ / len(texts):.1%} | {fewer / len(texts):.1%} |"
        )
    return rows


def filter_rows_section(
    items: list[PromptCandidates], gold: dict[str, str], rewards: list[list[float]]
) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples_gsm8k_cot_self_consistency_2025-01-01T00-00-00.000000.jsonl"
        with open(path, "w") as f:
            for name in ("score-first", "maj@all"):
                for n, item in enumerate(items):
                    doc = {"question": item.prompt, "answer": gold[item.prompt]}
                    f.write(
                        json.dumps({"doc_id": n, "doc": doc, "resps": [item.candidates], "filter": name})
                        + "\n"
                    )
        load = read_lm_eval_samples(str(path))
    by_text = {i.prompt: r for i, r in zip(items, rewards, strict=True)}
    correct = [i.correctness for i in load.items]
    ours = delta([by_text[i.prompt] for i in load.items], correct, 0.0)
    seed = delta(
        [by_text[i.prompt] for i in load.items] * 2, correct * 2, 0.0
    )  # every row, as the seed reads
    return [
        "| reading | prompts | delta (self-consistency, k=4, T=0) | std | sem |",
        "|---|---:|---:|---:|---:|",
        f"| one filter's rows (judgerl) | {ours.n_prompts} | {ours.mean:.4f} | {ours.std:.4f} | {ours.sem:.4f} |",
        f"| every row (the seed) | {seed.n_prompts} | {seed.mean:.4f} | {seed.std:.4f} | {seed.sem:.4f} |",
    ]


def main() -> None:
    items = gsm8k_solutions_to_candidates(DATA / "example_model_solutions.jsonl").items
    with open(DATA / "test.jsonl", encoding="utf-8") as f:
        gold = {row["question"]: row["answer"] for row in map(json.loads, f)}
    missing = [i.id for i in items if i.prompt not in gold]
    if missing:
        raise SystemExit(f"{len(missing)} questions have no GSM8K test reference, e.g. {missing[:3]}")
    consistency = [self_consistency(i) for i in items]
    judges = {
        "always ties (5)": [[5.0] * i.pool_size for i in items],
        "self-consistency": consistency,
        "oracle:0": [[10.0 * c for c in i.correctness] for i in items],
    }
    distinct = Counter(len({extract_answer(c) for c in i.candidates}) for i in items)
    print(
        f"{len(items)} questions x {items[0].pool_size} solutions; questions by distinct final answers: {dict(sorted(distinct.items()))}\n"
    )
    print("## 1. Answer order\n\n" + "\n".join(answer_order_section(items, gold)) + "\n")
    print("## 2. T = 0 ties (delta, lower is better)\n\n" + "\n".join(tie_section(items, judges)) + "\n")
    noisy = {"self-consistency": consistency}
    print(
        "## 3. Judge noise (delta at k = 4, T = 0, ties shared)\n\n"
        + "\n".join(noise_section(items, noisy))
        + "\n"
    )
    print("## 4. PRM steps\n\n" + "\n".join(steps_section(items, gold)) + "\n")
    print("## 5. lm-eval rows\n\n" + "\n".join(filter_rows_section(items, gold, consistency)))


if __name__ == "__main__":
    main()
