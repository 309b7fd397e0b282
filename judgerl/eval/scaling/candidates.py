"""Candidates for judge selection: read from a file, converted from GSM8K model solutions, or sampled.

The candidates format is JSONL, one prompt per line:

    {"id": "gsm8k-0000", "prompt": "Janet's ducks ...", "candidates": ["...", "..."],
     "correctness": [false, true], "reference": "18", "metadata": {...}}

`correctness` holds 0/1 (or booleans, or partial credit in [0, 1]) per candidate; `id`, `reference`
and `metadata` are optional. A user's file is only ever read: converted or sampled candidates are
written elsewhere (the output folder), atomically, and sampling never regenerates a candidate
that a previous run already wrote (an interrupted run resumes from its partial file).

GSM8K answers are checked by the final answer, read by judgerl's one extractor
(`judgerl.data_prep.answers.extract_answer`: `#### n` when present, else math-verify's parse,
else the last number; or, with the order "first", the Demystifying seed's: the first "The answer
is n", else the first `#### n`, else the first number); two answers match by math-verify's
`verify(parse(gold), parse(pred))` when the `math-verify` package can be imported, else numerically.
lm-evaluation-harness samples files are read by `lm_eval_samples`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.logging import get_logger
from judgerl.data_prep.answers import AnswerOrder, extract_answer
from judgerl.data_prep.sources.base import BadRow, check_on_bad_row, describe_error
from judgerl.data_prep.sources.gsm8k import GSM8K_MODEL_KEYS
from judgerl.data_prep.sources.local import read_rows

log = get_logger("judgerl.scaling")


@dataclass
class PromptCandidates:
    """One prompt, its candidate answers and each candidate's correctness in [0, 1].

    >>> PromptCandidates("q1", "2+2?", ["4", "5"], [1.0, 0.0]).pool_size
    2
    """

    id: str
    prompt: str
    candidates: list[str]
    correctness: list[float]
    reference: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str):
            raise ValueError(f"prompt must be a string, got {type(self.prompt).__name__}")
        if not isinstance(self.candidates, list) or not all(isinstance(c, str) for c in self.candidates):
            raise ValueError("candidates must be a list of strings")
        if not self.candidates:
            raise ValueError("candidates is empty")
        if not isinstance(self.correctness, list) or len(self.correctness) != len(self.candidates):
            n = len(self.correctness) if isinstance(self.correctness, list) else "no"
            raise ValueError(f"correctness has {n} entries for {len(self.candidates)} candidates")
        values = []
        for c in self.correctness:
            if isinstance(c, bool):
                c = float(c)
            if not isinstance(c, int | float) or not 0.0 <= float(c) <= 1.0 or math.isnan(float(c)):
                raise ValueError(f"correctness values must be booleans or numbers in [0, 1], got {c!r}")
            values.append(float(c))
        self.correctness = values

    @property
    def pool_size(self) -> int:
        """How many candidates the prompt has."""
        return len(self.candidates)

    @property
    def key(self) -> str:
        """A hash of the prompt and its candidate texts (a cached judge score is valid for this key only)."""
        text = json.dumps([self.prompt, self.candidates], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The JSONL row of these candidates.

        Usage: row = item.to_dict()
        """
        return {
            "id": self.id,
            "prompt": self.prompt,
            "candidates": self.candidates,
            "correctness": self.correctness,
            "reference": self.reference,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, row: Any, default_id: str) -> PromptCandidates:
        """Validate a JSONL row; raises ValueError/KeyError/TypeError naming the problem.

        Usage: item = PromptCandidates.from_dict(row, default_id="row-0")
        """
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        known = {"id", "prompt", "candidates", "correctness", "reference", "metadata"}
        unknown = set(row) - known
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)} (known: {sorted(known)})")
        meta = row.get("metadata") or {}
        if not isinstance(meta, dict):
            raise ValueError("metadata must be an object")
        return cls(
            id=str(row.get("id", default_id)),
            prompt=row["prompt"],
            candidates=row["candidates"],
            correctness=row["correctness"],
            reference=str(row.get("reference") or ""),
            metadata=dict(meta),
        )


@dataclass
class CandidateLoad:
    """The prompts a candidates source gave, and every row it skipped (index, reason).

    `k_groups` is set when each k has candidates of its own (an lm-eval samples pattern with a
    `{k}` placeholder: one sampling run per k, as the Demystifying seed makes them): k -> the
    indices into `items` of that k's prompts. None means one pool per prompt serves every k.
    """

    source: str
    items: list[PromptCandidates] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    k_groups: dict[int, list[int]] | None = None

    def summary(self) -> str:
        """One line for the log.

        >>> CandidateLoad("x.jsonl").summary()
        'x.jsonl: 0 prompts, 0 candidates, 0 skipped'

        Usage: log.info(load.summary())
        """
        n = sum(p.pool_size for p in self.items)
        return f"{self.source}: {len(self.items)} prompts, {n} candidates, {len(self.skipped)} skipped"


def bad_row(out: CandidateLoad, source: str, index: int, error: Exception, on_bad_row: str) -> None:
    """A malformed row: a DataError naming the source, row and reason under "stop", else a counted,
    logged skip in `out.skipped`.

    Usage: except (KeyError, TypeError, ValueError) as e: bad_row(load, path, i, e, "skip")
    """
    reason = describe_error(error)
    if on_bad_row == "stop":
        raise DataError(
            f"{source}: row {index}: {reason} (on_bad_row: skip would skip and count it)"
        ) from error
    log.warning(f"{source}: skipping row {index}: {reason}")
    out.skipped.append((index, reason))


def rows_to_items(
    source: str,
    rows: Iterable[Any],
    row_fn: Callable[[int, Any], Any],
    on_bad_row: str,
    keep: Callable[[Any], bool] | None = None,
) -> CandidateLoad:
    """Rows -> items by `row_fn(index, row)`, a malformed row or a repeated id handled by `bad_row`;
    rows for which `keep(row)` is false are passed over (an unreadable row is always kept, so it
    is reported). Row indices are the rows' positions in `rows`.

    Usage: load = rows_to_items(path, read_rows(path), lambda i, r: PromptCandidates.from_dict(r, str(i)), "stop")
    """
    check_on_bad_row(on_bad_row)
    out = CandidateLoad(source)
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if keep is not None and not isinstance(row, BadRow) and not keep(row):
            continue
        try:
            if isinstance(row, BadRow):
                raise ValueError(row.reason)
            item = row_fn(index, row)
            if item.id in seen:
                raise ValueError(f"repeated id {item.id!r}")
        except (KeyError, TypeError, ValueError) as e:
            bad_row(out, source, index, e, on_bad_row)
            continue
        seen.add(item.id)
        out.items.append(item)
    return out


def read_candidates(path: str | os.PathLike[str], on_bad_row: str = "stop") -> CandidateLoad:
    """Read a candidates JSONL (or .json/.parquet) file; the file is never written.

    A malformed row stops the load with its index and reason, or with on_bad_row="skip" is
    counted in `skipped`. Rows without an id get "<file stem>-<row index>".

    Usage: load = read_candidates("candidates.jsonl"); load.items[0].candidates
    """
    stem = Path(path).stem
    return rows_to_items(
        str(path),
        read_rows(path),
        lambda i, row: PromptCandidates.from_dict(row, f"{stem}-{i:04d}"),
        on_bad_row,
    )


def write_candidates(
    path: str | os.PathLike[str],
    items: Iterable[PromptCandidates],
    protect: Sequence[str | os.PathLike[str]] = (),
) -> int:
    """Write candidates JSONL atomically; refuses to write over any file in `protect` (the user's inputs).

    Usage: write_candidates("runs/scaling/candidates.jsonl", items, protect=[user_file])
    """
    target = Path(path).resolve()
    for p in protect:
        if Path(p).resolve() == target:
            raise DataError(f"refusing to write candidates over the input file {p}; choose another output")
    return write_jsonl(path, (item.to_dict() for item in items))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 hex digest of a file (recorded so a report names exactly what it read).

    Usage: file_sha256("candidates.jsonl")
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- GSM8K answer checking


def _math_verify() -> Any:
    try:
        import math_verify
    except ImportError:
        return None
    return math_verify


def answer_checker() -> str:
    """Which equivalence check `answers_match` uses here: "math-verify" or "numeric".

    Usage: answer_checker()
    """
    return "math-verify" if _math_verify() is not None else "numeric"


def answers_match(pred: str | None, gold: str | None) -> bool:
    """True when two extracted answers are equal: math-verify when installed, else numerically.

    >>> answers_match("18", "18.0"), answers_match("18", "19"), answers_match(None, "1")
    (True, False, False)

    Usage: answers_match(extract_answer(completion), "18")
    """
    if pred is None or gold is None:
        return False
    mv = _math_verify()
    if mv is not None:
        try:
            return bool(mv.verify(mv.parse(gold), mv.parse(pred)))
        except Exception as e:  # math-verify raises on inputs it cannot parse: fall back to numbers
            log.debug(f"math-verify failed on {pred!r} vs {gold!r}: {e}")
    try:
        p, g = float(pred), float(gold)
    except ValueError:
        return pred.strip() == gold.strip()
    return abs(p - g) <= 1e-6 * max(1.0, abs(g))


def check_gsm8k(completion: str, reference: str, order: AnswerOrder = "last") -> bool:
    """True when a completion's final answer equals the reference's (a number or a whole GSM8K answer),
    both read in `order` ("last": judgerl's; "first": the Demystifying seed's).

    >>> check_gsm8k("3 + 4 = 7 so she has 7.\\n#### 7", "She has 7 apples.\\n#### 7")
    True
    >>> check_gsm8k("3 + 4 = 7 apples", "#### 7"), check_gsm8k("3 + 4 = 7 apples", "#### 7", order="first")
    (True, False)

    Usage: check_gsm8k(completion, row["answer"])
    """
    return answers_match(extract_answer(completion, order), extract_answer(reference, order))


# ---------------------------------------------------------------- GSM8K example model solutions


def _solutions(row: dict[str, Any]) -> list[tuple[str, bool, str]]:
    found = []
    keys = [k for k in GSM8K_MODEL_KEYS if k in row] + sorted(
        k for k in row if k not in GSM8K_MODEL_KEYS and isinstance(row[k], dict)
    )
    for key in keys:
        value = row[key]
        if not isinstance(value, dict):
            raise ValueError(f"{key} must be an object with is_correct and solution")
        ok = value.get("is_correct")
        if not isinstance(ok, bool):
            raise ValueError(f"{key}.is_correct must be true or false, got {ok!r}")
        text = value.get("solution")
        if not isinstance(text, str):
            raise ValueError(f"{key}.solution must be a string")
        found.append((key, ok, text))
    if not found:
        raise ValueError("row has no model solutions")
    return found


def gsm8k_solutions_to_candidates(path: str | os.PathLike[str], on_bad_row: str = "stop") -> CandidateLoad:
    """OpenAI's GSM8K example_model_solutions.jsonl as candidates: per question its model solutions.

    Candidates come in the file's model order (6b_finetuning, 6b_verification, 175b_finetuning,
    175b_verification); correctness is the file's `is_correct`. `info["checker_agreement"]`
    reports how often `check_gsm8k` against the ground truth agrees with `is_correct`.

    Usage: load = gsm8k_solutions_to_candidates("../shared/data/gsm8k/example_model_solutions.jsonl")
    """

    def row_fn(index: int, row: Any) -> PromptCandidates:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        question = row["question"]
        if not isinstance(question, str):
            raise ValueError("question must be a string")
        truth = row.get("ground_truth") or ""
        solutions = _solutions(row)
        return PromptCandidates(
            id=f"gsm8k-{index:04d}",
            prompt=question,
            candidates=[text for _, _, text in solutions],
            correctness=[float(ok) for _, ok, _ in solutions],
            reference=extract_answer(truth) or "",
            metadata={"models": [m for m, _, _ in solutions], "ground_truth": truth},
        )

    load = rows_to_items(str(path), read_rows(path), row_fn, on_bad_row)
    agree = total = 0
    for item in load.items:
        for text, c in zip(item.candidates, item.correctness, strict=True):
            total += 1
            agree += check_gsm8k(text, item.reference) == bool(c)
    load.info = {
        "format": "gsm8k-example-model-solutions",
        "checker": answer_checker(),
        "checker_agreement": round(agree / total, 4) if total else None,
    }
    return load


# ---------------------------------------------------------------- sampling from a policy

SOLVER_INSTRUCTION = (
    "Solve the math problem below step by step. End with the final answer on its own line, "
    "in the form '#### <number>'."
)


def render_solver_messages(question: str) -> list[dict[str, str]]:
    """The policy's prompt for one problem (one user turn).

    >>> render_solver_messages("2+2?")[0]["content"].endswith("2+2?")
    True

    Usage: messages = [render_solver_messages(p.question) for p in problems]
    """
    return [{"role": "user", "content": f"{SOLVER_INSTRUCTION}\n\n{question}"}]


@dataclass(frozen=True)
class Problem:
    """A question to sample candidates for, with its reference answer."""

    id: str
    question: str
    reference: str


def read_problems(path: str | os.PathLike[str], on_bad_row: str = "stop") -> list[Problem]:
    """Problems from a GSM8K-style file: `question` (or `prompt`) and `answer` (or `reference`).

    Usage: problems = read_problems("../shared/data/gsm8k/test.jsonl")
    """
    stem = Path(path).stem

    def row_fn(index: int, row: Any) -> Problem:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        question = row.get("question", row.get("prompt"))
        answer = row.get("answer", row.get("reference", row.get("ground_truth")))
        if not isinstance(question, str) or not isinstance(answer, str | int | float):
            raise ValueError(
                "a problem needs a string `question` (or `prompt`) and an `answer` (or `reference`)"
            )
        return Problem(str(row.get("id", f"{stem}-{index:04d}")), question, str(answer))

    load = rows_to_items(str(path), read_rows(path), row_fn, on_bad_row)
    if load.skipped:
        log.warning(f"{path}: {len(load.skipped)} malformed problem rows skipped")
    return list(load.items)


def _partial_path(out_path: Path) -> Path:
    return out_path.with_name(out_path.name + ".partial")


def _read_existing(out_path: Path) -> dict[str, PromptCandidates]:
    found: dict[str, PromptCandidates] = {}
    if out_path.exists():
        for item in read_candidates(out_path).items:
            found[item.id] = item
    partial = _partial_path(out_path)
    if partial.exists():
        with open(partial, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                    item = PromptCandidates.from_dict(row, "")
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a line cut by a crash: those prompts are sampled again
                found[item.id] = item
    return found


def sample_candidates(
    generator: Any,
    problems: Sequence[Problem],
    n: int,
    sampling: Any,
    out_path: str | os.PathLike[str],
    chunk_size: int = 64,
    progress: bool = True,
    answer_extraction: AnswerOrder = "last",
) -> CandidateLoad:
    """Sample `n` candidates per problem from a policy and check them against the references
    (answers read in the order `answer_extraction`).

    Candidates already in `out_path` (or in its partial file after an interruption) are kept and
    never regenerated; a prompt with fewer than `n` is topped up (sampling seed shifted by the
    count it has, so the new samples differ from the old). Finished chunks go to
    `<out_path>.partial` as they complete; the full file is written atomically at the end.

    Usage: sample_candidates(make_generator("hf", "Qwen/Qwen2.5-0.5B-Instruct"), read_problems(f),
           8, SamplingSpec(temperature=0.8, max_new_tokens=512), "runs/scaling/candidates.jsonl")
    """
    if n < 1:
        raise ValueError(f"n (candidates per prompt) must be >= 1, got {n}")
    out = Path(out_path)
    existing = _read_existing(out)
    for p in problems:
        old = existing.get(p.id)
        if old is not None and old.prompt != p.question:
            raise DataError(
                f"{out}: prompt {p.id!r} holds a different question than the problems file; "
                "use another output folder"
            )
    if getattr(sampling, "greedy", False) and n > 1:
        log.warning("policy sampling is greedy (temperature 0): all candidates of a prompt will be equal")
    by_missing: dict[int, list[Problem]] = {}
    for p in problems:
        have = existing[p.id].pool_size if p.id in existing else 0
        if have < n:
            by_missing.setdefault(n - have, []).append(p)
    todo = sum(len(v) for v in by_missing.values())
    if todo:
        log.info(f"sampling candidates for {todo} of {len(problems)} prompts ({len(problems) - todo} done)")
    partial = _partial_path(out)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "a", encoding="utf-8") as f:
        for missing, group in sorted(by_missing.items()):
            have = n - missing
            spec = replace(sampling, n=missing, seed=sampling.seed + have)
            for start in range(0, len(group), chunk_size):
                chunk = group[start : start + chunk_size]
                texts = generator.generate(
                    [render_solver_messages(p.question) for p in chunk],
                    spec,
                    progress=progress,
                    desc=f"sampling {missing} per prompt, {start + len(chunk)} of {len(group)}",
                )
                for p, new in zip(chunk, texts, strict=True):
                    old = existing.get(p.id)
                    cands = (old.candidates if old else []) + list(new)
                    item = PromptCandidates(
                        id=p.id,
                        prompt=p.question,
                        candidates=cands,
                        correctness=[float(check_gsm8k(c, p.reference, answer_extraction)) for c in cands],
                        reference=extract_answer(p.reference, answer_extraction) or p.reference,
                        metadata={"checker": answer_checker(), "answer_extraction": answer_extraction},
                    )
                    existing[p.id] = item
                    f.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
    rechecked = 0
    for p in problems:  # candidates checked under another answer order are checked again (no sampling)
        old = existing[p.id]
        if old.metadata.get("answer_extraction", "last") != answer_extraction:
            existing[p.id] = replace(
                old,
                correctness=[float(check_gsm8k(c, p.reference, answer_extraction)) for c in old.candidates],
                reference=extract_answer(p.reference, answer_extraction) or p.reference,
                metadata=old.metadata | {"answer_extraction": answer_extraction},
            )
            rechecked += 1
    items = [existing[p.id] for p in problems]
    if todo or rechecked or not out.exists():
        # Prompts of an earlier run that this one did not ask for are kept, after this run's.
        wanted = {p.id for p in problems}
        write_candidates(out, items + [v for k, v in existing.items() if k not in wanted])
    partial.unlink(missing_ok=True)
    load = CandidateLoad(str(out), items)
    load.info = {
        "format": "sampled",
        "checker": answer_checker(),
        "answer_extraction": answer_extraction,
        "sampled_prompts": todo,
        "rechecked_prompts": rechecked,
    }
    return load
