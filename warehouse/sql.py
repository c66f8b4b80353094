"""SQL over the current snapshot with DuckDB: one view per curated table, from the manifest's files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from warehouse import read


def connect(root: str | Path) -> Any:
    """An in-memory DuckDB connection with views indicators, indicator_panel, regions and documents, and the
    indicator catalog as `catalog` (code, name_zh, unit, definition, typical_cues, not_this)."""
    import duckdb

    con = duckdb.connect()
    con.register("catalog", read.catalog_table().collect().to_arrow())
    tables = read.manifest(root)["tables"]
    for name in read.TABLES:
        files = [read._join(root, f) for f in tables[name]]
        hive = ", hive_partitioning = true" if name == "indicators" else ""
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listing}]{hive})")
    return con


def query(root: str | Path, statement: str) -> pl.DataFrame:
    """Run one SQL statement against the snapshot; the result as a polars DataFrame."""
    con = connect(root)
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
