"""The import rules of docs/architecture.md, checked on every module's imports (lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "judgerl"
ALLOWED = {
    "core": {"core"},
    "judge_spec": {"core", "judge_spec"},
    "data_prep": {"core", "judge_spec", "data_prep"},
    "models": {"core", "judge_spec", "models"},
    "rewards": {"core", "judge_spec", "data_prep", "models", "rewards"},
    "autojudge": {"core", "judge_spec", "data_prep", "models", "rewards", "autojudge"},
    "probes": {"core", "judge_spec", "data_prep", "models", "rewards", "probes"},
    "trainers": {"core", "judge_spec", "data_prep", "models", "rewards", "trainers"},
    "eval": {"core", "judge_spec", "data_prep", "models", "rewards", "eval"},
    "serving": {"core", "judge_spec", "data_prep", "models", "rewards", "serving"},
    "distill": {"core", "judge_spec", "data_prep", "models", "rewards", "distill"},
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


# ---- module-level import cycles -------------------------------------------------------------


def module_names(package: Path) -> dict[str, Path]:
    """Dotted module name -> file for every module under `package` (a package is its __init__.py)."""
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative levels resolved against `module`)."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    return ".".join(parts[:keep] + ([node.module] if node.module else []))


def module_imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that `module` imports anywhere in its file (lazy imports included).

    Each imported name is taken to the deepest known module it names (`from a.b import c` is a.b.c
    when that is a module, else a.b), together with the packages above it that Python runs first;
    a module's own parent packages do not count (a submodule may import its package).
    """
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    found: set[str] = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        while target:  # the module and the packages Python imports before it
            if target in known and target != module and not module.startswith(target + "."):
                found.add(target)
            target = target.rpartition(".")[0]
    return found


def import_cycles(package: Path) -> list[list[str]]:
    """Every import cycle among the modules of `package`, as sorted strongly connected components."""
    names = module_names(package)
    known = set(names)
    edges = {m: module_imports(m, p, known) for m, p in names.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return sorted(cycles)


def test_no_module_level_import_cycle_in_judgerl() -> None:
    cycles = import_cycles(PACKAGE)
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _write_package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / "pkg"


def test_cycle_checker_catches_a_planted_cycle_through_a_lazy_relative_import(tmp_path: Path) -> None:
    pkg = _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.sub import b\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "def f():\n    from .c import g\n    return g\n",
            "pkg/sub/c.py": "import pkg.a\n",
            "pkg/ok.py": "from pkg.a import x\n",
        },
    )
    assert import_cycles(pkg) == [["pkg.a", "pkg.sub.b", "pkg.sub.c"]]


def test_cycle_checker_allows_a_submodule_importing_its_own_package(tmp_path: Path) -> None:
    pkg = _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub import thing\n",
            "pkg/sub/__init__.py": "from .impl import thing\n",
            "pkg/sub/impl.py": "from pkg.sub import helpers\nfrom .. import sub\nthing = 1\n",
            "pkg/sub/helpers.py": "",
        },
    )
    assert import_cycles(pkg) == []
    assert module_imports("pkg.sub.impl", pkg / "sub" / "impl.py", set(module_names(pkg))) == {
        "pkg.sub.helpers"
    }


def test_cycle_checker_counts_the_packages_python_runs_first(tmp_path: Path) -> None:
    """`import pkg.x.y` runs pkg/x/__init__.py first: a cycle through that __init__ is a cycle."""
    pkg = _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/x/__init__.py": "from pkg.z import w\n",
            "pkg/x/y.py": "",
            "pkg/z.py": "import pkg.x.y\n",
        },
    )
    assert import_cycles(pkg) == [["pkg.x", "pkg.z"]]
