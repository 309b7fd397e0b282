"""The one writer of bench/RESULTS.md sections (a benchmark replaces its own section, or appends it),
and the one flag that keeps a run out of it, `--no-record`.

from results_md import add_record_flag, record_section  # bench/ is on sys.path when a bench script runs
add_record_flag(parser)  # --no-record (--no-results-md, its old name, still works)
record_section("## My benchmark (bench/my.py)", "date; machine; load\n\n| table |")
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def record_section(heading: str, body: str, results: Path = RESULTS) -> None:
    """Write `heading` + `body` as a section of RESULTS.md: in place of the section with that heading
    (up to the next `## ` heading), else at the end; atomically.

    Usage: record_section(HEADING, f"{date}; {machine}\\n\\n{table}")
    """
    from judgerl.core.jsonl import write_text_atomic

    section = f"{heading}\n\n{body.strip()}\n"
    old = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(heading) + r".*?(?=\n## |\Z)", re.DOTALL)
    # the section ends in "\n", which keeps a blank line before the next heading
    found = pattern.search(old) is not None
    new = pattern.sub(lambda _m: section, old) if found else old.rstrip("\n") + "\n\n" + section
    write_text_atomic(results, new.rstrip("\n") + "\n")


def add_record_flag(parser: argparse.ArgumentParser) -> None:
    """`--no-record` (`args.no_record`): print the results only, leave bench/RESULTS.md alone. Every
    bench script takes this one flag; `--no-results-md`, the name some had, is kept as an alias.

    Usage: add_record_flag(ap); ...; if not args.no_record: record_section(HEADING, body)
    """
    parser.add_argument(
        "--no-record",
        "--no-results-md",
        dest="no_record",
        action="store_true",
        help="print only; leave bench/RESULTS.md alone (--no-results-md: the old name)",
    )
