"""Partition state a rerun can trust, and the plan of a backfill.

Each arrival-date partition has one JSON record under ``<root>/_ledger/<YYYY-MM-DD>.json`` (written
atomically; partitions running at once never write the same file): its status, the hash of its inputs, the
extractor version, row counts, run id and duration. `plan` decides from these records, not from memory of
earlier runs, which dates of a range a backfill runs and why.

Publishing a partition and recording it are one step (`publish`): an intent (``<date>.publishing.json``:
the record to write and the audited staging folder) is written first, then the files are moved, then the
record is written and the intent removed, all under an exclusive lock on the date
(``_ledger/_locks/<date>.lock``, `fcntl.flock`: released by the kernel when the process dies), so two
runs of one date (a daily run and a backfill) publish one after the other, each whole. A crash in between
leaves an intent that `recover` completes from the staging folder, so after a crash at any moment the
ledger and the published files agree again at the next run, without reprocessing. `recover` skips a date
whose lock is held (its publisher is alive) and only looks for intent files, so it is cheap to call often.
The lock holds between processes of one machine (and on file systems whose flock is shared, such as NFSv4).

On a root on object storage (`warehouse.location`) the records are objects of the root, shared by every
machine; intents, locks and staging files are in this machine's work folder. A machine that dies
mid-publish completes it at its next run; until then its date's tables may hold the new partition in some
tables only, and the record still says what was before (a backfill in `missing` mode reruns it if it had
none). Writers on two machines are kept apart by Delta's commit conflicts, not by the locks.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from warehouse import EXTRACTOR_VERSION, ingest, location, storage
from warehouse.location import Root, work_dir
from warehouse.results import PartitionResult

LEDGER = "_ledger"
DONE = ("published", "flagged", "empty")  # statuses that count as finished
MODES = ("missing", "failed", "all")


Status = Literal["published", "flagged", "empty", "failed"]


@dataclass
class PartitionRecord:
    arrival_date: str
    status: Status
    input_hash: str  # sha256 over the partition's file names and bytes ("" when unknown)
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
    """Changes when a file of the partition is added, removed, renamed or altered (reads the files). Only the
    files a run would read count (`ingest.admit`): a FIFO, a symlink out of the zone or a dot-file never do."""
    pairs = []
    for p in map(Path, files):
        if ingest.admit(p, source) is None:
            try:
                pairs.append((p.relative_to(source).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()))
            except OSError:
                continue  # gone or unreadable: the run quarantines it
    return hash_of_contents(pairs)


def hash_of_contents(files: Iterable[tuple[str, str]]) -> str:
    """`input_hash` from (path relative to the landing zone, sha256 hex of the bytes) pairs: the raw
    table's `source_path` and `doc_id`, i.e. the bytes a run actually read."""
    digest = hashlib.sha256()
    for relative, sha in sorted(files):
        digest.update(relative.encode() + b"\0")
        digest.update(bytes.fromhex(sha))
    return digest.hexdigest()


def record_path(root: Path, arrival_date: date) -> Path:
    """The record's file under a local root (`record_name` under any root)."""
    return Path(root) / record_name(arrival_date)


def record_name(arrival_date: date) -> str:
    return f"{LEDGER}/{arrival_date.isoformat()}.json"


def write_record(root: Root, record: PartitionRecord) -> None:
    record.updated_at = record.updated_at or datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(asdict(record), ensure_ascii=False, indent=1)
    location.write_text(root, record_name(date.fromisoformat(record.arrival_date)), text)


_FIELDS = frozenset(PartitionRecord.__dataclass_fields__)
_RECORD = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def _load(text: str) -> PartitionRecord:
    """A record as written by this or another version (fields it does not know are left out)."""
    data = json.loads(text)
    return PartitionRecord(**{k: v for k, v in data.items() if k in _FIELDS})


def read_record(root: Root, arrival_date: date) -> PartitionRecord | None:
    text = location.read_text(root, record_name(arrival_date))
    return None if text is None else _load(text)


def intent_path(root: Root, arrival_date: date) -> Path:
    """The publish intent of a date: in the root's local work folder (it names local staging files)."""
    return work_dir(root) / LEDGER / f"{arrival_date.isoformat()}.publishing.json"


def read_ledger(root: Root) -> dict[date, PartitionRecord]:
    """Every partition record of `root` (not the intents beside them in a local root's ledger folder)."""
    wanted = [n for n in location.names(root, LEDGER, ".json") if _RECORD.match(n)]
    records = [_load(t) for t in location.read_texts(root, LEDGER, wanted).values()]  # (gone since: left out)
    return {date.fromisoformat(r.arrival_date): r for r in records}


def date_range(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def plan(start: date, end: date, source: Path, root: Root, mode: str = "missing") -> list[PlanItem]:
    """What a backfill of [start, end] does for each date, and why.

    missing: dates with arrivals and no finished record for the same inputs; failed: dates whose last run
    failed; all: every date with arrivals (unchanged documents still come from the extraction cache).
    Dates without arrivals are `empty` in every mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    days = date_range(start, end)  # a bad range fails before anything is read
    loose = date(1, 1, 1)  # files outside date folders have no arrival date: not part of a backfill
    arrivals = {d: f for d, f in ingest.discover_partitions(source, loose).items() if start <= d <= end}
    ledger = read_ledger(root)
    items = []
    for day in days:
        files = arrivals.get(day, [])
        if not files:
            items.append(PlanItem(day, "empty", "no arrivals"))
        elif intent_path(root, day).exists():
            items.append(
                PlanItem(day, "run", "publish interrupted (the next run completes it)", tuple(files))
            )
        else:
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


def record_failure(
    root: Root, arrival_date: date, error: str, run_id: str = "", seconds: float = 0.0
) -> None:
    """A partition run that ended without publishing (audit failure, I/O error, crash it could report). A
    run that did publish and failed afterwards (its artifact, say) keeps its published record."""
    previous = read_record(root, arrival_date)
    if previous and run_id and previous.run_id == run_id and previous.status in ("published", "flagged"):
        return
    record = PartitionRecord(
        arrival_date=arrival_date.isoformat(),
        status="failed",
        input_hash="",
        extractor_version=EXTRACTOR_VERSION,
        run_id=run_id,
        seconds=round(seconds, 2),
        message=error,
    )
    write_record(root, record)


def record_empty(root: Root, arrival_date: date, run_id: str = "", *, only_changes: bool = False) -> bool:
    """A date without arrivals; an existing empty record is left as it is, and with `only_changes` (a
    backfill's dates) so is a date never recorded: a 100-year backfill writes no file per empty day, the
    plan finds them empty from the landing zone. True when written."""
    previous = read_record(root, arrival_date)
    if (previous is not None and previous.status == "empty") or (previous is None and only_changes):
        return False
    record = PartitionRecord(arrival_date.isoformat(), "empty", "", EXTRACTOR_VERSION, run_id=run_id)
    write_record(root, record)
    return True


def published_record(result: PartitionResult, input_hash: str, seconds: float) -> PartitionRecord:
    """The record of an audited partition (status published or flagged) about to be published."""
    return PartitionRecord(
        arrival_date=result.arrival_date,
        status=result.status,
        input_hash=input_hash,
        extractor_version=EXTRACTOR_VERSION,
        documents=result.documents,
        facts=result.facts,
        quarantined=result.quarantined,
        run_id=result.run_id,
        seconds=round(seconds, 2),
        message="; ".join(result.reasons),
    )


@contextlib.contextmanager
def date_lock(root: Root, arrival_date: date, *, wait: bool = True) -> Iterator[bool]:
    """Hold the date's publish lock; with `wait` off, yields False at once when another process holds it."""
    path = _locks(root) / f"{arrival_date.isoformat()}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _locks(root: Root) -> Path:
    """Locks are this machine's (flock), in the root's work folder; writers on other machines are kept
    apart by Delta's commit conflicts instead (`storage.commit_partition`)."""
    return work_dir(root) / LEDGER / "_locks"


def root_lock(root: Root, *, shared: bool = False) -> contextlib.AbstractContextManager[None]:
    """The root's publish lock: a partition's publish (intent, moves, record) holds it exclusively for
    milliseconds, a snapshot reading the layers holds it shared, so a snapshot never reads a partition
    halfway through its publish. Always taken after a date's lock, never before."""
    return _flock(_locks(root) / "_publish.lock", fcntl.LOCK_SH if shared else fcntl.LOCK_EX)


def snapshot_lock(root: Root) -> contextlib.AbstractContextManager[None]:
    """One snapshot build at a time per root (a second waits, then finds the snapshot current)."""
    return _flock(_locks(root) / "_snapshot.lock", fcntl.LOCK_EX)


def pending_publishes(root: Root) -> set[str]:
    """Dates (YYYY-MM-DD) with an intent file: a publish in progress, or one a crash interrupted (read under
    `root_lock(shared=True)`, only the second: their files are a mix of two runs until `recover`)."""
    folder = work_dir(root) / LEDGER
    return {p.name[:10] for p in folder.glob("????-??-??.publishing.json")} if folder.is_dir() else set()


def publish(root: Root, record: PartitionRecord, staging: Path) -> PartitionRecord:
    """Publish the audited partition files under `staging` and record `record`, as one step (see the
    module docstring): under the date's lock and the root's publish lock, intent, moves, record, intent
    removed."""
    day = date.fromisoformat(record.arrival_date)
    intent = {"staging": Path(staging).relative_to(work_dir(root)).as_posix(), "record": asdict(record)}
    with date_lock(root, day), root_lock(root):
        storage.write_text_atomically(
            intent_path(root, day), json.dumps(intent, ensure_ascii=False, indent=1)
        )
        storage.publish_staged(staging, root)
        write_record(root, record)
        intent_path(root, day).unlink(missing_ok=True)
    return record


def recover(root: Root) -> list[date]:
    """Complete every publish a crash interrupted (an intent file is left and nobody holds its date's
    lock): move what is left of the audited files, write the record, remove the intent; then remove stale
    staging folders (`storage.prune_staging`). Returns the dates completed."""
    work = work_dir(root)
    folder = work / LEDGER
    done = []
    for path in sorted(folder.glob("????-??-??.publishing.json")) if folder.is_dir() else []:
        day = date.fromisoformat(path.name[:10])
        with date_lock(root, day, wait=False) as free:
            intent = _read_intent(path) if free else None
            if intent is None:  # being published right now, or completed meanwhile
                continue
            with root_lock(root):
                storage.publish_staged(work / intent["staging"], root)
                write_record(root, PartitionRecord(**intent["record"]))
                path.unlink(missing_ok=True)
            done.append(day)
    unfinished = (
        [_read_intent(p) for p in folder.glob("????-??-??.publishing.json")] if folder.is_dir() else []
    )
    needed = {Path(i["staging"]).name for i in unfinished if i}  # being published right now
    storage.prune_staging(work, keep=needed)  # after recovery: an interrupted publish needed its staging
    return done


def _read_intent(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


def default_arrival_date(scheduled: datetime | None, tz: str = "Asia/Shanghai") -> date:
    """The partition a scheduled run processes: the day before its scheduled start, in `tz` (now when the
    run has no scheduled time)."""
    from zoneinfo import ZoneInfo

    moment = scheduled or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)


REPORT_COLUMNS = ("partition", "status", "documents", "facts", "quarantined", "seconds", "note")


def report(items: list[PlanItem], root: Root, errors: dict[date, str] | None = None) -> list[dict]:
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


def report_markdown(rows: list[dict], title: str) -> str:
    """A backfill's report as Markdown: one table row per date that ran, failed or was skipped as done, and
    one line counting the dates without arrivals (a 4-year range is mostly empty days)."""
    shown = [r for r in rows if r["status"] != "empty"]
    counts = Counter(r["status"] for r in rows)
    lines = [f"# {title}", "", ", ".join(f"{n} {status}" for status, n in sorted(counts.items())), ""]
    if shown:
        lines += ["| " + " | ".join(REPORT_COLUMNS) + " |", "|" + " --- |" * len(REPORT_COLUMNS)]
        for r in shown:
            cells = (str(r[c]).replace("|", "\\|").replace("\n", " ") for c in REPORT_COLUMNS)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(f"{counts.get('empty', 0)} dates without arrivals (empty) are not listed.")
    return "\n".join(lines)
