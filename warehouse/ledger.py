"""Partition state a rerun can trust, and the plan of a backfill.

Each arrival-date partition has one JSON record under ``<root>/_ledger/<YYYY-MM-DD>.json`` (written
atomically; partitions running at once never write the same file): its status, the hash of its inputs, the
extractor version, row counts, run id and duration. `plan` decides from these records, not from memory of
earlier runs, which dates of a range a backfill runs and why.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from warehouse import EXTRACTOR_VERSION, ingest, storage

LEDGER = "_ledger"
DONE = ("published", "flagged", "empty")  # statuses that count as finished
MODES = ("missing", "failed", "all")


@dataclass
class PartitionRecord:
    arrival_date: str
    status: str  # published, flagged, empty, failed
    input_hash: str  # sha256 over the partition's file names and bytes
    extractor_version: str
    documents: int = 0
    facts: int = 0
    quarantined: int = 0
    run_id: str = ""
    seconds: float = 0.0
    message: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class PlanItem:
    arrival_date: date
    action: str  # run, empty (no arrivals: recorded, nothing to run) or skip
    reason: str
    files: tuple[Path, ...] = ()


def input_hash(files: list[Path], source: Path) -> str:
    """Changes when a file of the partition is added, removed, renamed or altered."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(Path(path).relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def record_path(root: Path, arrival_date: date) -> Path:
    return Path(root) / LEDGER / f"{arrival_date.isoformat()}.json"


def write_record(root: Path, record: PartitionRecord) -> None:
    record.updated_at = record.updated_at or datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(asdict(record), ensure_ascii=False, indent=1)
    storage.write_text_atomically(record_path(root, date.fromisoformat(record.arrival_date)), text)


def _load(path: Path) -> PartitionRecord:
    return PartitionRecord(**json.loads(path.read_text(encoding="utf-8")))


def read_record(root: Path, arrival_date: date) -> PartitionRecord | None:
    path = record_path(root, arrival_date)
    return _load(path) if path.exists() else None


def read_ledger(root: Path) -> dict[date, PartitionRecord]:
    folder = Path(root) / LEDGER
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return {date.fromisoformat(r.arrival_date): r for r in map(_load, paths)}


def date_range(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def plan(start: date, end: date, source: Path, root: Path, mode: str = "missing") -> list[PlanItem]:
    """What a backfill of [start, end] does for each date, and why.

    missing: dates with arrivals and no finished record for the same inputs; failed: dates whose last run
    failed; all: every date with arrivals (unchanged documents still come from the extraction cache).
    Dates without arrivals are `empty` in every mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    loose = date(1, 1, 1)  # files outside date folders have no arrival date: not part of a backfill
    arrivals = {d: f for d, f in ingest.discover_partitions(source, loose).items() if start <= d <= end}
    ledger = read_ledger(root)
    items = []
    for day in date_range(start, end):
        files = arrivals.get(day, [])
        if not files:
            items.append(PlanItem(day, "empty", "no arrivals"))
            continue
        items.append(_decide(day, tuple(files), ledger.get(day), mode, source))
    return items


def _decide(
    day: date, files: tuple[Path, ...], record: PartitionRecord | None, mode: str, source: Path
) -> PlanItem:
    if mode == "all":
        return PlanItem(day, "run", "mode all", files)
    if record is None:
        reason = "never run"
        return PlanItem(day, "run" if mode == "missing" else "skip", reason, files)
    if mode == "failed":
        failed = record.status == "failed"
        return PlanItem(day, "run" if failed else "skip", f"last run {record.status}", files)
    if record.status not in DONE:
        return PlanItem(day, "run", f"last run {record.status}", files)
    if record.input_hash != input_hash(list(files), source):
        return PlanItem(day, "run", "arrivals changed since the last run", files)
    version = (
        "" if record.extractor_version == EXTRACTOR_VERSION else f" (extractor {record.extractor_version})"
    )
    return PlanItem(day, "skip", f"done: {record.status}{version}", files)


def record_run(
    root: Path,
    arrival_date: date,
    files: list[Path],
    source: Path,
    *,
    summary: dict | None,
    error: str | None = None,
    run_id: str = "",
    seconds: float = 0.0,
) -> PartitionRecord:
    """Record how a partition run ended: its summary (published/flagged), `error` (failed), or neither
    (no arrivals: empty)."""
    summary = summary or {}
    status = "failed" if error else summary.get("status", "empty") if files else "empty"
    record = PartitionRecord(
        arrival_date=arrival_date.isoformat(),
        status=status,
        input_hash=input_hash(files, source) if files else "",
        extractor_version=EXTRACTOR_VERSION,
        documents=int(summary.get("documents", 0)),
        facts=int(summary.get("facts", 0)),
        quarantined=int(summary.get("quarantined", 0)),
        run_id=run_id,
        seconds=round(seconds, 2),
        message=error or "; ".join(summary.get("reasons", [])),
    )
    write_record(root, record)
    return record


def default_arrival_date(scheduled: datetime | None, tz: str = "Asia/Shanghai") -> date:
    """The partition a scheduled run processes: the day before its scheduled start, in `tz` (now when the
    run has no scheduled time)."""
    from zoneinfo import ZoneInfo

    moment = scheduled or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)


REPORT_COLUMNS = ("partition", "status", "documents", "facts", "quarantined", "seconds", "note")


def report(items: list[PlanItem], root: Path, errors: dict[date, str] | None = None) -> list[dict]:
    """One row per date of a backfill: run dates from their ledger record, `errors` overriding (a run that
    failed before it could record itself), skipped and empty dates with the plan's reason."""
    records, errors = read_ledger(root), errors or {}
    rows = []
    for item in items:
        record = records.get(item.arrival_date) if item.action in ("run", "skip") else None
        status = {"empty": "empty", "skip": "skipped"}.get(item.action, record.status if record else "failed")
        if item.arrival_date in errors:
            status = "failed"
        note = errors.get(item.arrival_date) or (
            record.message if record and item.action == "run" else item.reason
        )
        rows.append(
            {
                "partition": item.arrival_date.isoformat(),
                "status": status,
                "documents": record.documents if record else 0,
                "facts": record.facts if record else 0,
                "quarantined": record.quarantined if record else 0,
                "seconds": record.seconds if record else 0.0,
                "note": (note or "")[:200],
            }
        )
    return rows
