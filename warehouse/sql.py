"""SQL over the current snapshot with DuckDB: one relation per curated table, at the manifest's versions.

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

from warehouse import location, read
from warehouse.objectstore import ObjectStore


def connect(root: str | Path, store: ObjectStore | None = None) -> Any:
    """An in-memory DuckDB connection over one snapshot: indicators, indicator_panel, regions and
    documents, and the indicator catalog as `catalog` (code, name_zh, unit, definition, typical_cues,
    not_this). Each table is the Delta table at the version the manifest records, scanned through Arrow
    (`deltalake`; DuckDB's delta and httpfs extensions are not needed), an ``s3://`` root with `store` (else
    the ``AWS_*`` environment). File access is off once they are registered."""
    import duckdb

    snap = read.snapshot(root, store)
    con = duckdb.connect()
    con.register("catalog", read.catalog_table().collect().to_arrow())
    for name in read.TABLES:
        con.register(f"_{name}" if name == "indicators" else name, _dataset(snap, name))
    # a document that arrived again: the facts of its latest arrival only (as `read.indicators`)
    con.execute(
        "CREATE TEMP VIEW indicators AS SELECT f.* FROM _indicators f "
        "SEMI JOIN documents d ON f.doc_id = d.doc_id AND f.arrival_date = d.arrival_date"
    )
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _dataset(snap: read.Snapshot, name: str) -> Any:
    """A snapshot table as an Arrow dataset of its Delta table at the manifest's version."""
    from deltalake import DeltaTable

    entry = read.table_entry(snap, name)
    if entry["version"] is None:  # nothing written yet: the read API's empty table of the right shape
        return read._table_at_version(snap, name).collect().to_arrow()
    options = snap.store.polars_options() if snap.store else None
    table = DeltaTable(
        location.join(snap.root, entry["path"]), version=entry["version"], storage_options=options
    )
    return table.to_pyarrow_dataset()


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
