"""The outcome of a partition run: one typed result for the CLI, the flows, the ledger and the audit trail."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

PartitionStatus = Literal["published", "flagged", "failed", "empty"]


@dataclass(frozen=True)
class PartitionResult:
    """The outcome of one partition run, the one shape the CLI, the flows, the ledger and the audit trail
    read. `status`: published; flagged (published with warnings); failed (nothing published); empty (no
    arrivals that day). Counts are rows published."""

    arrival_date: str
    run_id: str
    status: PartitionStatus
    documents: int = 0
    mentions: int = 0
    facts: int = 0
    quarantined: int = 0
    rows_in: dict[str, int] = field(default_factory=dict)  # rows per table before validation
    reasons: tuple[str, ...] = ()  # blocking failures (failed) or warnings (flagged)
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    quality_docs: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per step: ingest, clean, …

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"reasons": list(self.reasons)}
