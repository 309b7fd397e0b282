"""Command-line flags derived from a typed config, and parsed flags turned back into its keys.

A command that mirrors a stage adds one argparse option per pydantic field (as TRL derives its
command line from its config dataclasses), so that a new stage key is a new flag without a copy:

    fields = add_config_flags(parser, ScalingStage, exclude={"prompt"}, help=HELP)
    stage = ScalingStage(**config_values(parser.parse_args(argv), fields))

The flag of `max_new_tokens` is `--max-new-tokens` (`core.config.flag_name`); its type comes
from the annotation (`X | None` is X), a `Literal` gives the choices, a list of int, float or str
is written comma-separated ("1,2,4"), a bool is a switch. Its help text is the one given, else
the field's description, else the field's default. With `defaults=False` an unset flag is left
out (None), so the config's own default applies; with `defaults=True` the flag carries the
field's default. A type with no flag form (a mapping, a nested config) is a TypeError: give it
a flag by hand, or exclude it.
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from judgerl.core.config import flag_name

Container = argparse.ArgumentParser | argparse._ArgumentGroup
SCALARS: tuple[type, ...] = (int, float, str)


def comma_list(item: type) -> Callable[[str], list[Any]]:
    """An argparse `type` reading "a,b,c" as a list of `item` (blank entries are dropped).

    Usage: parser.add_argument("--k", type=comma_list(int))

    >>> comma_list(float)("0, 0.5,inf")
    [0.0, 0.5, inf]
    """

    def _parse(text: str) -> list[Any]:
        return [item(x.strip()) for x in text.split(",") if x.strip()]

    _parse.__name__ = f"comma-separated {item.__name__}"  # argparse names the type in its errors
    return _parse


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def add_config_flags(
    parser: Container,
    config: type[BaseModel],
    fields: Sequence[str] | None = None,
    *,
    exclude: Collection[str] = (),
    defaults: bool = False,
    help: Mapping[str, str] | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
    negated: Mapping[str, str] | None = None,
    choices: Mapping[str, Sequence[Any]] | None = None,
    required: Collection[str] | None = None,
    repeatable: Collection[str] = (),
) -> list[str]:
    """Add one flag per field of `config` to `parser` (or an argument group); returns the fields.

    `fields` picks the fields and their order (default: every field but `kind` and `exclude`).
    `help` gives help texts by field, `aliases` more flag names (the names a command had before
    its flags were derived), `negated` a bool field's only flag, which sets it False
    ({"both_orders": "--one-order"}), `choices` the choices of a field typed wider (a str with
    known values), `required` the required fields (default: those without a default), and
    `repeatable` the list fields whose flag may be given more than once (the values add up).

    Usage: add_config_flags(parser, ServeOptions, defaults=True)   # --max-batch 32, --max-wait-ms 10.0, ...
    """
    help, aliases, negated, choices = help or {}, aliases or {}, negated or {}, choices or {}
    names = list(fields) if fields is not None else [f for f in config.model_fields if f != "kind"]
    names = [n for n in names if n not in exclude]
    for name in names:
        if name not in config.model_fields:
            raise TypeError(f"{config.__name__} has no field {name!r}")
        info = config.model_fields[name]
        is_required = info.is_required() if required is None else name in required
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        text = help.get(name) or info.description
        if text is None and default is not None and _unwrap_optional(info.annotation) is not bool:
            text = f"default: {_shown(default)}"
        kwargs: dict[str, Any] = {
            "dest": name,
            "help": text.replace("%", "%%") if text and name not in help else text,
        }
        if not is_required:
            kwargs["default"] = default if defaults else None
        flags = [flag_name(name), *aliases.get(name, ())]
        kind = _unwrap_optional(info.annotation)
        if kind is bool:
            if name in negated:
                flags, kwargs["action"] = [negated[name]], "store_false"
            else:
                kwargs["action"] = "store_true" if not default else argparse.BooleanOptionalAction
        elif get_origin(kind) is Literal:
            values = get_args(kind)
            kwargs |= {"choices": list(values), "type": type(values[0])}
        elif kind in SCALARS:
            kwargs["type"] = kind
        elif get_origin(kind) is list and get_args(kind) and get_args(kind)[0] in SCALARS:
            kwargs["type"] = comma_list(get_args(kind)[0])
            if name in repeatable:
                kwargs["action"] = "extend"
        else:
            raise TypeError(
                f"{config.__name__}.{name}: {info.annotation} has no flag form; add its flag by hand "
                "or exclude it"
            )
        if name in choices:
            kwargs["choices"] = list(choices[name])
        parser.add_argument(*flags, required=is_required, **kwargs)
    return names


def config_values(args: argparse.Namespace, fields: Sequence[str]) -> dict[str, Any]:
    """The config keys of `fields` that the parsed `args` set (a None value is left out).

    Usage: ScalingStage(**config_values(args, fields))
    """
    return {name: getattr(args, name) for name in fields if getattr(args, name, None) is not None}
