"""Per-document time budget: cleaning and extraction look at a deadline inside their loops, so one document
that takes too long becomes a quarantine record with the reason and the rest of its partition goes on.

    with budget.deadline(120, "extraction", "report.html"):
        ...            # loops call budget.check() (cheap; every few hundred items)

The deadline lives in a context variable: each thread (a Prefect task) has its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_clock = time.monotonic  # tests replace it to make time pass


class OverBudget(Exception):
    """A document took longer than its budget for one stage."""

    def __init__(self, stage: str, seconds: float, source_file: str) -> None:
        self.stage, self.seconds, self.source_file = stage, seconds, source_file
        super().__init__(
            f"over the time budget: {stage} of {source_file!r} took longer than {seconds:g} s "
            "(WAREHOUSE_MAX_DOCUMENT_SECONDS)"
        )


@dataclass(frozen=True)
class Deadline:
    stage: str
    seconds: float
    source_file: str
    end: float

    def check(self) -> None:
        if _clock() > self.end:
            raise OverBudget(self.stage, self.seconds, self.source_file)


_current: ContextVar[Deadline | None] = ContextVar("warehouse_deadline", default=None)


@contextmanager
def deadline(seconds: float, stage: str, source_file: str) -> Iterator[Deadline]:
    """Run the block under a deadline `seconds` from now; `check()` inside it raises OverBudget after."""
    if seconds <= 0:
        raise ValueError(f"a time budget must be positive, not {seconds!r}")
    current = Deadline(stage, seconds, source_file, _clock() + seconds)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def check() -> None:
    """Raise OverBudget when the current document is past its deadline (nothing outside a deadline)."""
    current = _current.get()
    if current is not None:
        current.check()
