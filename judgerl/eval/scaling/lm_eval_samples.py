"""lm-evaluation-harness samples files as candidates, read without a mapping.

`lm_eval --log_samples` writes `samples_<task>_<date>.jsonl` with one line per doc AND filter:

    {"doc_id": 0, "doc": {"question": "...", "answer": "... #### 18"}, "target": "18",
     "arguments": {...}, "resps": [["gen 1", "gen 2", ...]], "filtered_resps": ["18"],
     "filter": "score-first", "metrics": ["exact_match"], "doc_hash": "...", "exact_match": 1.0, ...}

A task run with `repeats: k` (gsm8k_cot_self_consistency, as the Demystifying seed runs it) holds
its k generations in `resps[0]`. Every filter's line repeats the same raw generations (a filter
only changes `filtered_resps`), so one filter's lines are read: the one named (`lm_eval_filter`),
else each file's first (lm-eval writes a task's filters in its YAML order). A name the file does
not hold is an error that lists the filters it does hold.

Per doc: the prompt is `doc["question"]`, the candidates are the generations, the reference is
`doc["answer"]` (GSM8K's worked answer; the row's `target` when the doc has none), and each
generation's correctness is the GSM8K check (`candidates.check_gsm8k`) in the chosen answer order.

The pattern is a path or a glob (`**` recurses). With a `{k}` placeholder each k of the sweep
reads its own files (`out/run_k{k}/**/samples_*.jsonl`: one lm-eval run per k, as the seed
makes them); without one, one pool per doc is subsampled for every k. Docs are identified as
`<task>/<doc_id>` (`k<k>/<task>/<doc_id>` under a placeholder), so two runs of one task matched by
one pattern are reported as repeated docs, never silently counted twice.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.data_prep.answers import AnswerOrder, extract_answer
from judgerl.data_prep.sources.local import read_rows
from judgerl.eval.scaling.candidates import (
    CandidateLoad,
    PromptCandidates,
    answer_checker,
    answers_match,
    bad_row,
    file_sha256,
    rows_to_items,
)

LM_EVAL_PREFIX = "lm-eval:"
K_PLACEHOLDER = "{k}"
DETECT_FIELDS = frozenset({"doc_id", "doc", "resps"})
NO_FILTER = "none"  # lm-eval's name for the rows of a task without a filter list
_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d.\-]+)$")


def is_samples_pattern(candidates: str) -> bool:
    """True when a candidates string is a glob or holds the `{k}` placeholder (an lm-eval pattern).

    >>> is_samples_pattern("out/k{k}/**/samples_*.jsonl"), is_samples_pattern("candidates.jsonl")
    (True, False)

    Usage: if is_samples_pattern(stage.candidates): ...
    """
    return K_PLACEHOLDER in candidates or glob.has_magic(candidates)


def looks_like_samples_file(path: str | Path) -> bool:
    """True when a .jsonl file's first line is an lm-eval sample (it has doc_id, doc and resps).

    Only that line is read. Usage: if looks_like_samples_file(path): load = read_lm_eval_samples(str(path))
    """
    file = Path(path)
    if file.suffix.lower() != ".jsonl" or not file.is_file():
        return False
    with open(file, "rb") as f:
        for raw in f:
            if raw.strip():
                try:
                    row = json.loads(raw.decode("utf-8-sig"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    return False
                return isinstance(row, dict) and set(row) >= DETECT_FIELDS
    return False


def task_of(file: Path) -> str:
    """The task of a samples file, from lm-eval's name `samples_<task>_<date>.jsonl` (else the stem).

    >>> task_of(Path("samples_gsm8k_cot_self_consistency_2025-01-02T03-04-05.123456.jsonl"))
    'gsm8k_cot_self_consistency'

    Usage: task = task_of(path)
    """
    found = _SAMPLES_NAME.match(file.stem)
    return found.group("task") if found else file.stem


def samples_files(pattern: str, k: int | None = None) -> list[Path]:
    """The files a pattern names (sorted), `{k}` replaced by k; none is a DataError naming the pattern.

    Usage: files = samples_files("out/gsm8k_k{k}/**/samples_*.jsonl", k=4)
    """
    expanded = pattern.replace(K_PLACEHOLDER, str(k)) if k is not None else pattern
    files = sorted(Path(p) for p in glob.glob(expanded, recursive=True) if Path(p).is_file())
    if not files:
        at = f" (k = {k})" if k is not None else ""
        raise DataError(f"scaling: no lm-eval samples file matches {expanded!r}{at}")
    return files


def generations(resps: Any) -> list[str]:
    """The generations of a row's `resps`: one request's list (`[[g1, g2, ...]]`) or a flat list.

    >>> generations([["a", "b"]]), generations(["a"])
    (['a', 'b'], ['a'])

    Usage: gens = generations(row["resps"])
    """
    if not isinstance(resps, list) or not resps:
        raise ValueError("resps must be a non-empty list")
    if all(isinstance(r, list) for r in resps):
        if len(resps) != 1:
            raise ValueError(
                f"resps holds {len(resps)} requests; expected one generate_until request per doc "
                "with its generations inside"
            )
        resps = resps[0]
    if not resps or not all(isinstance(g, str) for g in resps):
        raise ValueError("resps must hold the generations as strings")
    return list(resps)


def _filters(rows: Sequence[Any]) -> list[str]:
    found: dict[str, None] = {}
    for row in rows:
        if isinstance(row, dict):
            found.setdefault(str(row.get("filter", NO_FILTER)), None)
    return list(found)


def _item(index: int, row: Any, where: dict[str, Any], order: AnswerOrder, prefix: str) -> PromptCandidates:
    if not isinstance(row, dict):
        raise TypeError(f"row must be an object, got {type(row).__name__}")
    doc = row["doc"]
    if not isinstance(doc, dict):
        raise ValueError("doc must be an object")
    question = doc.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"doc has no string 'question' (its fields: {sorted(doc)[:12]})")
    reference = doc.get("answer", row.get("target"))
    if isinstance(reference, int | float) and not isinstance(reference, bool):
        reference = str(reference)
    if not isinstance(reference, str) or not reference.strip():
        raise ValueError("no reference: the doc has no 'answer' and the row no 'target'")
    gold = extract_answer(reference, order)
    if gold is None:
        raise ValueError(f"the reference {reference[-60:]!r} holds no answer")
    gens = generations(row["resps"])
    doc_id = row["doc_id"]
    if not isinstance(doc_id, int | str) or isinstance(doc_id, bool):
        raise ValueError(f"doc_id must be a number or a string, got {doc_id!r}")
    return PromptCandidates(
        id=f"{prefix}{where['task']}/{doc_id}",
        prompt=question,
        candidates=gens,
        correctness=[float(answers_match(extract_answer(g, order), gold)) for g in gens],
        reference=gold,
        metadata=where
        | {
            "doc_id": doc_id,
            "row": index,
            "target": row.get("target"),
            "filtered_resps": row.get("filtered_resps"),
        },
    )


def _read_file(
    file: Path, want: str | None, order: AnswerOrder, on_bad_row: str, prefix: str, extra: dict[str, Any]
) -> tuple[CandidateLoad, dict[str, Any]]:
    rows = read_rows(file)
    found = _filters(rows)
    chosen = want if want is not None else (found[0] if found else NO_FILTER)
    if found and chosen not in found:
        raise DataError(
            f"{file}: no rows of filter {chosen!r}; filters found: {found} "
            "(choose one with lm_eval_filter / --lm-eval-filter)"
        )
    where = {"file": str(file), "task": task_of(file), "filter": chosen} | extra
    load = rows_to_items(
        str(file),
        rows,
        lambda i, row: _item(i, row, where, order, prefix),
        on_bad_row,
        keep=lambda row: not isinstance(row, dict) or str(row.get("filter", NO_FILTER)) == chosen,
    )
    record = {
        "task": where["task"],
        "filter": chosen,
        "filters_found": found,
        "docs": len(load.items),
        "sha256": file_sha256(file),
    }
    return load, record


def read_lm_eval_samples(
    pattern: str,
    ks: Sequence[int] | None = None,
    filter: str | None = None,
    answer_extraction: AnswerOrder = "last",
    on_bad_row: str = "stop",
    max_prompts: int | None = None,
) -> CandidateLoad:
    """Candidates from lm-eval samples files (see the module docstring); the files are only read.

    With `{k}` in the pattern, `ks` are the k to read, each from its own files, and the load's
    `k_groups` maps each k to its prompts; `max_prompts` keeps the first N docs (of each k).
    A malformed row, or a doc that two matched files both hold, stops the load with the file,
    the row and the reason, or is skipped and counted with on_bad_row="skip".

    Usage: load = read_lm_eval_samples("out/gsm8k_k{k}/**/samples_*.jsonl", ks=[4, 8], filter="score-first")
    """
    body = pattern.removeprefix(LM_EVAL_PREFIX)
    grouped = K_PLACEHOLDER in body
    if grouped and not ks:
        raise DataError(
            f"scaling: the pattern {body!r} has a {K_PLACEHOLDER} placeholder; give the k to read"
        )
    out = CandidateLoad(body)
    out.k_groups = {} if grouped else None
    files_info: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for k in list(ks or []) if grouped else [None]:
        prefix, extra = (f"k{k}/", {"k": k}) if k is not None else ("", {})
        group: list[int] = []
        for file in samples_files(body, k):
            part, record = _read_file(file, filter, answer_extraction, on_bad_row, prefix, extra)
            files_info[str(file)] = record | extra
            out.skipped += [(i, f"{file}: {reason}") for i, reason in part.skipped]
            for item in part.items:
                if item.id in seen:
                    error = ValueError(f"doc {item.id!r} is also in {seen[item.id]} (two runs of one task?)")
                    bad_row(out, str(file), int(item.metadata["row"]), error, on_bad_row)
                    continue
                seen[item.id] = str(file)
                if max_prompts is None or len(group) < max_prompts:
                    group.append(len(out.items))
                    out.items.append(item)
        if out.k_groups is not None and k is not None:
            out.k_groups[k] = group
    out.info = {
        "format": "lm-eval-samples",
        "pattern": body,
        "filter": filter or "each file's first",
        "answer_extraction": answer_extraction,
        "checker": answer_checker(),
        "files": files_info,
    }
    return out
