"""Extraction throughput on the golden documents repeated to >= 10 MB of clean text (one core).

Prints characters per second for a bare pass that only finds the numbers and for the full extraction
(numbers, contexts, cue rules, regions, years, tables), in the same run, and their ratio.

    .venv/bin/python benchmarks/bench_pipeline.py [--mb 10]
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from warehouse import clean, ingest
from warehouse.extract import analyze, make_doc
from warehouse.numbers import find_mentions

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=10.0, help="megabytes of clean text to process")
    args = parser.parse_args()
    ((day, files),) = ingest.discover_partitions(GOLDEN, date(2026, 1, 1)).items()
    staged, _ = clean.stage_documents(ingest.read_raw(files, day, GOLDEN))
    rows = staged.to_dicts()
    size = sum(len(r["text"].encode()) for r in rows)
    copies = max(1, int(args.mb * 1e6 / size) + 1)
    total_chars = sum(len(r["text"]) for r in rows) * copies
    print(
        f"corpus: {len(rows)} golden documents x {copies} = {size * copies / 1e6:.1f} MB, {total_chars:,} characters"
    )

    t0 = time.perf_counter()
    n_mentions = sum(len(find_mentions(r["text"])) for _ in range(copies) for r in rows)
    bare = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_facts = 0
    for _ in range(copies):
        for r in rows:
            n_facts += len(analyze(make_doc(r))[1])
    full = time.perf_counter() - t0

    print(
        f"bare pass (numbers only): {total_chars / bare:,.0f} chars/s  ({n_mentions:,} mentions, {bare:.1f} s)"
    )
    print(f"full extraction:          {total_chars / full:,.0f} chars/s  ({n_facts:,} facts, {full:.1f} s)")
    print(f"full / bare: {bare / full:.1%}")


if __name__ == "__main__":
    main()
