"""The shipped recipes: where they are, and how a recipe name or path on the command line is found.

The recipes ship inside the package as judgerl/recipes (setup.py maps the repository's root
recipes/ folder there); in a source checkout or an editable install they are read from the root
recipes/ folder itself. A name resolves in this order: a path that exists (relative to the current
folder) wins; else the shipped file of that name, with `.yaml` optional and a leading `recipes/`
optional, so `quickstart`, `think_j/qwen2.5-7b` and `recipes/quickstart.yaml` all work from any
folder. Imports nothing heavy (`judgerl validate` and `judgerl ls` use it).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from judgerl.core.errors import RecipeError

RECIPE_SUFFIXES = (".yaml", ".yml")
SHIPPED_PREFIX = "recipes/"  # how recipes and launcher configs name each other: relative to the repo root


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system, or one with a NUL
        return False


def shipped_recipes_dir() -> Path:
    """The folder of the shipped recipes: judgerl/recipes in a wheel, else the checkout's recipes/.

    Usage: folder = shipped_recipes_dir()
    """
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "recipes", package.parent / "recipes"):
        if folder.is_dir():
            return folder
    return package / "recipes"


def is_recipe_file(path: Path) -> bool:
    """True for a YAML file whose top level is a mapping with `stages` (launcher configs are not).

    Usage: recipes = [p for p in folder.rglob("*.yaml") if is_recipe_file(p)]
    """
    import yaml

    # bounded: a billion-laughs file in the folder cannot hang `judgerl ls`
    from judgerl.core.safe_yaml import load_bounded

    try:
        doc = load_bounded(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(doc, dict) and "stages" in doc


def recipe_files(folder: Path) -> list[Path]:
    """The recipe files under a folder (any depth), sorted.

    Usage: files = recipe_files(shipped_recipes_dir())
    """
    return sorted(p for suffix in RECIPE_SUFFIXES for p in folder.rglob(f"*{suffix}") if is_recipe_file(p))


def shipped_recipe_names() -> list[str]:
    """The names of the shipped recipes, as `judgerl ls` prints them (e.g. think_j/qwen2.5-7b.yaml).

    Usage: names = shipped_recipe_names()
    """
    root = shipped_recipes_dir()
    return [p.relative_to(root).as_posix() for p in recipe_files(root)]


def shipped_file(name: str) -> Path | None:
    """The shipped file `name` names (`.yaml` optional, a leading `recipes/` optional), or None.

    A name that climbs out of the shipped folder (`../x`) names nothing.

    Usage: shipped_file("think_j/qwen2.5-7b")  # .../recipes/think_j/qwen2.5-7b.yaml
    """
    root = shipped_recipes_dir().resolve()
    rel = name.replace("\\", "/").removeprefix("./").removeprefix(SHIPPED_PREFIX)
    if not rel or Path(rel).is_absolute():
        return None
    # not Path.suffix: in think_j/qwen2.5-7b it is ".5-7b"
    has_suffix = rel.endswith((*RECIPE_SUFFIXES, ".json"))
    candidates = [rel] if has_suffix else [rel + suffix for suffix in RECIPE_SUFFIXES]
    for candidate in candidates:
        try:
            path = (root / candidate).resolve()
            if path.is_file() and path.is_relative_to(root):
                return path
        except (OSError, ValueError):
            return None
    return None


def display_path(path: Path) -> Path:
    """`path` relative to the current folder when it lies under it, else absolute.

    Usage: print(display_path(found))
    """
    path = path.resolve()
    cwd = Path.cwd().resolve()
    return path.relative_to(cwd) if path.is_relative_to(cwd) else path


def _stem(name: str) -> str:
    for suffix in RECIPE_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def resolve_recipe_path(name: str | os.PathLike[str]) -> Path:
    """The recipe file a command-line name means: an existing path, else the shipped recipe of that name.

    Usage: path = resolve_recipe_path("quickstart")  # recipes/quickstart.yaml, from any folder
    """
    path = Path(name)
    if _exists(path):
        return path
    found = shipped_file(str(name))
    if found is not None and found.suffix in RECIPE_SUFFIXES:
        return display_path(found)
    stems = {_stem(n): n for n in shipped_recipe_names()}
    query = _stem(str(name).removeprefix(SHIPPED_PREFIX))
    close = [stems[s] for s in difflib.get_close_matches(query, list(stems), n=3)]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise RecipeError(
        f"recipe {name}: no such file, and no shipped recipe of that name{hint} "
        "(`judgerl ls` lists the shipped recipes)"
    )


def resolve_extends(parent: str, child: Path) -> Path:
    """The file `extends: PARENT` in `child` means: relative to the child's folder, else a shipped recipe.

    When neither exists the path relative to the child comes back, for the caller to report.

    Usage: base = resolve_extends("quickstart.yaml", Path("my/recipe.yaml"))
    """
    local = child.parent / parent
    if _exists(local):
        return local
    return shipped_file(parent) or local


def resolve_shipped_references(raw: Any) -> Any:
    """`raw`, changed in place: each string `recipes/X` that names no file from here, but a shipped
    file, becomes that file's path (a shipped recipe names its DeepSpeed and accelerate configs as
    recipes/...; run from another folder, those paths would not exist). A path that exists stays.

    Usage: raw = resolve_shipped_references(copy.deepcopy(raw))
    """
    todo = [raw]
    while todo:  # a loop, not recursion: a deeply nested recipe gets its own error later
        node = todo.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in list(items):
            if isinstance(value, (dict, list)):
                todo.append(value)
            elif isinstance(value, str) and value.startswith(SHIPPED_PREFIX) and not _exists(Path(value)):
                found = shipped_file(value)
                if found is not None:
                    node[key] = str(found)
    return raw
