"""A generated corpus of malformed recipes for `judgerl validate` (issue 16 items 7, 8 and 10; issue
25 item 11: what only failed when the stage started).

Every case is a recipe file (plus, for `extends`, the files it names), the overrides given on the
command line, whether it must be rejected (`invalid`) or only must not crash (`borderline`: a
truncated or byte-flipped file may still be a valid recipe), and for invalid cases the text the
one-paragraph error must contain (the key it names). The mutations start from the shipped recipes
and a small hand-written one, so every stage kind and every numeric key of every kind is covered.
"""

from __future__ import annotations

import copy
import functools
import random
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from judgerl.recipe import PATH_KEYS, read_recipe_yaml
from judgerl.stages import STAGE_KINDS

REPO = Path(__file__).resolve().parents[1]
SMALL = {
    "name": "small",
    "run_dir": "runs/small",
    "seed": 1,
    "vars": {"steps": 7},
    "stages": {
        "data": {"kind": "prep", "source": {"kind": "synthetic", "n_train": 10, "n_test": 4}},
        "model": {"kind": "tiny_model", "data": "${stages.data.train}", "hidden_size": 32, "layers": 1},
        "sft": {
            "kind": "sft",
            "model": "${stages.model.checkpoint}",
            "data": "${stages.data.train}",
            "max_steps": "${vars.steps}",
        },
        "eval": {"kind": "eval", "model": "${stages.sft.checkpoint}", "data": "${stages.data.test}"},
    },
}
BAD_STAGE_NAMES: list[Any] = [
    "/some/dir", "", "..", ".", "e.v", "a/b", "-x", "x" * 65, "a b", "é", "~", "$x", "a\\b", "sft\n",
    1, 1.5, True, None,
]  # fmt: skip
BAD_KINDS: list[Any] = [["sft"], {"a": 1}, 1, None, "", "SFT", "sfft", True, 2.5, ["prep", "sft"]]
BAD_FLOATS = [float("inf"), float("-inf"), float("nan")]
BAD_INTS = [2**70, -(2**70), 2**64]
BAD_SEEDS: list[Any] = [-1, 2**32, 2**70, "x", 1.5, [1], {"a": 1}]
BAD_BYTES = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc", b"\xfe\xff"]
BAD_CHARS = ["\x00", "\x07", "\x1b", "\ufffe"]
UNTERMINATED = ["${stages.model.checkpoint", "${", "x ${vars.steps", "${vars.steps}${", "a${vars.steps"]
BAD_REFS = [
    "${stages.e.v.x}", "${stages.nope.train}", "${stages.data}", "${stages.data.nope}", "${}",
    "${vars.nope}", "${seed.x}", "x${vars}", "${stages.eval.predictions}",
]  # fmt: skip


@dataclass
class Case:
    """One recipe to validate: its files (the first is the recipe), overrides and what must happen."""

    name: str
    files: dict[str, bytes]
    overrides: list[str] = field(default_factory=list)
    invalid: bool = True
    needle: str = ""
    recipe: str = ""  # the path to validate when it is not the first file (a folder, say)


def _dump(raw: Any) -> bytes:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when built with it: 10x faster
    return yaml.dump(raw, Dumper=dumper, sort_keys=False, allow_unicode=True).encode()


def base_recipes() -> dict[str, dict[str, Any]]:
    """The small recipe and every shipped one, `extends` merged in (each self-contained)."""
    out = {"small": copy.deepcopy(SMALL)}
    for path in sorted((REPO / "recipes").rglob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if isinstance(raw, dict) and "stages" in raw:
            out[path.relative_to(REPO / "recipes").with_suffix("").as_posix()] = read_recipe_yaml(path)
    return out


def _numeric_fields(kind: str) -> Iterator[tuple[str, type]]:
    for name, info in STAGE_KINDS[kind].config.model_fields.items():
        ann = info.annotation
        args = (
            set(typing.get_args(ann)) if isinstance(ann, types.UnionType) or typing.get_origin(ann) else {ann}
        )
        if bool in args or str in args:
            continue
        for number in (float, int):
            if number in args:
                yield name, number
                break


def _with(raw: dict[str, Any], stage: str, key: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    out["stages"][stage][key] = value
    return out


def _rename(raw: dict[str, Any], stage: str, new: Any) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    out["stages"] = {(new if k == stage else k): v for k, v in raw["stages"].items()}
    return out


def invalid_cases(bases: dict[str, dict[str, Any]]) -> Iterator[Case]:  # noqa: C901 - one loop per class
    """Every invalid case, by class."""
    for base, raw in bases.items():
        stages = list(raw["stages"])
        for i, bad in enumerate(BAD_STAGE_NAMES):
            stage = stages[i % len(stages)]
            yield Case(
                f"stage-name/{base}/{i}", {"r.yaml": _dump(_rename(raw, stage, bad))}, needle="stage name"
            )
        for i, bad in enumerate(BAD_KINDS):
            stage = stages[i % len(stages)]
            yield Case(
                f"kind/{base}/{i}",
                {"r.yaml": _dump(_with(raw, stage, "kind", bad))},
                needle=f"stages.{stage}.kind",
            )
        for stage in stages:
            kind = raw["stages"][stage]["kind"]
            for j, (key, number) in enumerate(_numeric_fields(kind)):
                infinite_ok = kind == "scaling" and key in ("T", "plot_T")
                values = BAD_FLOATS if number is float else BAD_INTS + BAD_FLOATS
                for value in values[j % len(values) :][:1] + ([float("nan")] if j == 0 else []):
                    if infinite_ok and value in (float("inf"), float("-inf")):
                        continue
                    text = _dump(_with(raw, stage, key, value))
                    yield Case(
                        f"number/{base}/{stage}.{key}={value}",
                        {"r.yaml": text},
                        needle=f"stages.{stage}.{key}",
                    )
            yield Case(
                f"number-via-vars/{base}/{stage}",
                {
                    "r.yaml": _dump(
                        _with(
                            {**raw, "vars": {**raw.get("vars", {}), "big": float("inf")}},
                            stage,
                            "batch_size",
                            "${vars.big}",
                        )
                    )
                },
                needle=f"stages.{stage}",
            )
        for i, seed in enumerate(BAD_SEEDS):
            yield Case(f"seed/{base}/{i}", {"r.yaml": _dump({**raw, "seed": seed})}, needle="seed")
            if isinstance(seed, int):
                yield Case(
                    f"seed-override/{base}/{i}", {"r.yaml": _dump(raw)}, [f"seed={seed}"], needle="seed"
                )
        text = _dump(raw)
        for i, bad in enumerate(BAD_BYTES):
            at = (len(text) * (i + 1)) // (len(BAD_BYTES) + 1)
            yield Case(f"bytes/{base}/{i}", {"r.yaml": text[:at] + bad + text[at:]}, needle="not UTF-8")
        for i, bad in enumerate(BAD_CHARS):
            at = text.index(b"\n", len(text) // 3) + 1
            yield Case(f"char/{base}/{i}", {"r.yaml": text[:at] + f"x: '{bad}'\n".encode() + text[at:]})
        for i, value in enumerate(UNTERMINATED):
            stage = stages[i % len(stages)]
            key = "model" if "model" in raw["stages"][stage] else "kind_note"
            yield Case(
                f"unterminated/{base}/{i}",
                {"r.yaml": _dump(_with(raw, stage, key, value))},
                needle="without its closing",
            )
        for i, value in enumerate(BAD_REFS):
            stage = stages[-1]
            yield Case(
                f"reference/{base}/{i}",
                {"r.yaml": _dump(_with(raw, stage, "model", value))},
                needle=f"stages.{stage}",
            )
        yield from _structure_cases(base, raw)
        yield from _yaml_cases(base, raw)


def _structure_cases(base: str, raw: dict[str, Any]) -> Iterator[Case]:
    first = next(iter(raw["stages"]))
    header = {k: v for k, v in raw.items() if k != "stages"}
    variants: list[tuple[str, Any, str]] = [
        ("top-list", [raw], "top level"), ("top-scalar", "recipe", "top level"), ("no-stages", header, "stages"),
        ("stages-list", {**header, "stages": [first]}, "stages"), ("stages-empty", {**header, "stages": {}}, "stages"),
        ("stage-list", {**raw, "stages": {**raw["stages"], first: ["prep"]}}, f"stages.{first}"),
        ("stage-null", {**raw, "stages": {**raw["stages"], first: None}}, f"stages.{first}"),
        ("no-name", {k: v for k, v in raw.items() if k != "name"}, "name"),
        ("no-run-dir", {k: v for k, v in raw.items() if k != "run_dir"}, "run_dir"),
        ("run-dir-list", {**raw, "run_dir": ["a"]}, "run_dir"), ("unknown-top", {**raw, "bogus": 1}, "bogus"),
        ("unknown-key", _with(raw, first, "bogus_key", 1), f"stages.{first}.bogus_key"),
        ("launcher-kind", {**raw, "launcher": {"kind": "slurm"}}, "launcher"),
        ("launcher-port", {**raw, "launcher": {"kind": "torchrun", "master_port": 70000}}, "launcher"),
        ("prompt", {**raw, "prompt": {"family": "nope"}}, "prompt"),
        ("vars-cycle", {**raw, "vars": {"a": "${vars.b}", "b": "${vars.a}"}}, "cycle"),
    ]  # fmt: skip
    for name, value, needle in variants:
        yield Case(f"structure/{base}/{name}", {"r.yaml": _dump(value)}, needle=needle)
    for name, overrides, needle in [
        ("no-equals", ["lr"], "expected KEY=VALUE"), ("empty-part", ["stages..lr=1"], "empty part"),
        ("no-stage", ["stages.nope.lr=1"], "no such stage"), ("bad-value", ["seed=[1"], "not valid YAML"),
        ("deep-key", [".".join(["vars"] + ["k"] * 100) + "=1"], "parts"),
        ("deep-value", ["vars.x=" + "[" * 200 + "]" * 200], "nested deeper"),
        ("dup-value", ["vars.x={a: 1, a: 2}"], "duplicate key 'a'"),
        ("laughs-value", ["vars.x=" + _laughs_flow()], "expands to more than"),
        ("not-mapping", [f"stages.{first}.kind.x=1"], f"stages.{first}.kind"),
    ]:  # fmt: skip
        yield Case(f"override/{base}/{name}", {"r.yaml": _dump(raw)}, overrides, needle=needle)


def _laughs_flow(levels: int = 9) -> str:
    parts = ["{a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    parts += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return ", ".join(parts) + "}"


def _yaml_cases(base: str, raw: dict[str, Any]) -> Iterator[Case]:
    text = _dump(raw).decode()
    first = next(iter(raw["stages"]))
    laughs = "\n".join(
        ["lol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    )
    for depth in (65, 100, 600, 5000):
        if depth <= 600:  # a block 5,000 deep is a 25 MB file, rejected for its size
            block = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n"
            yield Case(
                f"deep-block/{base}/{depth}",
                {"r.yaml": f"{text}deep:\n{_indent(block)}".encode()},
                needle="nest",
            )
        flow = "[" * depth + "]" * depth
        yield Case(f"deep-flow/{base}/{depth}", {"r.yaml": f"{text}deep: {flow}\n".encode()}, needle="nest")
    yield Case(
        f"laughs/{base}",
        {"r.yaml": f"{text}vars:\n{_indent(laughs)}\n".encode()},
        needle="expands to more than",
    )
    yield Case(f"laughs-top/{base}", {"r.yaml": f"{laughs}\n{text}".encode()}, needle="expands to more than")
    yield Case(
        f"recursive-alias/{base}", {"r.yaml": f"{text}loop: &x [1, *x]\n".encode()}, needle="contains it"
    )
    doubling = {f"v{i}": f"${{vars.v{i + 1}}}${{vars.v{i + 1}}}" for i in range(40)} | {"v40": "lol"}
    yield Case(
        f"laughs-interpolation/{base}",
        {"r.yaml": _dump({**raw, "vars": doubling, "name": "${vars.v0}"})},
        needle="interpolation",
    )
    nested = {f"v{i}": [f"${{vars.v{i + 1}}}", f"${{vars.v{i + 1}}}"] for i in range(40)} | {"v40": 1}
    yield Case(f"laughs-lists/{base}", {"r.yaml": _dump({**raw, "vars": nested})}, needle="interpolation")
    name_line = text.index("name:")
    yield Case(
        f"duplicate-top/{base}", {"r.yaml": f"{text}name: again\n".encode()}, needle="duplicate key 'name'"
    )
    del name_line
    stage_block = text.index("stages:\n") + len("stages:\n")
    first_stage = yaml.safe_dump({first: {"kind": "prep", "source": {"kind": "synthetic"}}}, sort_keys=False)
    yield Case(
        f"duplicate-stage/{base}",
        {"r.yaml": (text[:stage_block] + _indent(first_stage) + "\n" + text[stage_block:]).encode()},
        needle=f"duplicate key '{first}'",
    )
    yield Case(
        f"duplicate-nested/{base}",
        {"r.yaml": (text + "vars: {a: 1, b: 2, a: 3}\n").encode()},
        needle="duplicate key",
    )
    yield Case(f"two-documents/{base}", {"r.yaml": (text + "---\n" + text).encode()}, needle="not valid YAML")
    yield Case(f"huge/{base}", {"r.yaml": text.encode() + b"# " + b"x" * (1 << 20) + b"\n"}, needle="at most")
    for i, parent in enumerate(
        [".", "", "..", "/", "x" * 300, "x" * 5000, "a\x00b", "nope.yaml", 1, ["a"], {"a": 1}]
    ):
        yield Case(f"extends/{base}/{i}", {"r.yaml": _dump({"extends": parent, **raw})}, needle="extends")
    yield Case(
        f"extends-self/{base}", {"r.yaml": _dump({"extends": "r.yaml", **raw})}, needle="extends itself"
    )
    chain = {f"c{i}.yaml": _dump({"extends": f"c{i + 1}.yaml"}) for i in range(20)} | {"c20.yaml": _dump(raw)}
    yield Case(
        f"extends-chain/{base}", {"r.yaml": _dump({"extends": "c0.yaml"}), **chain}, needle="chains more than"
    )
    yield Case(
        f"extends-bad-parent/{base}",
        {"r.yaml": _dump({"extends": "p.yaml"}), "p.yaml": b"stages: [\n"},
        needle="p.yaml",
    )
    yield Case(f"folder/{base}", {"r.yaml": _dump(raw)}, recipe=".", needle="is a folder")


def _indent(text: str) -> str:
    return "".join("  " + line + "\n" for line in text.splitlines())


def source_cases(bases: dict[str, dict[str, Any]]) -> Iterator[Case]:
    """Invalid `source:` mappings of prep stages (typed by the data-formats work, issue 16 item 8)."""
    raw = bases["small"]
    for i, source in enumerate(BAD_SOURCES):
        yield Case(
            f"source/{i}",
            {"r.yaml": _dump(_with(raw, "data", "source", source))},
            needle="stages.data.source",
        )


BAD_SOURCES: list[dict[str, Any]] = [
    {"kind": "synthetic", "n_train": 10, "n_test": 0},
    {"kind": "synthetic", "n_train": -1, "n_test": 4},
    {"kind": "synthetic", "n_train": 10, "bogus": 1},
    {"kind": "nope"},
    {"n_train": 10},
    {"kind": "local"},
    {"kind": "llmbar", "path": 3},
    {"kind": "gsm8k", "path": "x", "pairs_per_question": 0},
]


def _fields(kind: str) -> dict[str, Any]:
    return STAGE_KINDS[kind].config.model_fields


def late_failure_cases(bases: dict[str, dict[str, Any]]) -> Iterator[Case]:
    """Recipes that once passed validation and failed only when their stage started (issue 25 item 11):
    a nested `data` source mapping, an unknown scheduler or dtype, heads that do not divide
    hidden_size, an empty path, an empty run_dir, an empty stage map."""
    for base, raw in bases.items():
        text = _dump(raw)
        for stage, body in raw["stages"].items():
            fields = _fields(body["kind"])
            if "data" in fields and "dict" in str(fields["data"].annotation).lower():
                for i, source in enumerate(BAD_SOURCES):
                    yield Case(
                        f"nested-source/{base}/{stage}/{i}",
                        {"r.yaml": _dump(_with(raw, stage, "data", source))},
                        needle=f"stages.{stage}.data",
                    )
            for key, bad in (("scheduler", "nonsense"), ("dtype", "float77")):
                if key in fields:
                    override = f"stages.{stage}.{key}={bad}"
                    yield Case(
                        f"{key}/{base}/{stage}", {"r.yaml": text}, [override], needle=f"stages.{stage}.{key}"
                    )
            if body["kind"] == "tiny_model":
                for heads in (3, 7, 128):  # not dividing 128, or a head size of 1 (odd)
                    yield Case(
                        f"heads/{base}/{stage}/{heads}",
                        {"r.yaml": _dump(_with(raw, stage, "hidden_size", 128))},
                        [f"stages.{stage}.heads={heads}"],
                        needle=f"stages.{stage}.heads",
                    )
            for key, value in body.items():
                if key in PATH_KEYS and isinstance(value, str):
                    for empty in ("", "' '"):
                        yield Case(
                            f"empty-path/{base}/{stage}.{key}/{len(empty)}",
                            {"r.yaml": text},
                            [f"stages.{stage}.{key}={empty}"],
                            needle=f"stages.{stage}.{key}",
                        )
        for i, empty in enumerate(("", "' '", "''")):
            yield Case(f"empty-run-dir/{base}/{i}", {"r.yaml": text}, [f"run_dir={empty}"], needle="run_dir")
        yield Case(f"empty-stages/{base}", {"r.yaml": text}, ["stages={}"], needle="stages")


def borderline_cases(bases: dict[str, dict[str, Any]], per_base: int = 40) -> Iterator[Case]:
    """Truncated and byte-flipped recipes: each may or may not be valid; none may crash."""
    rng = random.Random(16)
    for base, raw in bases.items():
        text = _dump(raw)
        for i in range(per_base):
            cut = rng.randrange(1, len(text))
            yield Case(f"truncated/{base}/{i}", {"r.yaml": text[:cut]}, invalid=False)
            at = rng.randrange(len(text))
            flipped = text[:at] + bytes([rng.randrange(256)]) + text[at + 1 :]
            yield Case(f"flipped/{base}/{i}", {"r.yaml": flipped}, invalid=False)


def valid_cases(bases: dict[str, dict[str, Any]]) -> Iterator[Case]:
    """Legitimate recipes near the limits: each must be accepted."""
    raw = bases["small"]
    yield Case("valid/small", {"r.yaml": _dump(raw)}, invalid=False)
    yield Case("valid/dashed-name", {"r.yaml": _dump(_rename(raw, "eval", "eval-final_2"))}, invalid=False)
    yield Case("valid/seed-max", {"r.yaml": _dump({**raw, "seed": 2**32 - 1})}, invalid=False)
    yield Case("valid/bom", {"r.yaml": b"\xef\xbb\xbf" + _dump(raw)}, invalid=False)
    anchors = _dump(raw).decode() + "defaults: &d {steps: 3}\nmore: {<<: *d, steps: 4}\n"
    yield Case("valid/anchors", {"r.yaml": anchors.replace("vars:", "vars: &v", 1).encode()}, invalid=False)
    yield Case("valid/overrides", {"r.yaml": _dump(raw)}, ["seed=3", "stages.sft.lr=1e-5"], invalid=False)
    for name, base in bases.items():
        yield Case(f"valid-shipped/{name}", {"r.yaml": _dump(base)}, invalid=False)


@functools.cache
def corpus() -> list[Case]:
    """The whole corpus: invalid cases first, then the sources, the borderline and the valid ones."""
    bases = base_recipes()
    return [
        *invalid_cases(bases),
        *late_failure_cases(bases),
        *source_cases(bases),
        *borderline_cases(bases),
        *valid_cases(bases),
    ]
