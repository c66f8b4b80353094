"""The steps of one arrival-date partition, as plain functions over DataFrames.

ingest → stage (clean) → extract → validate → publish. Publishing is write-audit-publish: every table is
written under a staging root, the written files are audited (contracts re-checked on what was read back,
cross-table rules, the Great Expectations checkpoint), and only an audited partition replaces the published
one. `flows/` runs each step as a Prefect task; `run_partition` chains them without Prefect.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import polars as pl

from schemas import (
    LAYER_TABLES,
    MODELS,
    registry,
)
from warehouse import EXTRACTOR_VERSION, cache, clean, ingest, ledger, storage, validate
from warehouse.location import Root, work_dir
from warehouse.results import PartitionResult
from warehouse.settings import DEFAULT_LIMITS, Limits

TABLES = tuple(t.key for t in LAYER_TABLES)  # raw documents, staged documents and mentions, curated facts
# what the audit reads back of every table: doc_id (rows counted) and every column a reference names
KEY_COLUMNS = sorted({"doc_id"} | {ref.column for t in LAYER_TABLES for ref in t.references})


@dataclass
class Batch:
    """The tables of one partition on their way to publication."""

    arrival_date: date
    run_id: str
    raw: pl.DataFrame
    staged: pl.DataFrame | None = None
    mentions: pl.DataFrame | None = None
    facts: pl.DataFrame | None = None
    quarantine: pl.DataFrame | None = None
    rows_in: dict[str, int] = field(default_factory=dict)  # rows per table before validation
    cached_docs: int = 0  # documents whose extraction came from the cache
    input_hash: str = ""  # `ledger.input_hash` of the bytes ingest read
    contents: list[tuple[str, str]] = field(default_factory=list)  # (source_path, doc_id) of what was read
    stage_paths: frozenset[str] | None = None  # a chunk of a larger partition: the arrivals to stage
    started: float = field(default_factory=time.time)  # epoch seconds when the partition run began
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per step so far
    validated: bool = False  # its tables hold only the rows that passed their contracts (`validate_step`)

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = round(self.seconds.get(step, 0.0) + time.perf_counter() - began, 3)

    def quarantined(self) -> pl.DataFrame:
        """The quarantine records so far (an empty table before any step produced one)."""
        return (
            self.quarantine
            if self.quarantine is not None
            else pl.DataFrame(schema=validate.QUARANTINE_SCHEMA)
        )

    def tables(self) -> dict[tuple[str, str], pl.DataFrame]:
        frames = {
            TABLES[0]: self.raw,
            TABLES[1]: self.staged,
            TABLES[2]: self.mentions,
            TABLES[3]: self.facts,
        }
        missing = [f"{layer}/{table}" for (layer, table), df in frames.items() if df is None]
        if missing:
            raise RuntimeError(f"tables not built yet: {missing}; run the earlier steps first")
        return {key: df for key, df in frames.items() if df is not None}


@dataclass
class Audit:
    """What the audit of one partition found. `status`: published, flagged (published with warnings) or
    failed (nothing published; the staged files are kept for inspection)."""

    status: Literal["published", "flagged", "failed"]
    blocking: list[str]
    warnings: list[str]
    rows_in: dict[str, int]
    published: dict[str, int]
    quarantined_by_reason: dict[str, int]
    quality_docs: str | None = None


def empty_result(root: Root, arrival_date: date, run_id: str) -> PartitionResult:
    """A date without arrivals: its ledger record (left as it is when already empty) and the result."""
    ledger.record_empty(root, arrival_date, run_id)
    return PartitionResult(arrival_date.isoformat(), run_id, "empty")


class AuditFailed(RuntimeError):
    """A partition failed its audit; the previously published partition is untouched."""

    def __init__(self, summary: PartitionResult, staging: Path) -> None:
        self.summary, self.staging = summary, staging
        super().__init__(
            f"partition {summary.arrival_date} failed its audit: {'; '.join(summary.reasons)} "
            f"(nothing published; staged files kept in {staging})"
        )

    def __reduce__(self) -> tuple[type, tuple[PartitionResult, Path]]:  # it crosses process boundaries
        return (AuditFailed, (self.summary, self.staging))


@dataclass(frozen=True)
class Chunk:
    """Files of a partition processed together. `stage_paths`: for a chunk of a partition too large for one
    (`Limits.max_chunk_documents`), the arrivals to stage, chosen over the whole partition (each document's
    latest arrival, `latest_arrivals`); None: chosen within the chunk."""

    files: list[Path]
    stage_paths: frozenset[str] | None = None


def plan_chunks(
    files: list[Path], arrival_date: date, source: Path, limits: Limits = DEFAULT_LIMITS
) -> list[Chunk]:
    """The partition in chunks of at most `limits.max_chunk_documents` files, in path order. When there is
    more than one, every file is read once beforehand (one chunk at a time, contents dropped) to pick which
    arrival of each document is staged, so copies in different chunks stage one document."""
    size = limits.max_chunk_documents
    pieces = [files[i : i + size] for i in range(0, len(files), size)]
    if len(pieces) <= 1:
        return [Chunk(list(files))]
    seen = pl.concat(
        [ingest.read_landing(p, arrival_date, source, limits)[0].drop("content") for p in pieces]
    )
    keep = frozenset(latest_arrivals(seen)["source_path"])
    return [Chunk(p, keep) for p in pieces]


def ingest_step(
    files: list[Path],
    arrival_date: date,
    source: Path,
    run_id: str,
    limits: Limits = DEFAULT_LIMITS,
    stage_paths: frozenset[str] | None = None,
) -> Batch:
    """Read the partition's (or chunk's) admitted files; every refused entry becomes a quarantine record
    with its reason."""
    began = time.perf_counter()
    raw, refused = ingest.read_landing(files, arrival_date, source, limits)
    contents = list(zip(raw["source_path"], raw["doc_id"], strict=True))
    digest = ledger.hash_of_contents(contents)
    rows = [
        {"doc_id": None, "source_file": r.path.name, "path": str(r.path), "reason": r.reason} for r in refused
    ]
    quarantine = validate.quarantine_landing(rows, run_id=run_id, arrival_date=arrival_date)
    seconds = {"ingest": round(time.perf_counter() - began, 3)}
    return Batch(
        arrival_date,
        run_id,
        raw,
        quarantine=quarantine,
        input_hash=digest,
        contents=contents,
        stage_paths=stage_paths,
        seconds=seconds,
    )


def stage_step(batch: Batch, limits: Limits = DEFAULT_LIMITS, workers: int = 1) -> Batch:
    """Stage each document once: identical bytes that arrived under several names are one document, named
    by its last arrival in path order (raw keeps every arrival)."""
    with batch.timed("clean"):
        candidates = batch.raw
        if batch.stage_paths is not None:  # a chunk: the arrivals picked over the whole partition
            candidates = candidates.filter(pl.col("source_path").is_in(list(batch.stage_paths)))
        batch.staged, rejected = clean.stage_in_workers(latest_arrivals(candidates), limits, workers)
        out = validate.quarantine_documents(rejected, run_id=batch.run_id, arrival_date=batch.arrival_date)
        batch.quarantine = pl.concat([batch.quarantined(), out], how="vertical")
    return batch


def latest_arrivals(raw: pl.DataFrame) -> pl.DataFrame:
    """One raw row per doc_id: the last arrival (by arrival date, then path) among the copies whose name
    gives a supported format (X.txt beside a byte-identical X.txt.bak is staged as X.txt)."""
    supported = (pl.col("format") != "unsupported").alias("_supported")
    ordered = raw.with_columns(supported).sort("_supported", "arrival_date", "source_path")
    return ordered.unique("doc_id", keep="last", maintain_order=True).drop("_supported")


def extract_step(
    batch: Batch, cache_root: Path | None = None, limits: Limits = DEFAULT_LIMITS, workers: int = 1
) -> Batch:
    """Mentions and facts of the staged documents; with `cache_root`, documents already extracted by this
    extractor version come from the cache (`warehouse.cache`). A document whose extraction runs over
    `limits.max_document_seconds` stays staged, gives no facts, and gets a quarantine/curated/indicators
    record with the reason."""
    assert batch.staged is not None, "stage_step must run first"
    with batch.timed("extract"):
        found, batch.cached_docs = cache.extract_with_cache(
            batch.staged, cache_root, limits.max_document_seconds, workers
        )
    batch.mentions, batch.facts = found.mentions, found.facts
    over = validate.quarantine_over_budget(
        found.over_budget, run_id=batch.run_id, arrival_date=batch.arrival_date
    )
    batch.quarantine = pl.concat([batch.quarantined(), over], how="vertical")
    return batch


def validate_step(batch: Batch) -> Batch:
    """Validate every table with its model plus the cross-table rules; failing rows go to quarantine."""
    with batch.timed("validate"):
        return _validate(batch)


def _validate(batch: Batch) -> Batch:
    """Each table in registry order with its model, its references (`schemas.registry`: checked against
    the valid rows of the table referred to) and its own row rules; failing rows go to quarantine."""
    tables = batch.tables()
    batch.rows_in = {f"{layer}/{table}": df.height for (layer, table), df in tables.items()}
    quarantined = [batch.quarantine] if batch.quarantine is not None else []
    kept: dict[str, pl.DataFrame] = {}
    for t in LAYER_TABLES:
        df = tables[t.key]
        reasons: dict[int, str] = {}
        for ref in t.references:
            parent_keys = set(kept[ref.table][ref.column])
            reasons |= validate.orphan_reasons(df, ref.column, parent_keys, ref.table)
        if t.path in ROW_RULES:
            reasons = ROW_RULES[t.path](df, kept) | reasons
        valid, failing = validate.split_valid(df, t.model, reasons)
        quarantined.append(
            validate.quarantine_rows(
                df, failing, layer=t.layer, table=t.name, run_id=batch.run_id, arrival_date=batch.arrival_date
            )
        )
        kept[t.path] = valid
    batch.raw, batch.staged = kept["raw/documents"], kept["staged/documents"]
    batch.mentions, batch.facts = kept["staged/mentions"], kept["curated/indicators"]
    batch.quarantine = validate.validate_quarantine(pl.concat(quarantined, how="vertical"))
    batch.validated = True
    return batch


# Row rules of a table beyond its model and references, given the valid rows of the tables before it.
ROW_RULES: dict[str, Callable[[pl.DataFrame, dict[str, pl.DataFrame]], dict[int, str]]] = {
    "curated/indicators": lambda facts, kept: validate.span_reasons(facts, kept["staged/documents"]),
}


def publish_step(batch: Batch, root: Root, *, quality: bool = True, docs: bool = True) -> PartitionResult:
    """Write-audit-publish of a partition held in one batch (`StagedPartition` with a single chunk)."""
    with StagedPartition(root, batch.arrival_date, batch.run_id, batch.started) as part:
        part.add(batch)
        return part.publish(quality=quality, docs=docs)


class StagedPartition:
    """Write-audit-publish of one partition, chunk by chunk: `add` appends a validated batch to the staging
    files (memory holds one chunk, never the partition), `publish` audits what was written and publishes
    it. A blocking rule raises AuditFailed (publishing nothing). Publishing and the partition's ledger record
    are one step (`ledger.publish`); the audit trail gets its line after."""

    def __init__(self, root: Root, arrival_date: date, run_id: str, started: float | None = None) -> None:
        self.root, self.arrival_date, self.run_id = root, arrival_date, run_id
        self.started = time.time() if started is None else started
        # a folder of its own per attempt: a retry never rewrites files an interrupted publish still names;
        # in the root's local work folder (the root itself, unless it is on object storage)
        self.staging = storage.staging_root(work_dir(root), f"{run_id}-{uuid.uuid4().hex[:8]}")
        self.expected: Counter[tuple[str, str]] = Counter()  # rows written per table
        # per table, the digest of the validated rows appended (`RowsDigest`); None once a batch that was
        # not validated is appended (the audit then re-runs the contract on every row)
        self.validated: dict[tuple[str, str], RowsDigest | None] = defaultdict(RowsDigest)
        self.rows_in: Counter[str] = Counter()  # rows per table before validation
        self.quarantine: list[pl.DataFrame] = []
        self.contents: list[tuple[str, str]] = []
        self.cached_docs = 0
        self.seconds: dict[str, float] = {}
        self._stack = contextlib.ExitStack()
        self._files = storage.PartitionAppender(self.staging, arrival_date)

    def __enter__(self) -> StagedPartition:
        # a crash leaves the folder unleased: the next run's recovery removes it
        self._stack.enter_context(storage.staging_lease(self.staging))
        self._stack.callback(self._files.abort)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def add(self, batch: Batch) -> None:
        """Append a validated batch (a partition, or a chunk of one) to the staging files."""
        with batch.timed("write"):
            for (layer, table), df in _outputs(batch).items():
                self._files.append(df, layer, table)
        self.expected.update({key: df.height for key, df in batch.tables().items()})
        for key, df in batch.tables().items():
            digest = self.validated[key]
            self.validated[key] = digest.update(df) if digest is not None and batch.validated else None
        self.rows_in.update(batch.rows_in)
        self.quarantine.append(batch.quarantined())
        self.contents += batch.contents
        self.cached_docs += batch.cached_docs
        for step, seconds in batch.seconds.items():
            self.seconds[step] = round(self.seconds.get(step, 0.0) + seconds, 3)

    def quarantined(self) -> pl.DataFrame:
        return pl.concat([pl.DataFrame(schema=validate.QUARANTINE_SCHEMA), *self.quarantine])

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = round(self.seconds.get(step, 0.0) + time.perf_counter() - began, 3)

    def publish(self, *, quality: bool = True, docs: bool = True) -> PartitionResult:
        """Audit the staging files and publish them (raises AuditFailed, keeping them, when a rule blocks)."""
        with self.timed("write"):
            self._files.close()
        try:
            with self.timed("audit"):
                audit = audit_partition(self, self.staging, self.root, quality=quality, docs=docs)
        except Exception as exc:  # an audit that cannot finish is a failed audit, recorded like any other
            audit = Audit(
                "failed", [f"audit error: {type(exc).__name__}: {exc}"], [], dict(self.rows_in), {}, {}
            )
        summary = _summary(self, audit)
        if audit.status == "failed":
            (self.staging / storage.FAILED_AUDIT).write_text(
                "\n".join(audit.blocking) + "\n", encoding="utf-8"
            )
            _record_run(self.root, summary)
            raise AuditFailed(summary, self.staging)
        digest = ledger.hash_of_contents(self.contents)
        record = ledger.published_record(summary, digest, time.time() - self.started)
        with self.timed("publish"):
            ledger.publish(self.root, record, self.staging)
        summary = replace(summary, seconds=dict(self.seconds))
        _record_run(self.root, summary)
        return summary


def audit_markdown(summary: PartitionResult) -> str:
    """The audit of one partition run as Markdown (the Prefect artifact and the CLI report)."""
    lines = [
        f"# Audit of partition {summary.arrival_date}: {summary.status}",
        "",
        f"run `{summary.run_id}`; published: {summary.documents} documents, {summary.mentions} mentions, "
        f"{summary.facts} facts; quarantined: {summary.quarantined} rows",
        "",
    ]
    if summary.rows_in:
        lines += ["| table | rows in |", "| --- | ---: |"]
        lines += [f"| {table} | {n} |" for table, n in summary.rows_in.items()]
        lines.append("")
    if summary.reasons:
        label = "Blocking failures" if summary.status == "failed" else "Warnings"
        lines += [f"## {label}", "", *[f"- {r}" for r in summary.reasons], ""]
    if summary.quarantined_by_reason:
        lines += ["## Quarantined by reason", "", "| reason | rows |", "| --- | ---: |"]
        lines += [f"| {r} | {n} |" for r, n in sorted(summary.quarantined_by_reason.items())]
        lines.append("")
    if summary.quality_docs:
        lines.append(f"Data Docs: `{summary.quality_docs}`")
    return "\n".join(lines)


def _outputs(batch: Batch) -> dict[tuple[str, str], pl.DataFrame]:
    """Every file a partition publishes: the four tables, then one quarantine table per table (empty ones
    too, so a rerun with nothing quarantined replaces an earlier quarantine)."""
    q = batch.quarantined()
    out = dict(batch.tables())
    for layer, table in TABLES:
        part = q.filter((pl.col("layer") == layer) & (pl.col("table") == table))
        out[("quarantine", f"{layer}/{table}")] = part
    return out


def audit_partition(
    part: StagedPartition, staging: Path, root: Root, *, quality: bool = True, docs: bool = True
) -> Audit:
    """Audit the files written under `staging`: read each back a row group (a chunk) at a time and re-check
    its contract and row count, re-check the cross-table keys on what was read, then run the quality
    checkpoint on curated (its Data Docs page built now, or with `docs` off by `quality.build_docs` at the
    end of a run or backfill)."""
    blocking: list[str] = []
    written: dict[tuple[str, str], pl.DataFrame] = {}  # the key columns of each table
    for (layer, table), expected in part.expected.items():
        name = f"{layer}/{table}"
        keys = [c for c in KEY_COLUMNS if c in MODELS[(layer, table)].to_schema().columns]
        ids = storage.read_staged(staging, layer, table, part.arrival_date, columns=keys)
        if ids is None:
            blocking.append(f"{name}: nothing was written")
            continue
        written[(layer, table)] = ids
        validated = part.validated[(layer, table)]
        if ids.height != expected:
            blocking.append(f"{name}: wrote {ids.height} rows, expected {expected}")
            validated = None  # blocked already: the contract is re-run to say what else is wrong
        blocking += _contract_after_writing(staging, layer, table, part.arrival_date, validated)
    blocking += _cross_table(written)
    q = part.quarantined()
    audit = Audit(
        status="published",
        blocking=blocking,
        warnings=[],
        rows_in=dict(part.rows_in),
        published={f"{layer}/{table}": df.height for (layer, table), df in written.items()},
        quarantined_by_reason=dict(Counter(q["reason"].to_list())),
    )
    if quality and TABLES[3] in written:
        from warehouse import quality as gx_quality  # Great Expectations is slow to import: only here

        facts = storage.read_staged(staging, *TABLES[3], part.arrival_date)
        assert facts is not None  # it was read above
        result = gx_quality.check_curated(
            facts,
            storage.read_partition(root, *TABLES[3], part.arrival_date),
            root=work_dir(root),  # its stores and Data Docs are local files
            arrival_date=part.arrival_date,
            run_id=part.run_id,
            blocked_by=blocking,
            docs=docs,
        )
        audit.blocking += result.blocking
        audit.warnings += [f for f in result.failures if f not in result.blocking]
        audit.quality_docs = str(result.docs_index)
    audit.status = "failed" if audit.blocking else "flagged" if audit.warnings else "published"
    return audit


class RowsDigest:
    """A digest of a table's rows in order, fed a frame at a time (columns by name), so the rows read back
    from a staging file can be compared with the rows that were validated and appended, whatever the row
    groups."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)

    def update(self, df: pl.DataFrame) -> RowsDigest:
        if df.height:
            self._hash.update(df.select(sorted(df.columns)).hash_rows(seed=0).to_numpy().tobytes())
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RowsDigest) and self._hash.digest() == other._hash.digest()


def _contract_after_writing(
    staging: Path, layer: str, table: str, arrival_date: date, validated: RowsDigest | None
) -> list[str]:
    """The table's contract re-checked on what was written, one row group at a time: its columns and types
    always; its rows, when they are not exactly the rows that passed validation (`validated`, their digest)
    by running the contract again on every row."""
    model, written = MODELS[(layer, table)], RowsDigest()
    try:
        for df in storage.iter_staged(staging, layer, table, arrival_date):
            validate.check_columns(df, model)
            written.update(df)
    except validate.ContractError as exc:
        return [f"{layer}/{table}: {exc}"]
    if validated is not None and written == validated:
        return []
    failing = 0
    for df in storage.iter_staged(staging, layer, table, arrival_date):
        failing += len(validate.split_valid(df, model)[1])
    out = [f"{layer}/{table}: {failing} rows fail the contract after writing"] if failing else []
    if validated is not None:
        out.append(f"{layer}/{table}: the rows written are not the rows that passed validation")
    return out


def _cross_table(written: dict[tuple[str, str], pl.DataFrame]) -> list[str]:
    """The registry's references on what was written: every staged document is in raw, every mention and
    fact names a staged document (`written`: the key columns of each table, `KEY_COLUMNS`)."""
    out = []
    for t in LAYER_TABLES:
        for ref in t.references:
            parent = registry.table(ref.table).key
            if t.key in written and parent in written:
                orphans = set(written[t.key][ref.column]) - set(written[parent][ref.column])
                if orphans:
                    out.append(f"{t.path}: {len(orphans)} {ref.column}s not in {ref.table}")
    return out


def _summary(batch: StagedPartition, audit: Audit) -> PartitionResult:
    return PartitionResult(
        arrival_date=batch.arrival_date.isoformat(),
        run_id=batch.run_id,
        status=audit.status,
        documents=audit.published.get("staged/documents", 0),
        mentions=audit.published.get("staged/mentions", 0),
        facts=audit.published.get("curated/indicators", 0),
        quarantined=sum(audit.quarantined_by_reason.values()),
        rows_in=audit.rows_in,
        reasons=tuple(audit.blocking or audit.warnings),
        quarantined_by_reason=audit.quarantined_by_reason,
        quality_docs=audit.quality_docs,
        seconds=dict(batch.seconds),
    )


def _record_run(root: Root, summary: PartitionResult) -> None:
    """Append the partition run to ``<work>/_audit/runs.jsonl`` (the audit trail of this machine's runs,
    failed ones included; the work folder is the root unless the root is on object storage)."""
    folder = work_dir(root) / storage.AUDIT
    folder.mkdir(parents=True, exist_ok=True)
    line = summary.as_dict() | {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "extractor_version": EXTRACTOR_VERSION,
    }
    storage.append_line(folder / "runs.jsonl", json.dumps(line, ensure_ascii=False))


def run_partition(
    files: list[Path],
    arrival_date: date,
    source: Path,
    root: Root,
    run_id: str,
    *,
    quality: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    workers: int = 1,
    docs: bool = True,
) -> PartitionResult:
    """All steps of one partition without Prefect (a date without files is an empty result); cleaning
    and extraction in `workers` processes (`warehouse.workers`)."""
    if not files:
        return empty_result(root, arrival_date, run_id)
    chunks = plan_chunks(files, arrival_date, source, limits)
    with StagedPartition(root, arrival_date, run_id) as part:
        for chunk in chunks:  # one chunk in memory at a time
            batch = ingest_step(chunk.files, arrival_date, source, run_id, limits, chunk.stage_paths)
            batch = extract_step(stage_step(batch, limits, workers), work_dir(root), limits, workers)
            part.add(validate_step(batch))
            del batch
        return part.publish(quality=quality, docs=docs)
