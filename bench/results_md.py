"""The one writer of bench/RESULTS.md sections: a benchmark replaces its own section, or appends it.

from results_md import record_section  # bench/ is on sys.path when a bench script runs
record_section("## My benchmark (bench/my.py)", "date; machine; load\n\n| table |")
"""

from __future__ import annotations

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
