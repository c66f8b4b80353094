"""Extraction cache: a document already extracted by the same extractor version is not extracted again.

Key: the document's sha256 (`doc_id`) and `EXTRACTOR_VERSION`. Entries live under
``<root>/_cache/extract/<fingerprint>/<doc_id>.{mentions,facts}.parquet``; a new extractor version (or an
edited rule table) starts an empty folder, so changing the version re-processes everything. Cached rows are re-stamped with the
partition's arrival date and file name (the same bytes may arrive again under another name or date).
The cache only saves time: every run still validates and audits what it publishes.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import polars as pl

from warehouse import EXTRACTOR_VERSION, extract, storage

KINDS = ("mentions", "facts")  # facts are written last: their file marks a complete entry


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


def _path(root: Path, doc_id: str, kind: str) -> Path:
    return cache_dir(root) / f"{doc_id}.{kind}.parquet"


def store(root: Path, mentions: pl.DataFrame, facts: pl.DataFrame, doc_ids: list[str]) -> None:
    """Cache the extraction of each of `doc_ids` (documents with no mentions get empty entries)."""
    keys = {"mentions": "mention_id", "facts": "fact_id"}
    for doc_id in dict.fromkeys(doc_ids):  # each document once, whatever the caller passes
        for kind, df in zip(KINDS, (mentions, facts), strict=True):
            part = df.filter(pl.col("doc_id") == doc_id).unique(keys[kind], keep="first", maintain_order=True)
            storage.replace_atomically(_path(root, doc_id, kind), part.write_parquet)


def extract_with_cache(
    staged: pl.DataFrame, root: Path | None, seconds: float | None = None, workers: int = 1
) -> tuple[extract.Extraction, int]:
    """`extract.extract_within` for the documents not in the cache, cached rows for the others (a document
    over its time budget is not cached: a larger budget may read it). Returns the extraction and the number
    of documents served from the cache."""
    if root is None:
        return extract.extract_in_workers(staged, seconds, workers), 0
    hit_ids = [d for d in staged["doc_id"] if _path(root, d, "facts").exists()]
    misses = staged.filter(~pl.col("doc_id").is_in(hit_ids))
    fresh = extract.extract_in_workers(misses, seconds, workers)
    fresh_mentions, fresh_facts = fresh.mentions, fresh.facts
    over = {r["doc_id"] for r in fresh.over_budget}
    store(root, fresh_mentions, fresh_facts, [d for d in misses["doc_id"] if d not in over])
    stamps = staged.select("doc_id", "arrival_date", "source_file").unique(
        "doc_id", keep="last"
    )  # no fan-out
    cached_mentions = [pl.read_parquet(_path(root, d, "mentions")) for d in hit_ids]
    cached_facts = [pl.read_parquet(_path(root, d, "facts")) for d in hit_ids]
    mentions = pl.concat([fresh_mentions, *_restamp(cached_mentions, stamps, extract.MENTION_SCHEMA)])
    facts = pl.concat([fresh_facts, *_restamp(cached_facts, stamps, extract.FACT_SCHEMA)])
    return extract.Extraction(mentions, facts, fresh.over_budget), len(hit_ids)


def _restamp(frames: list[pl.DataFrame], stamps: pl.DataFrame, schema: dict) -> list[pl.DataFrame]:
    out = []
    for df in frames:
        columns = [c for c in ("arrival_date", "source_file") if c in df.columns]
        joined = df.drop(columns).join(stamps.select("doc_id", *columns), on="doc_id", how="left")
        out.append(joined.select(list(schema)).cast(schema))
    return out
