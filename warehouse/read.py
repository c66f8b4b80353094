"""Read the curated tables of the current snapshot as polars LazyFrames.

    from warehouse import read
    panel = read.panel("data", region="四川省", indicators=["bridging_funds"], years=(2021, 2023))
    panel.collect()
    snap = read.snapshot("data")  # several tables of one snapshot
    facts, documents = snap.indicators().collect(), snap.documents().collect()

Each table is a Delta table; a snapshot is the version of each table it is made of (its manifest,
``curated/_manifest.json``, and earlier ones in ``curated/_snapshots/<id>.json`` for a week). Without this
module, read a table at a snapshot's version with polars (``pl.scan_delta("data/curated/indicator_panel",
version=v)``), ``deltalake.DeltaTable(path, version=v).to_pyarrow_dataset()`` (DuckDB reads that dataset),
or any Delta Lake reader; plain Parquet readers would see the files of every version at once. The
snapshot's `indicators` are the rows of curated/indicators whose (doc_id, arrival_date) is in its
`documents` (a document that arrived twice keeps the facts of its latest arrival).

`root` is a local folder or a URL (``s3://bucket/warehouse``, ``file:///…``). For ``s3://`` give
`store=ObjectStore(endpoint_url=…, key=…, secret=…)` or a profile (`warehouse.objectstore`); without it
the standard ``AWS_*`` environment variables apply. Every reader follows the current manifest; to read
several tables of one snapshot while runs publish the next, pin it with `snapshot()` and read through that
object.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from schemas.registry import CONSUMER_TABLES
from warehouse import catalog, location, regions
from warehouse.objectstore import ObjectStore, is_s3

TABLES = tuple(CONSUMER_TABLES)  # indicators, indicator_panel, regions, documents (schemas.registry)


def manifest(
    root: str | Path, store: ObjectStore | None = None, snapshot_id: str | None = None
) -> dict[str, Any]:
    """The current snapshot's manifest, or that of an earlier snapshot `snapshot_id` (kept in
    ``curated/_snapshots/`` for the vacuum retention); FileNotFoundError when there is none."""
    name = "_manifest.json" if snapshot_id is None else f"_snapshots/{snapshot_id}.json"
    where = location.join(root, f"curated/{name}")
    if _is_url(root):
        import fsspec

        options = _store(root, store).fsspec_options() if is_s3(str(root)) else {}
        with fsspec.open(where, "r", encoding="utf-8", **options) as fh:
            return dict(json.load(fh))
    path = Path(where)
    if not path.exists() and snapshot_id is not None:
        raise FileNotFoundError(f"no snapshot {snapshot_id} under {root} (vacuumed, or never made)")
    if not path.exists():
        raise FileNotFoundError(f"no snapshot under {root}: run `python -m warehouse run` first")
    return dict(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Snapshot:
    """One snapshot, pinned: every table read through it comes from the same manifest, however many runs
    publish meanwhile (`read.snapshot(root)`; the module-level readers each follow the current manifest)."""

    root: str | Path
    manifest: dict[str, Any]
    store: ObjectStore | None = None

    def table(self, name: str, **filters: Any) -> pl.LazyFrame:
        return _scan(self, name, **filters)

    def indicators(self, **filters: Any) -> pl.LazyFrame:
        return _scan(self, "indicators", **filters)

    def panel(self, **filters: Any) -> pl.LazyFrame:
        return _scan(self, "indicator_panel", **filters)

    def regions(self, **filters: Any) -> pl.LazyFrame:
        return _scan(self, "regions", **filters)

    def documents(self, **filters: Any) -> pl.LazyFrame:
        return _scan(self, "documents", **filters)


def snapshot(
    root: str | Path = "data", store: ObjectStore | None = None, snapshot_id: str | None = None
) -> Snapshot:
    """The current snapshot (or the earlier one `snapshot_id`), pinned for several reads: its tables are
    read at the versions its manifest records."""
    store = _store(root, store) if is_s3(str(root)) else None
    return Snapshot(root, manifest(root, store, snapshot_id), store)


def table(
    name: str,
    root: str | Path = "data",
    *,
    region: str | None = None,
    indicators: list[str] | None = None,
    years: tuple[int, int] | None = None,
    store: ObjectStore | None = None,
) -> pl.LazyFrame:
    """A curated table of the current snapshot, filtered to a region and its descendants (name or code),
    indicator codes and an inclusive year range, where the table has those columns."""
    pinned = snapshot(root, store)
    return _scan(pinned, name, region=region, indicators=indicators, years=years)


def _scan(
    snap: Snapshot,
    name: str,
    *,
    region: str | None = None,
    indicators: list[str] | None = None,
    years: tuple[int, int] | None = None,
) -> pl.LazyFrame:
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; expected one of {TABLES}")
    lf = _table_at_version(snap, name)
    if name == "indicators":  # a document that arrived again: the facts of its latest arrival only
        lf = of_latest_arrivals(lf, _table_at_version(snap, "documents"))
    columns = lf.collect_schema().names()
    if region is not None and "region_code" in columns:
        lf = lf.filter(pl.col("region_code").is_in(sorted(descendants(region))))
    if indicators is not None and "indicator" in columns:
        lf = lf.filter(pl.col("indicator").is_in(indicators))
    if years is not None and "year" in columns:
        lf = lf.filter(pl.col("year").is_between(*years))
    return lf


def table_entry(snap: Snapshot, name: str) -> dict[str, Any]:
    """A table's entry in the manifest (`path`, `version`); a manifest of the layout before Delta tables
    (file lists) is refused with what to do."""
    entry = snap.manifest["tables"][name]
    if not isinstance(entry, dict):
        raise RuntimeError(
            f"the snapshot under {snap.root} was written by an earlier warehouse version: convert the root "
            "with `python -m warehouse migrate --root ROOT`"
        )
    return entry


def _table_at_version(snap: Snapshot, name: str) -> pl.LazyFrame:
    """A snapshot table as the Delta table at the version the manifest records."""
    entry = table_entry(snap, name)
    if entry["version"] is None:  # nothing of it was ever written (no facts yet): empty, of the right shape
        from warehouse.extract import FACT_SCHEMA

        return pl.LazyFrame(schema=FACT_SCHEMA)
    options = snap.store.polars_options() if snap.store else None
    return pl.scan_delta(
        location.join(snap.root, entry["path"]), version=entry["version"], storage_options=options
    )


def of_latest_arrivals(facts: pl.LazyFrame, documents: pl.LazyFrame) -> pl.LazyFrame:
    """The facts of each document's latest arrival: those whose (doc_id, arrival_date) is the document's
    row in `documents` (one row per document, from its latest arrival), in their order."""
    latest = documents.select("doc_id", "arrival_date")
    return facts.join(latest, on=["doc_id", "arrival_date"], how="semi", maintain_order="left")


def indicators(root: str | Path = "data", **filters: Any) -> pl.LazyFrame:
    """curated/indicators: every fact with its evidence."""
    return table("indicators", root, **filters)


def panel(root: str | Path = "data", **filters: Any) -> pl.LazyFrame:
    """curated/indicator_panel: one value per region, year and indicator."""
    return table("indicator_panel", root, **filters)


def regions_table(root: str | Path = "data", **filters: Any) -> pl.LazyFrame:
    """curated/regions: codes, names, levels and parents."""
    return table("regions", root, **filters)


def documents(root: str | Path = "data", **filters: Any) -> pl.LazyFrame:
    """curated/documents: title, publisher, dates, file and region of each source document."""
    return table("documents", root, **filters)


def catalog_table() -> pl.LazyFrame:
    """The indicator catalog: code, Chinese name, unit, definition, typical cues and what does not count
    (project data, the same for every snapshot; SQL view `catalog`)."""
    return pl.LazyFrame([asdict(i) for i in catalog.indicators().values()])


def descendants(region: str) -> set[str]:
    """A region (code or full name) and every region inside it; 全国 is every region."""
    gaz = regions.gazetteer()
    code = region if region in gaz else next((c for c, r in gaz.items() if r.name == region), None)
    if code is None:
        raise ValueError(f"unknown region {region!r}: give a GB/T 2260 code or a full official name")
    if code == regions.NATIONAL:
        return set(gaz)
    return {c for c in gaz if c == code or code in regions.ancestors(c)}


def _store(root: str | Path, store: ObjectStore | None) -> ObjectStore:
    """The store of an s3:// root: the one given, else the environment's."""
    return store if store is not None else ObjectStore.from_env()


def _is_url(root: str | Path) -> bool:
    return isinstance(root, str) and "://" in root
