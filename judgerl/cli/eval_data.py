"""The data side of `judgerl eval`: --data specs into sources, loading with counted skips, lengths checked.

`judgerl eval --data` reads files through the same source code as the `prep` stage (format
detected, or forced with --format; bad rows counted and reported with their index under
--on-bad-row; a repeated id is a bad row), then checks every prompt against the model's context
before anything is generated. What is judged is written to `inputs.jsonl` and how it was read
(format, rows, skips) to `data.json` in the output folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from judgerl.core.errors import JudgeRLError
from judgerl.core.jsonl import read_json, write_json
from judgerl.core.samples import write_samples
from judgerl.core.types import JudgeSample
from judgerl.data_prep.prompt_lengths import TokenCounter, check_prompt_lengths
from judgerl.judge_spec.spec import JudgeSpec

# KIND:PATH prefixes of --data; a bare path is a local file or folder in a detected format
PATH_KINDS: tuple[str, ...] = (
    "llmbar",
    "gsm8k",
    "local",
    "judgebench",
    "rmbench",
    "rewardbench",
    "rewardbench2",
)
NO_LIMIT = 10**12  # transformers writes int(1e30) as model_max_length when a tokenizer states none
_SHOWN_SKIPS = 5


def eval_source(spec: str, format: str | None = None, on_bad_row: str | None = None) -> dict[str, Any]:
    """The source mapping of a --data spec: synthetic[:N_TEST], KIND:PATH (KIND in PATH_KINDS), or a path.

    A bare path (file or folder) is a `local` source whose format is detected unless `format`
    names one; `on_bad_row` is passed to every source but synthetic.

    Usage: EvalStage(model=m, data=eval_source(args.data, args.format, args.on_bad_row))

    >>> eval_source("llmbar:data/llmbar"), eval_source("test.jsonl", "judgerl")
    ({'kind': 'llmbar', 'path': 'data/llmbar'}, {'kind': 'local', 'path': 'test.jsonl', 'format': 'judgerl'})
    """
    kind, sep, rest = spec.partition(":")
    if kind == "synthetic":
        if not rest.isdigit() and rest:
            raise JudgeRLError(f"--data synthetic:N takes a number of test items, got {rest!r}")
        return {"kind": "synthetic", "split": "test", "n_train": 1, "n_test": int(rest or 200)}
    out: dict[str, Any]
    if sep and kind in PATH_KINDS and rest:
        out = {"kind": kind, "path": rest}
    else:
        out = {"kind": "local", "path": spec}
    if format is not None:
        if out["kind"] != "local":
            raise JudgeRLError(f"--format applies to a file or folder (or local:PATH), not to {kind}:PATH")
        out["format"] = format
    if on_bad_row is not None:
        out["on_bad_row"] = on_bad_row
    return out


def _adapter_base(model: str) -> str:
    adapter = Path(model) / "adapter_config.json"
    if adapter.is_file():
        base = read_json(adapter).get("base_model_name_or_path")
        if isinstance(base, str) and base:
            return base
    return model


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def check_model_path(model: str, what: str = "judge model") -> None:
    """A `model` that names a local path (`/x`, `./x`, `a/b/c`, `~/x`) must be a checkpoint folder: a
    missing one (or a file) is the one-line JudgeRLError `judgerl serve` gives, not the hub's complaint
    about the form of a repo id. A hub id is left to the loader.

    Usage: check_model_path(args.model)  # before any tokenizer or config is read
    """
    from judgerl.models.loading import model_source

    try:
        model_source(model)
    except (OSError, ValueError) as err:
        raise JudgeRLError(
            f"cannot load the {what} {model!r}: {_first_line(err)} (expected a checkpoint folder or a hub id)"
        ) from None


def judge_tokenizer(model: str, chat_template: str | None = None, require_template: bool = True) -> Any:
    """The judge `model`'s tokenizer, given `chat_template` when it has none; no weights are loaded.

    A tokenizer left without a chat template is a one-line ChatTemplateError naming
    `--chat-template` (a benchmark judges chat messages), unless `require_template` is off (the
    tokenizer of a served model, whose server renders the chat); a model that cannot be loaded (a
    missing folder, an unreachable hub id) a one-line JudgeRLError. An adapter folder without a
    tokenizer of its own uses its base model's.

    Usage: judge_tokenizer(args.model, args.chat_template)  # before the model loads
    """
    from transformers import AutoTokenizer

    from judgerl.models.chat_templates import apply_default_template, require_chat_template

    check_model_path(model)
    tok_source = model if (Path(model) / "tokenizer_config.json").is_file() else _adapter_base(model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(tok_source)
    except (OSError, ValueError) as err:
        raise JudgeRLError(f"cannot load the judge model {model!r}: {_first_line(err)}") from None
    apply_default_template(tokenizer, chat_template)
    if require_template:
        require_chat_template(tokenizer, flag="--chat-template")
    return tokenizer


def model_context(
    model: str, chat_template: str | None = None, require_template: bool = True
) -> tuple[TokenCounter, int | None]:
    """A prompt-token counter for `model`'s tokenizer and chat template, and its context (None if unstated).

    The context is the smaller of the tokenizer's `model_max_length` and the config's position
    limit. `chat_template` is the stage's template for a tokenizer without one; with none at all
    the command stops here, before the model loads, naming `--chat-template` (a served model's
    tokenizer, `require_template` off, counts the messages' text instead). A model that cannot be
    loaded (a missing folder, an unreachable hub id) is a one-line JudgeRLError.

    Usage: count, context = model_context("runs/quickstart/sft/checkpoint")
    """
    from transformers import AutoConfig

    from judgerl.models.generation import render_prompts

    check_model_path(model)
    try:
        config = AutoConfig.from_pretrained(_adapter_base(model))
    except (OSError, ValueError) as err:
        raise JudgeRLError(f"cannot load the judge model {model!r}: {_first_line(err)}") from None
    tokenizer = judge_tokenizer(model, chat_template, require_template)
    limits = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < NO_LIMIT:
        limits.append(tok_max)
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break

    def count(messages: list[dict[str, str]]) -> int:
        if getattr(tokenizer, "chat_template", None):
            text = render_prompts(tokenizer, [messages])[0]
        else:
            text = "\n".join(m["content"] for m in messages)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count, min(limits) if limits else None


def load_eval_samples(
    data: dict[str, Any], max_samples: int | None, subsample_mode: str = "random", seed: int = 0
) -> tuple[list[JudgeSample], dict[str, Any]]:
    """Load an eval source with the prep stage's loaders, keeping `max_samples` drawn as `subsample_mode`
    says (judgerl.data_prep.subsample); the report holds format, counts, skips and the draw.

    Usage: samples, report = load_eval_samples(stage.data, stage.max_samples, stage.subsample, args.seed)
    """
    from judgerl.data_prep.sources import load_source
    from judgerl.data_prep.subsample import subsample

    try:
        result = load_source(data)
    except ValueError as err:  # DataError, a bad spec, a bad file
        raise JudgeRLError(f"judgerl eval: {err}") from None
    samples, drawn = subsample(result.samples, max_samples, subsample_mode, seed)
    report: dict[str, Any] = {
        "source": result.source,
        "formats": dict(result.formats),
        "rows": len(result.samples),
        "skipped": [{"index": i, "reason": r} for i, r in result.skipped],
        "not_pairable": [{"index": i, "reason": r} for i, r in result.not_pairable],
    }
    if drawn is not None:
        report["subsample"] = drawn
    print(result.summary())
    if drawn is not None:
        print(f"kept {drawn['n']} of {drawn['of']} samples ({_draw_text(drawn)})")
    if result.skipped:
        _print_skips(f"{len(result.skipped)} bad rows skipped", result.skipped)
    return samples, report


def _draw_text(drawn: dict[str, Any]) -> str:
    how = "the first in file order" if drawn["mode"] == "first" else f"{drawn['mode']}, seed {drawn['seed']}"
    subsets = ", ".join(f"{k} {v}" for k, v in drawn["subsets"].items())
    return f"{how}; {subsets}"


def check_lengths(
    samples: list[JudgeSample],
    model: str,
    prompt: JudgeSpec,
    max_new_tokens: int,
    on_bad_row: str,
    report: dict[str, Any],
    chat_template: str | None = None,
    require_template: bool = True,
) -> list[JudgeSample]:
    """The samples whose prompts fit `model`'s context; the others stop the command or are skipped and reported.

    Usage: samples = check_lengths(samples, args.model, spec, 512, "skip", report)
    """
    count, context = model_context(model, chat_template, require_template)
    report["context"] = context
    if context is None:
        return samples
    try:
        checked = check_prompt_lengths(samples, prompt, count, context, max_new_tokens, on_bad_row)  # type: ignore[arg-type]
    except ValueError as err:
        raise JudgeRLError(f"judgerl eval: {err}") from None
    report["too_long"] = [{"index": i, "reason": r} for i, r in checked.too_long]
    if checked.too_long:
        _print_skips(
            f"{len(checked.too_long)} prompts longer than the model's context skipped", checked.too_long
        )
    return checked.kept


def write_inputs(out: Path, samples: list[JudgeSample], report: dict[str, Any]) -> Path:
    """Write the samples to judge (inputs.jsonl) and the data report (data.json); returns inputs.jsonl.

    Usage: stage.data = str(write_inputs(out, samples, report))
    """
    if not samples:
        raise JudgeRLError("judgerl eval: no samples left to judge (see the skips above)")
    path = out / "inputs.jsonl"
    write_samples(path, samples)
    write_json(out / "data.json", {**report, "judged": len(samples)})
    return path


def _print_skips(title: str, skipped: list[tuple[int, str]]) -> None:
    print(title, file=sys.stderr)
    for index, reason in skipped[:_SHOWN_SKIPS]:
        print(f"  row {index}: {reason}", file=sys.stderr)
    if len(skipped) > _SHOWN_SKIPS:
        print(f"  ... and {len(skipped) - _SHOWN_SKIPS} more (data.json lists them all)", file=sys.stderr)
