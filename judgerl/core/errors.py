"""Error types that carry enough context for a one-paragraph message."""

from __future__ import annotations

import errno


class JudgeRLError(Exception):
    """Base class of every error judgerl raises on purpose."""


class RecipeError(JudgeRLError):
    """A recipe or override is malformed: the message names file, key, value and expectation."""


class DataError(JudgeRLError):
    """A data row or source is malformed: the message names the source and the row index."""


class StageError(JudgeRLError):
    """A stage could not run (missing input, failed subprocess, ...)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped the run; `stage` names the stage it stopped in, if any.

    A KeyboardInterrupt, so that nothing that catches Exception swallows it. `exit_code` is the
    shell's code for the signal: 130 for SIGINT, 143 for SIGTERM.

    >>> Interrupted("SIGTERM", stage="sft").exit_code
    143
    """

    def __init__(self, signal_name: str = "SIGINT", stage: str | None = None, resume: str = "") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.stage = stage
        self.resume = resume  # the command that resumes, when it is not the same command again

    @property
    def exit_code(self) -> int:
        """130 after SIGINT, 143 after SIGTERM (128 + the signal number)."""
        return 143 if self.signal_name == "SIGTERM" else 130

    def message(self) -> str:
        """The one line the command line prints. Usage: print(f"judgerl: {e.message()}")"""
        where = f" in stage {self.stage!r}" if self.stage else ""
        how = f"resume it with: {self.resume}" if self.resume else "rerun the same command to resume"
        return f"interrupted{where} ({self.signal_name}); {how}"


def disk_error(e: BaseException) -> str | None:
    """A one-line description of a full disk or quota (ENOSPC, EDQUOT) that names the file; None for
    any other error.

    >>> import errno; disk_error(OSError(errno.ENOSPC, "No space left on device", "runs/x/m.json"))
    'no space left on device writing runs/x/m.json'
    """
    if not isinstance(e, OSError) or e.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    what = "no space left on device" if e.errno == errno.ENOSPC else "disk quota exceeded"
    return f"{what} writing {e.filename}" if e.filename else what
