"""Packaging that pyproject.toml cannot say: the root recipes/ folder ships inside the wheel.

The recipes stay at the repository root (README, docs, tests and the Makefile name recipes/...)
and are mapped into the package as judgerl.recipes (its subfolders as judgerl.recipes.*), so
`pip install judgerl` users get every YAML and JSON file under recipes/; the package-data globs
are in pyproject.toml, which says everything else about the distribution. See docs/recipes.md.
"""

from setuptools import find_namespace_packages, setup

RECIPES = ["judgerl.recipes", *(f"judgerl.recipes.{p}" for p in find_namespace_packages(where="recipes"))]

setup(
    packages=[
        *find_namespace_packages(include=["judgerl", "judgerl.*"], exclude=["*.__pycache__"]),
        *RECIPES,
    ],
    package_dir={"judgerl.recipes": "recipes"},
)
