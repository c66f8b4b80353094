"""Extraction cache: a document already extracted by the same extractor version is not extracted again.

Key: the document's sha256 (`doc_id`) and the extractor fingerprint (`EXTRACTOR_VERSION` plus a hash of the
extraction code and rule tables: a new version or an edited rule starts an empty folder, so everything is
re-extracted). Entries are stored by batch, not by document, under ``<root>/_cache/extract/<fingerprint>/``:

- ``chunks/<chunk>.parquet``: one file per extracted chunk (a partition, or a slice of a large one), one row
  per document: ``doc_id``, its ``mentions`` and its ``facts`` as lists of rows (empty for a document without
  any);
- ``index.tsv``: ``doc_id<TAB>chunk`` lines, appended (one write per chunk) only after the chunk file is in
  place, so every indexed entry is complete. Concurrent runs append their own lines; a document indexed
  twice is served from either chunk (same bytes, same extractor, same rows).

Cached rows are re-stamped with the partition's arrival date and file name (the same bytes may arrive again
under another name or date). The cache only saves time: every run still validates and audits what it
publishes.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from warehouse import EXTRACTOR_VERSION, extract, storage

INDEX = "index.tsv"
CHUNKS = "chunks"
ENTRY_BYTES = 64 + 1 + 16  # an index line: sha256 hex, a tab, the chunk name
KEYS = {"mentions": "mention_id", "facts": "fact_id"}


@cache
def fingerprint() -> str:
    """EXTRACTOR_VERSION plus a hash of the extraction code and rule tables, so a rule edited without a
    version bump still invalidates the cache."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*package.glob("*.py"), *(package / "data").glob("*.csv")]):
        if path.name not in {"cache.py", "cli.py", "ledger.py", "pipeline.py", "quality.py", "dictionary.py"}:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{EXTRACTOR_VERSION}-{digest.hexdigest()[:12]}"


def cache_dir(root: Path) -> Path:
    return Path(root) / "_cache" / "extract" / fingerprint()


def _chunk_path(root: Path, chunk: str) -> Path:
    return cache_dir(root) / CHUNKS / f"{chunk}.parquet"


def store(root: Path, mentions: pl.DataFrame, facts: pl.DataFrame, doc_ids: list[str]) -> str | None:
    """Cache the extraction of `doc_ids` as one chunk file (documents with no mentions get empty lists),
    then index it. Returns the chunk's name (None when there is nothing to store)."""
    ids = list(dict.fromkeys(doc_ids))  # each document once, whatever the caller passes
    if not ids:
        return None
    entry = pl.DataFrame({"doc_id": ids}, schema={"doc_id": pl.String})
    for kind, df in (("mentions", mentions), ("facts", facts)):
        rows = df.filter(pl.col("doc_id").is_in(ids)).unique(KEYS[kind], keep="first", maintain_order=True)
        nested = rows.group_by("doc_id", maintain_order=True).agg(pl.struct(pl.exclude("doc_id")).alias(kind))
        entry = entry.join(nested, on="doc_id", how="left", maintain_order="left")
    chunk = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    table = entry.to_arrow()  # pyarrow's writer encodes the nested lists in ~2/3 of polars' bytes
    storage.replace_atomically(
        _chunk_path(root, chunk),
        lambda tmp: pq.write_table(table, tmp, compression="zstd", compression_level=9),
    )
    storage.append_line(cache_dir(root) / INDEX, "\n".join(f"{d}\t{chunk}" for d in ids))
    return chunk


def lookup(root: Path, doc_ids: list[str]) -> dict[str, str]:
    """The chunk holding each of `doc_ids` that is cached (an index line whose chunk file is gone, or a line
    cut short, is not a hit)."""
    path = cache_dir(root) / INDEX
    if not doc_ids or not path.exists():
        return {}
    lines = pl.Series("line", path.read_text(encoding="utf-8").split("\n"))
    well_formed = lines.filter((lines.str.len_bytes() == ENTRY_BYTES) & (lines.str.slice(64, 1) == "\t"))
    index = pl.DataFrame({"doc_id": well_formed.str.slice(0, 64), "chunk": well_formed.str.slice(65)})
    hits = index.filter(pl.col("doc_id").is_in(doc_ids))
    found = dict(zip(hits["doc_id"], hits["chunk"], strict=True))
    present = {c for c in set(found.values()) if _chunk_path(root, c).exists()}
    return {d: c for d, c in found.items() if c in present}


def load(root: Path, hits: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The cached mentions and facts of the documents in `hits` (doc_id → chunk), as stored."""
    files = [str(_chunk_path(root, c)) for c in sorted(set(hits.values()))]
    if not files:
        return pl.DataFrame(schema=extract.MENTION_SCHEMA), pl.DataFrame(schema=extract.FACT_SCHEMA)
    entries = (
        pl.scan_parquet(files)
        .filter(pl.col("doc_id").is_in(list(hits)))
        .unique("doc_id", keep="first", maintain_order=True)
        .collect()
    )
    out = []
    for kind in ("mentions", "facts"):
        rows = entries.select("doc_id", kind).explode(kind).drop_nulls(kind)
        out.append(rows.unnest(kind))
    return out[0], out[1]


def extract_with_cache(
    staged: pl.DataFrame, root: Path | None, seconds: float | None = None, workers: int = 1
) -> tuple[extract.Extraction, int]:
    """`extract.extract_within` for the documents not in the cache, cached rows for the others (a document
    over its time budget is not cached: a larger budget may read it). Returns the extraction and the number
    of documents served from the cache."""
    if root is None:
        return extract.extract_in_workers(staged, seconds, workers), 0
    hits = lookup(root, staged["doc_id"].to_list())
    misses = staged.filter(~pl.col("doc_id").is_in(list(hits)))
    fresh = extract.extract_in_workers(misses, seconds, workers)
    over = {r["doc_id"] for r in fresh.over_budget}
    store(root, fresh.mentions, fresh.facts, [d for d in misses["doc_id"] if d not in over])
    stamps = staged.select("doc_id", "arrival_date", "source_file").unique(
        "doc_id", keep="last"
    )  # no fan-out
    cached_mentions, cached_facts = load(root, hits)
    mentions = pl.concat([fresh.mentions, _restamp(cached_mentions, stamps, extract.MENTION_SCHEMA)])
    facts = pl.concat([fresh.facts, _restamp(cached_facts, stamps, extract.FACT_SCHEMA)])
    return extract.Extraction(mentions, facts, fresh.over_budget), len(hits)


def _restamp(df: pl.DataFrame, stamps: pl.DataFrame, schema: dict) -> pl.DataFrame:
    columns = [c for c in ("arrival_date", "source_file") if c in df.columns]
    joined = df.drop(columns).join(stamps.select("doc_id", *columns), on="doc_id", how="left")
    return joined.select(list(schema)).cast(schema)
