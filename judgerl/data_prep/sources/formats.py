"""The released formats judgerl reads without a column mapping: detection from a file's columns, and reading.

`FORMATS` lists them in detection order (a more specific format first, where two share columns);
`detect_format(rows)` names the first whose columns (and, where columns clash, cell types) the
first readable row has, and `load_format(name, file, rows, options)` turns the rows into judge
samples. JudgeBench and RM-Bench are read by their own loaders (named lazily, as the source
registry names them); every other format by a row function under `convert_rows`, so bad rows are
counted and reported by index the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.core.registry import resolve_dotted
from judgerl.data_prep.sources.base import BadRow, LoadResult, OnBadRow, RowFn, convert_rows
from judgerl.data_prep.sources.columns import judgerl_row_fn
from judgerl.data_prep.sources.gsm8k import load_gsm8k_solutions
from judgerl.data_prep.sources.llmbar import SOURCE as LLMBAR
from judgerl.data_prep.sources.llmbar import llmbar_row_fn, llmbar_subset
from judgerl.data_prep.sources.presets import PRESETS
from judgerl.data_prep.sources.rewardbench import load_rewardbench2_pairs, v1_row_fn
from judgerl.data_prep.sources.thinkj import MARKER, thinkj_alpaca
from judgerl.data_prep.sources.thinkj_files import INFER_COLUMNS, is_thinkj_dpo_row, thinkj_dpo, thinkj_infer
from judgerl.data_prep.sources.trl import trl_conversational, trl_conversational_implicit, trl_standard
from judgerl.data_prep.sources.verl_rows import verl_rows

AUTO = "auto"
PREFERENCE_SWAP_SEED = 0  # chosen/rejected formats place the chosen side by this seeded coin by default


@dataclass(frozen=True)
class FormatOptions:
    """How a file in a known format is read: source name, bad-row policy, swap seed, the folder it came from.

    `swap_seed` None with `swap_seed_given` False means "the format's default".
    """

    on_bad_row: OnBadRow = "stop"
    source_name: str | None = None
    swap_seed: int | None = None
    swap_seed_given: bool = False
    root: Path | None = None


@dataclass(frozen=True)
class Format:
    """One known format: a one-line description, how it is detected, how a file of it is read."""

    name: str
    summary: str
    detect: Callable[[set[str], dict[str, Any]], bool]
    load: Callable[[Path, list[Any], FormatOptions], LoadResult]


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _has(*columns: str) -> Callable[[set[str], dict[str, Any]], bool]:
    needed = set(columns)
    return lambda cols, row: needed <= cols


def _row_format(
    factory: Callable[[str, int | None], RowFn], source: str | None = None, swap_seed: int | None = None
) -> Callable[[Path, list[Any], FormatOptions], LoadResult]:
    """A format read by a row-function factory; `source` None names the samples after the file."""

    def load(file: Path, rows: list[Any], opts: FormatOptions) -> LoadResult:
        name = opts.source_name or source or file.stem
        swap = opts.swap_seed if opts.swap_seed_given else swap_seed
        return convert_rows(name, rows, factory(name, swap), opts.on_bad_row)

    return load


def _lazy_loader(target: str) -> Callable[[Path, list[Any], FormatOptions], LoadResult]:
    """A format read by a file loader `load(path, on_bad_row=...)` named as "module:attr"."""

    def load(file: Path, rows: list[Any], opts: FormatOptions) -> LoadResult:
        loader = resolve_dotted(target)
        return loader(str(file), on_bad_row=opts.on_bad_row)  # type: ignore[operator]

    return load


def _load_llmbar(file: Path, rows: list[Any], opts: FormatOptions) -> LoadResult:
    subset = llmbar_subset(file, opts.root)
    where = str(file.relative_to(opts.root)) if opts.root is not None else file.name
    result = LoadResult(LLMBAR)
    result.extend(
        convert_rows(f"{LLMBAR}/{where}", rows, llmbar_row_fn(subset, where), opts.on_bad_row), where
    )
    return result


def _load_rewardbench(file: Path, rows: list[Any], opts: FormatOptions) -> LoadResult:
    name = opts.source_name or "reward-bench"
    return convert_rows(name, rows, v1_row_fn(name), opts.on_bad_row)


def _load_rewardbench2(file: Path, rows: list[Any], opts: FormatOptions) -> LoadResult:
    return load_rewardbench2_pairs(
        file, on_bad_row=opts.on_bad_row, source_name=opts.source_name or "reward-bench-2"
    )


def _load_gsm8k(file: Path, rows: list[Any], opts: FormatOptions) -> LoadResult:
    return load_gsm8k_solutions(file, on_bad_row=opts.on_bad_row)


def _preference(cols: set[str], row: dict[str, Any], prompt: str | None, messages: bool) -> bool:
    if not {"chosen", "rejected"} <= cols:
        return False
    if prompt == "absent" and "prompt" in cols:
        return False
    if prompt == "text" and not isinstance(row.get("prompt"), str):
        return False
    if prompt == "messages" and not _is_messages(row.get("prompt")):
        return False
    chosen = row.get("chosen")
    return _is_messages(chosen) if messages else isinstance(chosen, str)


def _hh(cols: set[str], row: dict[str, Any]) -> bool:
    chosen = row.get("chosen")
    return "prompt" not in cols and isinstance(chosen, str) and "\n\nHuman:" in chosen


def _thinkj(cols: set[str], row: dict[str, Any]) -> bool:
    instruction = row.get("instruction")
    return {"instruction", "output"} <= cols and isinstance(instruction, str) and MARKER in instruction


def _verl(cols: set[str], row: dict[str, Any]) -> bool:
    reward_model = row.get("reward_model")
    return (
        {"prompt", "reward_model"} <= cols
        and _is_messages(row.get("prompt"))
        and isinstance(reward_model, dict)
        and "ground_truth" in reward_model
    )


def _gsm8k(cols: set[str], row: dict[str, Any]) -> bool:
    return {"question", "ground_truth"} <= cols and any(
        isinstance(v, dict) and "is_correct" in v for v in row.values()
    )


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "judgerl",
            "judgerl's own rows: id, conversation, response_a, response_b, label (JudgeSample.to_dict)",
            # two of its own field names are enough: a row missing the others is a bad judgerl row
            lambda cols, row: len(cols & {"conversation", "response_a", "response_b"}) >= 2,
            _row_format(judgerl_row_fn),
        ),
        Format(
            "llmbar",
            "LLMBar: input, output_1, output_2, label 1|2 (the Dataset/ tree, Natural, Adversarial, ...)",
            _has("input", "output_1", "output_2", "label"),
            _load_llmbar,
        ),
        Format(
            "judgebench",
            "JudgeBench: pair_id, original_id, source, question, response_model, response_A, response_B, "
            "label A>B|B>A",
            _has("pair_id", "question", "response_A", "response_B", "label"),
            _lazy_loader("judgerl.data_prep.sources.judgebench:load_judgebench"),
        ),
        Format(
            "rmbench",
            "RM-Bench: id, prompt, chosen and rejected (three responses each), domain",
            lambda cols, row: (
                {"id", "prompt", "chosen", "rejected", "domain"} <= cols and _is_text_list(row.get("chosen"))
            ),
            _lazy_loader("judgerl.data_prep.sources.rmbench:load_rmbench"),
        ),
        Format(
            "rewardbench2",
            "RewardBench 2: id, prompt, chosen and rejected lists, num_correct, subset (every correct-incorrect pair)",
            lambda cols, row: (
                {"id", "prompt", "chosen", "rejected", "num_correct", "subset"} <= cols
                and _is_text_list(row.get("chosen"))
            ),
            _load_rewardbench2,
        ),
        Format(
            "rewardbench",
            "RewardBench v1: prompt, chosen, rejected, subset, id (chosen_model, rejected_model)",
            lambda cols, row: (
                {"id", "prompt", "chosen", "rejected", "subset"} <= cols
                and isinstance(row.get("chosen"), str)
            ),
            _load_rewardbench,
        ),
        Format(
            "helpsteer2",
            "HelpSteer2-Preference: prompt, response_1, response_2, preference_strength -3..3",
            _has("prompt", "response_1", "response_2", "preference_strength"),
            _row_format(PRESETS["helpsteer2-preference"]),
        ),
        Format(
            "hh-rlhf-strength",
            "hh-rlhf-strength-cleaned: chosen, rejected (hh-rlhf dialogues), 'mean preference difference'",
            _has("chosen", "rejected", "mean preference difference"),
            _row_format(PRESETS["hh-rlhf-strength"], swap_seed=PREFERENCE_SWAP_SEED),
        ),
        Format(
            "thinkj-alpaca",
            "Think-J alpaca: instruction (a rendered judge prompt), output (<think>...</think> + verdict)",
            _thinkj,
            _row_format(thinkj_alpaca),
        ),
        Format(
            "thinkj-dpo",
            "Think-J DPO pairs (create_judgement_pairs): system, instruction (a rendered judge prompt), "
            "chosen and rejected judgements",
            lambda cols, row: is_thinkj_dpo_row(row),
            _row_format(thinkj_dpo),
        ),
        Format(
            "thinkj-infer",
            "Think-J inference input (*-infer.json): instruction (the question), response1, response2, better 1|2",
            _has(*INFER_COLUMNS),
            _row_format(thinkj_infer),
        ),
        Format(
            "verl",
            "verl RL rows (Think-J's data_preprocess/skywork.py, judgerl's verl export): data_source, "
            "prompt messages, ability, reward_model {style, ground_truth}, extra_info",
            _verl,
            _row_format(verl_rows),
        ),
        Format(
            "gsm8k-solutions",
            "GSM8K example_model_solutions: question, ground_truth, {is_correct, solution} per model",
            _gsm8k,
            _load_gsm8k,
        ),
        Format(
            "trl-standard",
            "TRL standard preference: prompt, chosen, rejected strings",
            lambda cols, row: _preference(cols, row, "text", messages=False),
            _row_format(trl_standard, swap_seed=PREFERENCE_SWAP_SEED),
        ),
        Format(
            "trl-conversational",
            "TRL conversational preference: prompt messages, chosen and rejected assistant messages",
            lambda cols, row: _preference(cols, row, "messages", messages=True),
            _row_format(trl_conversational, swap_seed=PREFERENCE_SWAP_SEED),
        ),
        Format(
            "skywork",
            "Skywork-Reward-Preference: chosen and rejected dialogues (message lists), source (the subset)",
            lambda cols, row: "source" in cols and _preference(cols, row, "absent", messages=True),
            _row_format(PRESETS["skywork-preference"], swap_seed=PREFERENCE_SWAP_SEED),
        ),
        Format(
            "trl-conversational-implicit",
            "TRL conversational implicit-prompt preference: chosen and rejected dialogues (message lists)",
            lambda cols, row: _preference(cols, row, "absent", messages=True),
            _row_format(trl_conversational_implicit, swap_seed=PREFERENCE_SWAP_SEED),
        ),
        Format(
            "hh-rlhf",
            "Anthropic hh-rlhf: chosen, rejected strings of '\\n\\nHuman: ...' / '\\n\\nAssistant: ...' turns",
            _hh,
            _row_format(PRESETS["hh-rlhf"], swap_seed=PREFERENCE_SWAP_SEED),
        ),
    )
}


def format_names() -> list[str]:
    """The known format names, in detection order. Usage: "--format " + "|".join(format_names())."""
    return list(FORMATS)


def detect_format(rows: list[Any], where: str = "data") -> str:
    """The name of the first known format the first readable row fits; DataError naming its columns if none.

    Usage: detect_format(read_rows("pairs.jsonl"), "pairs.jsonl")
    """
    first = next((r for r in rows if not isinstance(r, BadRow)), None)
    if first is None:
        raise DataError(f"{where}: no readable row to tell its format from")
    if not isinstance(first, dict):
        raise DataError(f"{where}: rows must be objects, the first readable one is a {type(first).__name__}")
    columns = set(first)
    for fmt in FORMATS.values():
        if fmt.detect(columns, first):
            return fmt.name
    raise DataError(
        f"{where}: cannot tell the format from its columns {sorted(columns)}; known formats: "
        f"{', '.join(FORMATS)}. Name one (format: NAME, or --format NAME) or map the columns "
        "(columns: {question: ..., response_a: ..., response_b: ..., label: ...})"
    )


def load_format(name: str, file: Path, rows: list[Any], options: FormatOptions) -> LoadResult:
    """Read `rows` (from `file`) as format `name`. Usage: load_format("llmbar", path, rows, FormatOptions())."""
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; known formats: {', '.join(FORMATS)}")
    return FORMATS[name].load(file, rows, options)
