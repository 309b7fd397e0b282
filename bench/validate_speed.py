"""Start-up time of the light commands: `judgerl validate`, `ls`, `--help`, `run --dry-run`.

Each command runs as a fresh subprocess (`python -m judgerl ...`), N times, alternating between
the code "before" (a commit, extracted with `git archive COMMIT | tar -x` into a folder outside the
checkout and run with PYTHONPATH and the working folder set to it, so it is that code that runs)
and "after" (the current working tree); the median and the fastest run of each are reported,
next to a bare `python -c pass` (the interpreter's own start). Target: every command under 2 s.
Nothing here changes git state. The table is printed and replaces this script's section of
bench/RESULTS.md, with the machine, the date and the load average before and after (the machine
may be shared; the load says how much).

Usage:
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/validate_speed.py [--n 7] [--before a462288]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from results_md import add_record_flag

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "## CLI start-up: validate, ls, --help, run --dry-run (bench/validate_speed.py)"
TARGET_S = 2.0
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [],
    "judgerl --help": ["--help"],
    "judgerl ls": ["ls"],
    "judgerl validate recipes/quickstart.yaml": ["validate", "recipes/quickstart.yaml"],
    "judgerl run recipes/quickstart.yaml --dry-run": ["run", "recipes/quickstart.yaml", "--dry-run"],
}


def extract(commit: str, folder: Path) -> Path:
    """The tree of `commit` under `folder` (extracted once with git archive; git state is not touched).

    Usage: root = extract("a462288", Path("/tmp/judgerl_before"))
    """
    if not (folder / "judgerl" / "cli" / "main.py").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def environment(root: Path) -> dict[str, str]:
    """The environment that makes `python -m judgerl` run the code under `root`.

    Usage: env = environment(REPO)
    """
    return dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def check_code(root: Path) -> str:
    """Where judgerl is imported from with `root`'s environment; fails unless it is `root`'s.

    Usage: check_code(REPO)
    """
    probe = [sys.executable, "-c", "import judgerl; print(judgerl.__file__)"]
    where = subprocess.run(probe, cwd=root, env=environment(root), capture_output=True, text=True, check=True)
    found = Path(where.stdout.strip()).resolve()
    if not found.is_relative_to(root.resolve()):
        raise SystemExit(f"with PYTHONPATH={root} judgerl came from {found}, not from {root}")
    return str(found)


# runs `python -m judgerl ARGV` in-process, then prints which heavy engines that imported
HEAVY_PROBE = """
import contextlib, io, runpy, sys
sys.argv = ["judgerl", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        runpy.run_module("judgerl", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
print(",".join(m for m in ("torch", "transformers") if m in sys.modules) or "none")
"""


def heavy_imports(root: Path, argv: list[str]) -> str:
    """Which of torch and transformers `judgerl ARGV` imports with `root`'s code ("none", "torch,...").

    Usage: heavy_imports(REPO, ["validate", "recipes/quickstart.yaml"])
    """
    if not argv:
        return "none"
    cmd = [sys.executable, "-c", HEAVY_PROBE, *argv]
    done = subprocess.run(cmd, cwd=root, env=environment(root), capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"(failed: {done.returncode})"


def time_once(root: Path, argv: list[str]) -> float:
    """Wall seconds of one `python -m judgerl ARGV` (or `python -c pass` for no ARGV) run in `root`.

    Usage: seconds = time_once(REPO, ["ls"])
    """
    cmd = [sys.executable, "-m", "judgerl", *argv] if argv else [sys.executable, "-c", "pass"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=root, env=environment(root), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} in {root} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def measure(trees: dict[str, Path], n: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per command per tree: one untimed warm-up (it writes .pyc files), then n timed runs,
    the trees alternating so that both see the same load.

    Usage: times = measure({"before": old, "after": REPO}, 7)
    """
    times: dict[str, dict[str, list[float]]] = {c: {t: [] for t in trees} for c in COMMANDS}
    for command, argv in COMMANDS.items():
        for root in trees.values():
            time_once(root, argv)
        for _ in range(n):
            for tree, root in trees.items():
                times[command][tree].append(time_once(root, argv))
    return times


def table(times: dict[str, dict[str, list[float]]], n: int, heavy: dict[str, dict[str, str]]) -> str:
    """The markdown table of medians (and fastest runs) before and after, and what each imported.

    Usage: print(table(times, 7, heavy))
    """
    lines = [
        f"| command | before: median of {n} s | before: fastest s | after: median of {n} s | after: fastest s "
        f"| after / before | after < {TARGET_S:g} s | heavy imports before / after |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for command, by_tree in times.items():
        before, after = statistics.median(by_tree["before"]), statistics.median(by_tree["after"])
        ok = "yes" if after < TARGET_S else "**no**"
        lines.append(
            f"| `{command}` | {before:.2f} | {min(by_tree['before']):.2f} | {after:.2f} | "
            f"{min(by_tree['after']):.2f} | {after / before:.2f} | {ok} | "
            f"{heavy[command]['before']} / {heavy[command]['after']} |"
        )
    return "\n".join(lines)


def replace_section(text: str, section: str) -> str:
    """`text` with this script's section replaced by `section` (appended when absent).

    Usage: RESULTS.write_text(replace_section(RESULTS.read_text(), section))
    """
    pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\Z)", re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _m: section.rstrip("\n") + "\n", text)
    return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Time the light commands before and after; print the table and record it in RESULTS.md.

    Usage: python bench/validate_speed.py --n 7 --before a462288
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=7, help="timed runs per command and tree")
    ap.add_argument("--before", default="a462288", help="commit of the 'before' code")
    ap.add_argument("--before-dir", type=Path, default=Path("/tmp/judgerl_before"))
    add_record_flag(ap)
    args = ap.parse_args(argv)

    trees = {"before": extract(args.before, args.before_dir), "after": REPO}
    code = {tree: check_code(root) for tree, root in trees.items()}
    load_start = os.getloadavg()
    started = datetime.now(timezone.utc)
    times = measure(trees, args.n)
    load_end = os.getloadavg()
    heavy = {c: {t: heavy_imports(root, argv) for t, root in trees.items()} for c, argv in COMMANDS.items()}
    result = table(times, args.n, heavy)
    print(result)

    def fmt(load: tuple[float, float, float]) -> str:
        return ", ".join(f"{x:.2f}" for x in load)

    section = "\n".join(
        [
            SECTION,
            "",
            "Wall time of each light command as a fresh subprocess (`python -m judgerl ...`, run in the tree's",
            "root with PYTHONPATH set to it), the trees alternating run by run; one untimed warm-up each.",
            f"Before: commit {args.before} (extracted with `git archive`, run from {args.before_dir});",
            "after: the working tree. `python -c pass` is the interpreter's own start-up, for scale.",
            f"Target: every command under {TARGET_S:g} s. Code checked: {code['before']} / {code['after']}.",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; date {started:%Y-%m-%d %H:%M} UTC.",
            f"Load average (1, 5, 15 min) at start {fmt(load_start)}, at end {fmt(load_end)}: other jobs share",
            "these cores, so absolute times vary with the load; before and after ran under the same load.",
            "",
            f"    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/validate_speed.py --n {args.n}",
            "",
            result,
            "",
        ]
    )
    if not args.no_record:
        from judgerl.core.jsonl import write_text_atomic

        text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
        write_text_atomic(RESULTS, replace_section(text, section))
        print(f"\nrecorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
