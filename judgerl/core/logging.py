"""Console output shared by stages: one place decides how judgerl talks to a person.

Two streams, one job each: log lines (`get_logger`, "judgerl | ...") go to stderr; a result meant to
be read or piped on (an evaluation table, a run's summary) is shown once, on stdout, by
`print_report`. A stage that produces a table shows it this way and the command that ran the stage
does not print it again, so a terminal shows each table once and `> file` captures it.
"""

from __future__ import annotations

import logging
import sys

_CONFIGURED = False


def get_logger(name: str = "judgerl") -> logging.Logger:
    """A logger that prints `judgerl | message` to stderr. Usage: log = get_logger(__name__)."""
    global _CONFIGURED
    if not _CONFIGURED:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("judgerl | %(message)s"))
        root = logging.getLogger("judgerl")
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
        _CONFIGURED = True
    return logging.getLogger(name if name.startswith("judgerl") else f"judgerl.{name}")


def print_report(text: str) -> None:
    """Show a table or summary once, on stdout (after any pending log lines on stderr).

    Usage: print_report(table)  # in a stage; its command prints only where the files are
    """
    sys.stderr.flush()
    print(text, file=sys.stdout, flush=True)
