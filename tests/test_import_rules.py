"""The import rules of ARCHITECTURE.md, checked on every module's imports (lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "judgerl"
ALLOWED = {
    "core": {"core"},
    "data_prep": {"core", "data_prep"},
    "models": {"core", "models"},
    "rewards": {"core", "data_prep", "models", "rewards"},
    "autojudge": {"core", "data_prep", "models", "rewards", "autojudge"},
    "probes": {"core", "data_prep", "models", "rewards", "probes"},
    "trainers": {"core", "data_prep", "models", "rewards", "trainers"},
    "eval": {"core", "data_prep", "models", "rewards", "eval"},
    "serving": {"core", "data_prep", "models", "rewards", "serving"},
}
TOP_LEVEL = {"recipe", "stages", "launch", "pipeline", "cli", "__main__", "__init__"}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("judgerl"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "judgerl" and len(parts) > 1:
                    found.add(parts[1])
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        graph.setdefault(_layer(path), set()).update(_imports(path) - {_layer(path)})
    return graph


def test_layers_import_only_what_architecture_allows() -> None:
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(path)
        for target in _imports(path):
            if layer in ALLOWED and target not in ALLOWED[layer]:
                violations.append(f"{path.relative_to(PACKAGE.parent)} ({layer}) imports judgerl.{target}")
            # pipeline and cli import anything; nothing imports them but the entry points
            if target in {"pipeline", "cli"} and layer not in {"cli", "__main__"}:
                violations.append(f"{path.relative_to(PACKAGE.parent)} imports judgerl.{target}")
    assert violations == [], "\n".join(violations)


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {_layer(p) for p in PACKAGE.rglob("*.py")} - set(ALLOWED) - TOP_LEVEL
    assert unknown == set()


def test_layer_graph_has_no_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join(trail + [node, nxt])}"
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_rule_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from judgerl.trainers.sft import run_sft\nimport judgerl.eval.metrics\n")
    assert _imports(bad) == {"trainers", "eval"}
