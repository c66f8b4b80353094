"""Every table of the warehouse, once: its pandera model (the contract), where it lives under the root,
whether it is partitioned by arrival date, what consumers call it, and the keys it refers to.

Everything else about a table is derived from its entry: the polars schema its frames are built with
(`polars_schema`), the tables a partition run writes and audits (`LAYER_TABLES`, each with a quarantine
table `quarantine/<layer>/<table>` of `QuarantineRecord` rows), the snapshot's tables and the names
consumers read them by in the read API and as DuckDB views (`CONSUMER_TABLES`), the data dictionary
(`warehouse.dictionary`) and the cross-table key checks (`references`). A new table is one model and one
entry here. The entries are checked when this module loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandera.polars as pa

from schemas.curated import CuratedIndicator
from schemas.quarantine import QuarantineRecord
from schemas.raw import RawDocument
from schemas.snapshot import CuratedDocument, CuratedPanel, CuratedRegion
from schemas.staged import StagedDocument, StagedMention

PARTITION = "arrival_date"  # the partition column of every partitioned table (a date)
LAYERS = ("raw", "staged", "curated", "quarantine")


@dataclass(frozen=True)
class Reference:
    """Every value of `column` is a value of the same column in the table at `table` (of one partition)."""

    column: str
    table: str


@dataclass(frozen=True)
class Table:
    path: str  # <layer>/<name> under the root: the Delta table's folder
    model: type[pa.DataFrameModel]
    partitioned: bool = True  # by arrival_date, a partition per run; False: replaced whole by each snapshot
    consumer: str | None = None  # its name in a snapshot (read API, SQL view); None: not read by consumers
    references: tuple[Reference, ...] = ()
    free_text: tuple[str, ...] = ()  # long text columns: no min/max statistics in the table's Delta log

    @property
    def layer(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.path.split("/", 1)[1]

    @property
    def key(self) -> tuple[str, str]:
        return (self.layer, self.name)

    def polars_schema(self) -> dict[str, Any]:
        """Column → polars type, in the model's order."""
        return polars_schema(self.model)

    def stats_columns(self) -> list[str]:
        """The columns whose min/max each data file's entry in the Delta log records (for skipping files
        on a filter): all but the free text and the partition column. A document's whole text as the min
        and max of every file made each log entry ~4.7 KB: at 1,000 partitions a checkpoint of
        staged/documents was 11 MB, read by every commit."""
        return [c for c in self.model.to_schema().columns if c not in (*self.free_text, PARTITION)]


def polars_schema(model: type[pa.DataFrameModel]) -> dict[str, Any]:
    return {name: column.dtype.type for name, column in model.to_schema().columns.items()}


def _doc(table: str) -> tuple[Reference, ...]:
    return (Reference("doc_id", table),)


TABLES: tuple[Table, ...] = (
    Table("raw/documents", RawDocument, free_text=("content",)),
    Table("staged/documents", StagedDocument, references=_doc("raw/documents"), free_text=("text",)),
    Table("staged/mentions", StagedMention, references=_doc("staged/documents"), free_text=("sentence",)),
    Table(
        "curated/indicators",
        CuratedIndicator,
        consumer="indicators",
        references=_doc("staged/documents"),
        free_text=("evidence",),
    ),
    Table("curated/indicator_panel", CuratedPanel, partitioned=False, consumer="indicator_panel"),
    Table("curated/regions", CuratedRegion, partitioned=False, consumer="regions"),
    Table("curated/documents", CuratedDocument, partitioned=False, consumer="documents"),
)
LAYER_TABLES = tuple(t for t in TABLES if t.partitioned)  # what a partition run writes, in this order
QUARANTINE_TABLES = tuple(
    Table(f"quarantine/{t.path}", QuarantineRecord, free_text=("record",)) for t in LAYER_TABLES
)
SNAPSHOT_TABLES = tuple(t for t in TABLES if not t.partitioned)  # what a snapshot build writes
CONSUMER_TABLES = {t.consumer: t for t in TABLES if t.consumer is not None}


def table(path: str) -> Table:
    """The entry of `path` (``curated/indicators``); KeyError naming the known tables."""
    for t in (*TABLES, *QUARANTINE_TABLES):
        if t.path == path:
            return t
    raise KeyError(f"no table {path!r}; the tables are {', '.join(t.path for t in TABLES)}")


def check(tables: tuple[Table, ...] = TABLES) -> None:
    """ValueError unless every entry is sound: a known layer, unique paths and consumer names, partitioned
    tables carrying `arrival_date`, references to tables listed before them (a run writes and publishes in
    this order) and to columns both models have."""
    problems: list[str] = []
    seen: dict[str, Table] = {}
    for t in tables:
        columns = t.model.to_schema().columns
        if t.layer not in LAYERS or "/" not in t.path:
            problems.append(f"{t.path}: not <layer>/<name> with a layer of {LAYERS}")
        if t.path in seen:
            problems.append(f"{t.path}: listed twice")
        if t.partitioned and PARTITION not in columns:
            problems.append(f"{t.path}: partitioned but its model has no {PARTITION}")
        if set(t.free_text) - set(columns):
            problems.append(f"{t.path}: free text {sorted(set(t.free_text) - set(columns))} not in its model")
        for ref in t.references:
            parent = seen.get(ref.table)
            if parent is None:
                problems.append(f"{t.path}: refers to {ref.table}, not listed before it")
            elif ref.column not in columns or ref.column not in parent.model.to_schema().columns:
                problems.append(f"{t.path}: {ref.column} is not a column of both it and {ref.table}")
        seen[t.path] = t
    consumers = [t.consumer for t in tables if t.consumer]
    if len(consumers) != len(set(consumers)):
        problems.append(f"consumer names repeat: {consumers}")
    if problems:
        raise ValueError("table registry: " + "; ".join(problems))


check()
