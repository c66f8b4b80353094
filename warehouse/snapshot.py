"""The consumer snapshot: indicator panel and dimension tables, rebuilt after every run, published whole.

A snapshot lives in ``<root>/curated/_snapshots/<id>/``: the four curated tables (`indicators` as hard links
to the partition files of that moment, so a later run replacing a partition does not change it, plus
`indicator_panel`, `regions`, `documents`). A document that arrived on several dates is one document in a
snapshot: its facts and its row come from the latest arrival (partitions holding an earlier copy are copied
without its facts instead of linked). ``<root>/curated/_manifest.json`` is written last, atomically,
and names the current snapshot's files; readers (`warehouse.read`) follow it, so they always see one
consistent snapshot. The last `KEEP` snapshots are kept for readers still on an older one, and any
snapshot superseded less than `GRACE_S` seconds ago.

The build holds a bucket of facts at a time, not the warehouse: the panel is built and written a run of
panel keys at a time (`FACTS_PER_BUCKET`), one file each, in key order; what it keeps whole is one row per
document (the `documents` table and each document's latest arrival). 100,000 documents (2.2M facts): 10 s
and 0.6 GB, against 26 s and 1.9 GB built whole.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

from schemas import StagedDocument
from schemas.snapshot import CuratedDocument, CuratedPanel, CuratedRegion
from warehouse import EXTRACTOR_VERSION, ledger, regions, storage, validate

MANIFEST = "_manifest.json"
SNAPSHOTS = "_snapshots"
KEEP = 3
GRACE_S = 15 * 60  # a superseded snapshot stays readable this long (beyond the last KEEP)
SNAPSHOT_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "indicator_panel": CuratedPanel,
    "regions": CuratedRegion,
    "documents": CuratedDocument,
}


def build_panel(
    facts: pl.DataFrame, documents: pl.DataFrame, region_dim: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per (region_code, year, indicator). Choice: a value of its own before a part, a range end or
    the start of a change (`role`), exact before approximate, then the most recent publication, then the
    most specific source (the region's own report before a parent's or another's), then the largest value,
    then the smallest fact_id. Conflicts are the other values of the same scope: facts of role `value`
    (parts are narrower scopes, not disagreements; an approximate figure does not contradict an exact one).
    Facts without a year stay out, and so do towns (region_level 'town': they have no GB/T 2260 code of
    their own; read them from `indicators`). `region_dim` is `build_regions()` (built here when not given)."""
    own = documents.select("doc_id", pl.col("region_code").alias("doc_region"))
    parents = (region_dim if region_dim is not None else build_regions()).select(
        "region_code", "parent_code", "city_code", "province_code"
    )
    ranked = (
        facts.filter(pl.col("year").is_not_null() & (pl.col("region_level") != "town"))
        .join(own, on="doc_id", how="left")
        .join(parents, on="region_code", how="left")
        .with_columns(specificity=_specificity(), _not_value=pl.col("role") != "value")
        .sort(
            ["_not_value", "approximate", "published_date", "specificity", "value", "fact_id"],
            descending=[False, False, True, False, True, False],
            nulls_last=True,
        )
    )
    key = ["region_code", "year", "indicator"]
    chosen = ranked.group_by(key, maintain_order=True).agg(
        pl.col("region_name").first(),
        pl.col("unit").first(),
        pl.col("value").first(),
        pl.col("fact_id").first().alias("chosen_fact_id"),
        pl.col("doc_id").first().alias("chosen_doc_id"),
        pl.col("doc_id").n_unique().cast(pl.Int64).alias("sources"),
        pl.col("fact_id").alias("fact_ids"),
        pl.col("approximate").first().alias("_approx"),
        pl.col("published_date").first().alias("_published"),
        pl.col("specificity").first().alias("_specificity"),
        pl.col("_not_value").first().alias("_only_parts"),
    )
    return (
        chosen.join(_conflicts(ranked, chosen, key), on=key, how="left")
        .with_columns(
            pl.col("conflicting_values").fill_null(pl.lit([], dtype=pl.List(pl.Float64))),
            pl.col("conflicting_fact_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            rule=pl.format(
                "{}{}; published {}; {}",
                pl.when(pl.col("_only_parts")).then(pl.lit("parts only; ")).otherwise(pl.lit("")),
                pl.when(pl.col("_approx"))
                .then(pl.lit("approximate (no exact figure)"))
                .otherwise(pl.lit("exact")),
                pl.col("_published").cast(pl.String).fill_null("undated"),
                pl.col("_specificity").replace_strict(SPECIFICITY, return_dtype=pl.String),
            ),
        )
        .select(list(CuratedPanel.to_schema().columns))
        .sort(key)
    )


def _conflicts(ranked: pl.DataFrame, chosen: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Per key, the values of role `value` that disagree with the chosen one (an approximate figure only
    against an approximate choice), sorted, and the facts that give them."""
    against = chosen.select(*key, pl.col("value").alias("_chosen"), pl.col("_approx").alias("_chosen_approx"))
    return (
        ranked.filter(pl.col("role") == "value")
        .join(against, on=key)
        .filter((pl.col("value") != pl.col("_chosen")) & (~pl.col("approximate") | pl.col("_chosen_approx")))
        .sort("value", "fact_id")
        .group_by(key)
        .agg(
            pl.col("value").unique(maintain_order=True).alias("conflicting_values"),
            pl.col("fact_id").alias("conflicting_fact_ids"),
        )
    )


SPECIFICITY = {0: "the region's own report", 1: "a parent region's report", 2: "another source"}


def _specificity() -> pl.Expr:
    """0 when the document speaks for the fact's region, 1 for one of its parents (or 全国), else 2."""
    region, doc = pl.col("region_code"), pl.col("doc_region")
    is_parent = (
        (doc == pl.col("parent_code"))
        | (doc == pl.col("city_code"))
        | (doc == pl.col("province_code"))
        | ((doc == regions.NATIONAL) & (region != regions.NATIONAL))
    ).fill_null(False)
    return pl.when(region == doc).then(0).when(is_parent).then(1).otherwise(2)


def build_regions() -> pl.DataFrame:
    rows = []
    for code, r in regions.gazetteer().items():
        chain = [code, *regions.ancestors(code)]
        levels = {regions.gazetteer()[c].level: c for c in chain}
        rows.append(
            {
                "region_code": code,
                "region_name": r.name,
                "level": r.level,
                "parent_code": r.parent_code or None,
                "city_code": levels.get("city"),
                "province_code": levels.get("province"),
            }
        )
    return pl.DataFrame(rows, schema={c: pl.String for c in CuratedRegion.to_schema().columns}).sort(
        "region_code"
    )


def build_documents(staged: pl.DataFrame, counts: pl.DataFrame) -> pl.DataFrame:
    """One row per document (its latest arrival) with `facts`, its count in `counts` (doc_id, facts)."""
    return (
        staged.join(counts, on="doc_id", how="left")
        .with_columns(pl.col("facts").fill_null(0))
        .select(list(CuratedDocument.to_schema().columns))
        .unique("doc_id", keep="last")
        .sort("doc_id")
    )


def published_partitions(root: Path) -> dict[str, str]:
    """Each published (or flagged) partition's run id, from the ledger: what a snapshot is made of."""
    records = ledger.read_ledger(root).values()
    return {r.arrival_date: r.run_id for r in records if r.status in ("published", "flagged")}


def _manifest(root: Path) -> dict[str, Any] | None:
    path = Path(root) / "curated" / MANIFEST
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def is_current(root: Path) -> bool:
    """True when the manifest's snapshot was built from the partitions the ledger says are published now
    (False after a run that published and crashed before rebuilding the snapshot)."""
    manifest = _manifest(root)
    return manifest is not None and manifest.get("partitions") == published_partitions(root)


def publish_if_stale(root: Path) -> dict[str, Any] | None:
    """`publish` unless the current snapshot already reflects the ledger (or nothing was ever published);
    the new manifest, or None. Decided under the snapshot lock: of two runs ending together, the second
    finds the snapshot the first built."""
    with ledger.snapshot_lock(root):
        partitions, manifest = published_partitions(root), _manifest(root)
        if manifest is None and not partitions:
            return None
        if manifest is not None and manifest.get("partitions") == partitions:
            return None
        return _publish(Path(root))


def publish(root: Path) -> dict[str, Any]:
    """Build, validate and publish a new snapshot from the published partitions; returns the manifest.
    Crashed publishes are completed first (`ledger.recover`); the layers are read under the root's shared
    publish lock, so no partition is read halfway through its publish; a date whose publish a crash left
    unfinished meanwhile is left out (the snapshot is then stale and rebuilt by the next run)."""
    with ledger.snapshot_lock(root):
        return _publish(Path(root))


def _publish(root: Path) -> dict[str, Any]:
    ledger.recover(root)
    with ledger.root_lock(root, shared=True):
        unfinished = ledger.pending_publishes(root)
        partitions = {d: r for d, r in published_partitions(root).items() if d not in unfinished}
        facts_scan = storage.scan_table(root, "curated", "indicators", PANEL_FACT_COLUMNS, unfinished)
        staged = storage.scan_table(root, "staged", "documents", list(_staged_schema()), unfinished)
        staged_docs = staged.collect() if staged is not None else pl.DataFrame(schema=_staged_schema())
        staged_docs = staged_docs.sort("arrival_date").unique("doc_id", keep="last", maintain_order=True)
        region_dim = build_regions()
        snapshot_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        folder = root / "curated" / SNAPSHOTS / snapshot_id
        folder.mkdir(parents=True)
        try:  # a contract failure fails loudly; the old snapshot stays current, this one is removed
            built = _build_from_facts(facts_scan, staged_docs, region_dim, folder)
            tables = {"regions": region_dim, "documents": build_documents(staged_docs, built.per_document)}
            for name, df in tables.items():
                _check(name, df)
            indicator_files = _indicator_files(root, folder, built.per_day, built.latest, unfinished)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    files = {"indicators": indicator_files, "indicator_panel": [_relative(root, f) for f in built.panel]}
    for name, df in tables.items():
        path = folder / f"{name}.parquet"
        df.write_parquet(path, compression="zstd")
        files[name] = [_relative(root, path)]
    rows = {name: df.height for name, df in tables.items()}
    manifest = {
        "snapshot": snapshot_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "extractor_version": EXTRACTOR_VERSION,
        "rows": {"indicator_panel": built.panel_rows} | rows | {"indicators": built.facts},
        "tables": files,
        "partitions": partitions,
    }
    _write_manifest(root, manifest)
    _prune(root, keep=KEEP)
    return manifest


def _check(name: str, df: pl.DataFrame) -> None:
    validate.check_columns(df, SNAPSHOT_MODELS[name])
    validate.validate_frame(df, SNAPSHOT_MODELS[name])


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


FACTS_PER_BUCKET = 250_000  # the most facts a snapshot build holds at once (more: buckets of panel keys)
PANEL_KEY = ["region_code", "year", "indicator"]


@dataclass
class BuiltFromFacts:
    panel: list[Path]  # the panel's files, in key order (CuratedPanel rows; one per bucket)
    panel_rows: int
    per_document: pl.DataFrame  # doc_id, facts: the document's facts in the snapshot
    per_day: dict[str, int]  # arrival date (YYYY-MM-DD): facts of that partition in the snapshot
    latest: pl.DataFrame  # doc_id, arrival_date: the arrival whose facts the snapshot holds
    facts: int  # facts in the snapshot


def _build_from_facts(
    scan: pl.LazyFrame | None, staged_docs: pl.DataFrame, region_dim: pl.DataFrame, folder: Path
) -> BuiltFromFacts:
    """Write the panel into `folder` and count the facts, a bucket at a time: a bucket is a run of panel
    keys in key order holding about `FACTS_PER_BUCKET` facts (every fact of a panel row, every copy of a
    fact_id, in one bucket), its panel rows one file; memory is bounded by a bucket, not by the warehouse."""
    scan = scan if scan is not None else _no_facts().lazy()
    latest = _latest_arrivals(scan).collect(engine="streaming")
    kept = _of_latest_arrivals(scan, latest)
    keys = _key_buckets(kept)
    files, panel_rows, per_doc, per_day = [], 0, [], []
    buckets = keys.partition_by("bucket", maintain_order=True, include_key=False) or [keys.drop("bucket")]
    for b, bucket_keys in enumerate(buckets):  # no facts: one empty bucket, an empty panel of the right shape
        mine = kept.join(bucket_keys.lazy(), on=PANEL_KEY, how="semi", nulls_equal=True)
        facts = _one_copy(mine.collect(engine="streaming"))
        panel = build_panel(facts, staged_docs, region_dim)
        _check("indicator_panel", panel)
        files.append(folder / f"indicator_panel-{b:04d}.parquet")
        panel.write_parquet(files[-1], compression="zstd")
        panel_rows += panel.height
        per_doc.append(facts.group_by("doc_id").agg(pl.len().cast(pl.Int64).alias("facts")))
        per_day.append(facts.group_by("arrival_date").agg(pl.len().alias("n")))
        del facts, panel
    days = pl.concat(per_day).group_by("arrival_date").agg(pl.col("n").sum())
    return BuiltFromFacts(
        panel=files,
        panel_rows=panel_rows,
        per_document=pl.concat(per_doc).group_by("doc_id").agg(pl.col("facts").sum()),
        per_day={d.isoformat(): n for d, n in days.iter_rows()},
        latest=latest,
        facts=int(days["n"].sum()),
    )


def _key_buckets(facts: pl.LazyFrame) -> pl.DataFrame:
    """Every panel key of `facts` in key order with its bucket: runs of keys of about FACTS_PER_BUCKET facts
    (a key of more facts is a bucket of its own)."""
    counts = facts.group_by(PANEL_KEY).agg(pl.len().alias("n")).collect(engine="streaming").sort(PANEL_KEY)
    return counts.with_columns(bucket=(pl.col("n").cum_sum() - pl.col("n")) // FACTS_PER_BUCKET).drop("n")


def _latest_arrivals(facts: pl.LazyFrame) -> pl.LazyFrame:
    """Each document's latest arrival among the partitions holding its facts (doc_id, arrival_date)."""
    return facts.group_by("doc_id").agg(pl.col("arrival_date").max())


def _of_latest_arrivals(facts: pl.LazyFrame, latest: pl.DataFrame) -> pl.LazyFrame:
    """The facts of each document's latest arrival (`latest`: doc_id, arrival_date), in their order."""
    return facts.join(latest.lazy(), on=["doc_id", "arrival_date"], how="semi", maintain_order="left")


def _one_copy(facts: pl.DataFrame) -> pl.DataFrame:
    """Each fact once; facts of partitions published before roles existed are values."""
    out = facts.unique("fact_id", keep="last", maintain_order=True)
    if "role" in out.columns:
        out = out.with_columns(pl.col("role").fill_null("value"))
    return out


def latest_facts(facts: pl.DataFrame) -> pl.DataFrame:
    """Each document's facts from its latest arrival only (an earlier arrival may hold facts of another
    extractor version), each fact once; facts of partitions published before roles existed are values."""
    latest = _latest_arrivals(facts.lazy()).collect()
    return _one_copy(_of_latest_arrivals(facts.lazy(), latest).collect())


PANEL_FACT_COLUMNS = [  # what the snapshot reads of curated/indicators (not evidence, mention, rule: large)
    "fact_id", "doc_id", "arrival_date", "published_date", "indicator", "value", "unit", "region_code",
    "region_name", "region_level", "year", "approximate", "role",
]  # fmt: skip


def _no_facts() -> pl.DataFrame:
    return pl.DataFrame(schema={c: t for c, t in _facts_schema().items() if c in PANEL_FACT_COLUMNS})


def _indicator_files(
    root: Path, folder: Path, kept_by_day: dict[str, int], latest: pl.DataFrame, skip: set[str]
) -> list[str]:
    """The snapshot's curated/indicators files, one per partition (but the dates in `skip`): a hard link to
    the published file, or, for a partition holding facts of a document that arrived again later (its
    facts in the snapshot, `kept_by_day`, are fewer than its rows), a copy without them."""
    out = []
    for part in sorted(
        storage.layer_path(root, "curated", "indicators").glob(f"arrival_date=*/{storage.PART_FILE}")
    ):
        day = part.parent.name.split("=", 1)[1]
        if day in skip:
            continue
        target = folder / "indicators" / part.parent.name / storage.PART_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        written = pl.scan_parquet(part)
        same_rows = written.select(pl.len()).collect().item() == kept_by_day.get(day, 0)
        same_columns = written.collect_schema().names() == [c for c in _facts_schema() if c != "arrival_date"]
        if same_rows and same_columns:  # else: an earlier copy to leave out, or an older file layout
            os.link(part, target)
        else:
            mine_docs = latest.filter(pl.col("arrival_date") == date.fromisoformat(day)).select("doc_id")
            mine = _one_copy(written.join(mine_docs.lazy(), on="doc_id", how="semi").collect())
            mine.write_parquet(target, compression="zstd")
        out.append(_relative(root, target))
    return out


def _write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    storage.write_text_atomically(
        root / "curated" / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1)
    )


def _prune(root: Path, keep: int, grace: float = GRACE_S) -> None:
    """Remove snapshots older than the last `keep`, once superseded for `grace` seconds (a reader that
    pinned one with `read.snapshot` has that long to finish reading it)."""
    folders = sorted((root / "curated" / SNAPSHOTS).iterdir())
    now = datetime.now(UTC)
    for old, successor in zip(folders[:-keep], folders[1:], strict=False):
        try:
            superseded = datetime.strptime(successor.name[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        except ValueError:  # not a snapshot folder
            continue
        if (now - superseded).total_seconds() > grace:
            shutil.rmtree(old, ignore_errors=True)


def _facts_schema() -> dict[str, Any]:
    from warehouse.extract import FACT_SCHEMA

    return FACT_SCHEMA


def _staged_schema() -> dict[str, Any]:
    columns = StagedDocument.to_schema().columns.items()
    return {c: col.dtype.type for c, col in columns if c != "text"}
