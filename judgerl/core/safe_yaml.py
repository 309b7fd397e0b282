"""YAML for files a person writes (recipes, overrides): safe, bounded, and strict about duplicate keys.

`load_bounded` is `yaml.safe_load` with limits a hand-written file never reaches: nesting depth,
the size of the document with every alias expanded (a "billion laughs" file is rejected before
anything is built from it) and recursive aliases; a key written twice in one mapping is an error
that names the key and both lines. `describe_yaml_error` turns any `yaml.YAMLError` into one line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

MAX_DEPTH = 64
MAX_NODES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML document over one of the limits (depth, expanded size, recursion) or with a duplicate key."""


class _Limits:
    """The checks, mixed into a loader: depth while composing, duplicate keys while constructing."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YAMLLimitError(
                    problem=f"nested deeper than {MAX_DEPTH} levels",
                    problem_mark=self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            first: dict[tuple[str, str], Any] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                seen = first.setdefault((key_node.tag, key_node.value), key_node.start_mark)
                if seen is not key_node.start_mark:
                    raise YAMLLimitError(
                        problem=f"duplicate key {key_node.value!r} (first given at line {seen.line + 1})",
                        problem_mark=key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


try:  # libyaml parses (in C) ~4x faster; composing stays in Python, where the depth is counted
    from yaml._yaml import CParser

    class _BoundedLoader(_Limits, Composer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

except ImportError:  # pragma: no cover - PyYAML built without libyaml

    class _BoundedLoader(_Limits, yaml.SafeLoader):  # type: ignore[no-redef]
        pass


def _expanded_size(root: Node) -> int:
    """Nodes in the document with every alias expanded; memoised, so linear in the composed graph."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YAMLLimitError(
                problem="an alias refers to a node that contains it", problem_mark=node.start_mark
            )
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if total > MAX_NODES:
            raise YAMLLimitError(
                problem=f"expands to more than {MAX_NODES:,} values once aliases are followed",
                problem_mark=node.start_mark,
            )
        sizes[key] = total
        return total

    return size(root)


def load_bounded(text: str) -> Any:
    """Parse one YAML document safely within the limits above; errors are `yaml.YAMLError`s.

    Usage: raw = load_bounded(path.read_text(encoding="utf-8"))

    >>> load_bounded("a: &x [1, 2]\\nb: *x")
    {'a': [1, 2], 'b': [1, 2]}
    """
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        return loader.construct_document(node)
    finally:
        getattr(loader, "dispose", lambda: None)()


def describe_yaml_error(err: yaml.YAMLError) -> str:
    """A YAML error on one line: "line L, column C: PROBLEM (CONTEXT at line L')".

    Usage: raise RecipeError(f"recipe {path}: not valid YAML: {describe_yaml_error(e)}")
    """
    if not isinstance(err, yaml.MarkedYAMLError):
        return " ".join(str(err).split())
    mark = err.problem_mark or err.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    text = where + " ".join(str(err.problem or "").split())
    if err.context:
        context = " ".join(str(err.context).split())
        at = f" at line {err.context_mark.line + 1}" if err.context_mark is not None else ""
        text += f" ({context}{at})"
    return text
