"""The count of texts cut at max_length tokens: kept by every feature extractor and reported by
every probe run (train report, score and filter logs, the probe_filter stage's metrics), so that
no run cuts a text silently. Torch-free, so the reports can name it without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Truncation:
    """How many texts were longer than max_length tokens (and cut), of how many, and the longest.

    >>> t = Truncation(4, 1, 900); t.add(Truncation(2, 0, 30)); t.as_dict()
    {'texts': 6, 'truncated': 1, 'longest': 900}
    """

    texts: int = 0
    truncated: int = 0
    longest: int = 0

    def add(self, other: Truncation) -> None:
        """Add another count to this one. Usage: total.add(fx.last_truncation)"""
        self.texts += other.texts
        self.truncated += other.truncated
        self.longest = max(self.longest, other.longest)

    def as_dict(self) -> dict[str, int]:
        """{"texts", "truncated", "longest"} for a report. Usage: metrics["truncation"] = t.as_dict()"""
        return {"texts": self.texts, "truncated": self.truncated, "longest": self.longest}
