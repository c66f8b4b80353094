"""The steps of one arrival-date partition, as plain functions over DataFrames.

ingest → stage (clean) → extract → validate → publish. `flows/` runs each step as a Prefect task;
`run_partition` chains them without Prefect (tests, library use).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import polars as pl

from schemas import CuratedIndicator, RawDocument, StagedDocument, StagedMention
from warehouse import clean, extract, ingest, storage, validate

TABLES = (("raw", "documents"), ("staged", "documents"), ("staged", "mentions"), ("curated", "indicators"))


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


@dataclass
class Summary:
    arrival_date: str
    documents: int
    mentions: int
    facts: int
    quarantined: int

    def as_dict(self) -> dict[str, str | int]:
        return asdict(self)


def ingest_step(files: list[Path], arrival_date: date, source: Path, run_id: str) -> Batch:
    return Batch(arrival_date, run_id, ingest.read_raw(files, arrival_date, source))


def stage_step(batch: Batch) -> Batch:
    batch.staged, rejected = clean.stage_documents(batch.raw)
    batch.quarantine = validate.quarantine_documents(
        rejected, run_id=batch.run_id, arrival_date=batch.arrival_date
    )
    return batch


def extract_step(batch: Batch) -> Batch:
    assert batch.staged is not None, "stage_step must run first"
    batch.mentions, batch.facts = extract.extract(batch.staged)
    return batch


def validate_step(batch: Batch) -> Batch:
    """Validate every table with its model; failing rows (and orphans) go to quarantine."""
    assert batch.staged is not None and batch.mentions is not None and batch.facts is not None
    quarantined = [batch.quarantine] if batch.quarantine is not None else []

    def keep_valid(
        df: pl.DataFrame, model: type, layer: str, table: str, parents: tuple[set[str], str] | None = None
    ) -> pl.DataFrame:
        if parents is not None:
            orphans = validate.orphan_reasons(df, "doc_id", *parents)
            quarantined.append(
                validate.quarantine_rows(
                    df,
                    orphans,
                    layer=layer,
                    table=table,
                    run_id=batch.run_id,
                    arrival_date=batch.arrival_date,
                )
            )
            df = df.with_row_index("_i").filter(~pl.col("_i").is_in(list(orphans))).drop("_i")
        valid, reasons = validate.split_valid(df, model)
        quarantined.append(
            validate.quarantine_rows(
                df, reasons, layer=layer, table=table, run_id=batch.run_id, arrival_date=batch.arrival_date
            )
        )
        return valid

    batch.raw = keep_valid(batch.raw, RawDocument, "raw", "documents")
    batch.staged = keep_valid(
        batch.staged, StagedDocument, "staged", "documents", (set(batch.raw["doc_id"]), "raw/documents")
    )
    staged_ids = (set(batch.staged["doc_id"]), "staged/documents")
    batch.mentions = keep_valid(batch.mentions, StagedMention, "staged", "mentions", staged_ids)
    batch.facts = keep_valid(batch.facts, CuratedIndicator, "curated", "indicators", staged_ids)
    batch.quarantine = validate.validate_quarantine(pl.concat(quarantined, how="vertical"))
    return batch


def publish_step(batch: Batch, root: Path) -> Summary:
    """Write every table's partition atomically (raw first, curated last), then the quarantine."""
    tables = {
        ("raw", "documents"): batch.raw,
        ("staged", "documents"): batch.staged,
        ("staged", "mentions"): batch.mentions,
        ("curated", "indicators"): batch.facts,
    }
    for (layer, table), df in tables.items():
        assert df is not None, f"{layer}/{table} missing: run validate_step first"
        storage.write_partition(df, root, layer, table, batch.arrival_date)
    q = batch.quarantine if batch.quarantine is not None else pl.DataFrame(schema=validate.QUARANTINE_SCHEMA)
    for (layer, table), part in _by_table(q).items():
        storage.write_partition(part, root, "quarantine", f"{layer}/{table}", batch.arrival_date)
    return summarize(batch)


def _by_table(q: pl.DataFrame) -> dict[tuple[str, str], pl.DataFrame]:
    """Quarantine partitions per layer/table; tables with nothing quarantined are written empty."""
    return {
        (layer, table): q.filter((pl.col("layer") == layer) & (pl.col("table") == table))
        for layer, table in TABLES
    }


def summarize(batch: Batch) -> Summary:
    return Summary(
        arrival_date=batch.arrival_date.isoformat(),
        documents=batch.staged.height if batch.staged is not None else 0,
        mentions=batch.mentions.height if batch.mentions is not None else 0,
        facts=batch.facts.height if batch.facts is not None else 0,
        quarantined=batch.quarantine.height if batch.quarantine is not None else 0,
    )


def run_partition(files: list[Path], arrival_date: date, source: Path, root: Path, run_id: str) -> Summary:
    """All steps of one partition without Prefect."""
    batch = ingest_step(files, arrival_date, source, run_id)
    return publish_step(validate_step(extract_step(stage_step(batch))), root)
