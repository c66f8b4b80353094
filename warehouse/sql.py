"""SQL over the current snapshot with DuckDB: one view per curated table, from the manifest's files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from warehouse import read


def connect(root: str | Path) -> Any:
    """An in-memory DuckDB connection with views indicators, indicator_panel, regions and documents."""
    import duckdb

    con = duckdb.connect()
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
