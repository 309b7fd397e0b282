"""The base of every typed config (unknown keys are errors, not silently ignored), the one way a
config's validation errors become a message, and the one way a config field names its flag."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """A pydantic model that forbids unknown keys and validates on assignment.

    >>> class C(StrictModel):
    ...     lr: float = 1e-5
    >>> C(lr="2e-3").lr
    0.002
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def format_validation_error(err: ValidationError, prefix: str = "", values: bool = False) -> str:
    """Every problem of a pydantic `ValidationError` on one line, joined by "; ".

    Each problem is named by its dotted location, after `prefix` when given ("stages.sft"); a
    problem of the whole input is named `prefix` or "input". Plain (`values=False`, the command
    line's form): "loc: message". With `values=True` (the recipe's form) an unknown key reads
    "loc: unknown key (value 3)", a missing one "loc: required key is missing", and any other
    problem shows the value given: "loc = 'fast': Input should be a valid number ...".

    Usage: raise JudgeRLError(f"judgerl eval: {format_validation_error(err)}") from err

    >>> class C(StrictModel):
    ...     lr: float
    >>> try:
    ...     C(lr="fast", lrr=1)
    ... except ValidationError as e:
    ...     print(format_validation_error(e, "stages.sft", values=True))
    stages.sft.lr = 'fast': Input should be a valid number, unable to parse string as a number; stages.sft.lrr: unknown key (value 1)
    """
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        key = ".".join(p for p in (prefix, loc) if p) or "input"
        if not values:
            parts.append(f"{key}: {e['msg']}")
        elif e["type"] == "extra_forbidden":
            parts.append(f"{key}: unknown key (value {e['input']!r})")
        elif e["type"] == "missing":
            parts.append(f"{key}: required key is missing")
        else:
            parts.append(f"{key} = {e['input']!r}: {e['msg']}")
    return "; ".join(parts)


def flag_name(field: str) -> str:
    """The command-line flag of a config field: underscores become dashes, case is kept.

    Usage: parser.add_argument(flag_name("max_batch"))   # --max-batch

    >>> flag_name("max_batch"), flag_name("plot_T")
    ('--max-batch', '--plot-T')
    """
    return "--" + field.replace("_", "-")
