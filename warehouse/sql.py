"""SQL over the current snapshot with DuckDB: one relation per curated table, from the manifest's files.

The connection is read-only towards the file system: the snapshot's files are scanned through Arrow
datasets registered before DuckDB's external access is switched off and the setting locked, so a statement
cannot read other files (read_text('/etc/shadow')), write any (COPY … TO), attach databases or install
extensions. Results are written by the caller (`warehouse sql -o FILE`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from warehouse import read
from warehouse.objectstore import S3, ObjectStore, is_s3


def connect(root: str | Path, store: ObjectStore | None = None) -> Any:
    """An in-memory DuckDB connection over one snapshot: indicators, indicator_panel, regions and
    documents, and the indicator catalog as `catalog` (code, name_zh, unit, definition, typical_cues,
    not_this). File access is off once they are registered. An ``s3://`` root is read through pyarrow's
    S3 file system (`store`, else the ``AWS_*`` environment): DuckDB's httpfs extension is not needed."""
    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds

    snap = read.snapshot(root, store)
    filesystem = snap.store.arrow_filesystem() if snap.store else None
    con = duckdb.connect()
    con.register("catalog", read.catalog_table().collect().to_arrow())
    for name in read.TABLES:
        files = [_dataset_path(read._join(root, f)) for f in snap.manifest["tables"][name]]
        if name == "indicators" and not files:  # nothing published yet: an empty table of the right shape
            from warehouse.extract import FACT_SCHEMA

            con.register(name, pl.DataFrame(schema=FACT_SCHEMA).to_arrow())
        elif name == "indicators":  # hive folders arrival_date=YYYY-MM-DD/part-0.parquet
            base = str(Path(files[0]).parent.parent)
            part = ds.partitioning(pa.schema([("arrival_date", pa.date32())]), flavor="hive")
            dataset = ds.dataset(
                files, format="parquet", partitioning=part, partition_base_dir=base, filesystem=filesystem
            )
            con.register(name, dataset)
        else:
            con.register(name, ds.dataset(files, format="parquet", filesystem=filesystem))
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _dataset_path(location: str) -> str:
    """What pyarrow's file systems take: ``bucket/key`` for s3://, a local path for file://."""
    if is_s3(location):
        return location[len(S3) :]
    return location.removeprefix("file://")


def query(root: str | Path, statement: str, store: ObjectStore | None = None) -> pl.DataFrame:
    """Run one SQL statement against the snapshot; the result as a polars DataFrame."""
    con = connect(root, store)
    try:
        return pl.from_arrow(con.sql(statement).to_arrow_table())  # type: ignore[return-value]
    finally:
        con.close()


def write_csv(df: pl.DataFrame, path: Path) -> None:
    """`df` as CSV; list and struct columns (CSV has no nested values) as JSON text."""
    nested = [name for name, dtype in df.schema.items() if dtype.is_nested()]
    flat = df.with_columns(
        pl.Series(
            name, [json.dumps(v, ensure_ascii=False, default=str) for v in df[name].to_list()], pl.String
        )
        for name in nested
    )
    flat.write_csv(path)
