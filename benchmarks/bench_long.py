"""Cleaning and extraction time of ONE long document, at several sizes: the time must grow with the size,
not with its square (issue 13).

Shapes, each built from the golden documents' staged text (real report prose, every indicator):

    prose       the documents one after another, paragraphs kept
    paragraph   no line breaks: one paragraph of many sentences
    sentence    no sentence ends either: one sentence of clauses (甲…，乙…，)
    list        one enumeration: 甲县800万元、乙县650万元、… with no end
    html        the prose as HTML, each paragraph wrapped in 40 unclosed inline tags (<b><i><span>…)
    nav         HTML whose first half is a <nav> of mismatched inline tags (<i>首页</b>…), then the prose

For each shape and size it prints seconds for cleaning (parse + normalise, `clean.stage_one`) and for
extraction (`extract.extract`), MB/s, and the ratio of the time at the largest size to the smallest,
against the ratio of their sizes (linear: equal; quadratic: its square).

    .venv/bin/python benchmarks/bench_long.py [--sizes 1,2,4,8] [--shapes prose,sentence,...]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl

from warehouse import clean, extract, ingest
from warehouse.settings import DEFAULT_LIMITS

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "docs"
SHAPES = ("prose", "paragraph", "sentence", "list", "html", "nav")
_LIST_ITEMS = ("甲县", "乙县", "城关镇", "新街镇", "东风村")


def _golden_text() -> str:
    ((day, files),) = ingest.discover_partitions(GOLDEN, date(2026, 1, 1)).items()
    staged, _ = clean.stage_documents(ingest.read_raw(files, day, GOLDEN))
    return "\n".join(staged["text"].to_list())


def _repeat(unit: str, size: int) -> str:
    """`unit` repeated to about `size` UTF-8 bytes (whole units: no tag cut in two)."""
    return unit * max(1, round(size / len(unit.encode())))


def document(shape: str, size: int, prose: str) -> tuple[bytes, str]:
    """(landed bytes, format) of one document of about `size` bytes."""
    title = "某县巩固拓展脱贫攻坚成果同乡村振兴有效衔接工作报告\n\n"
    if shape == "prose":
        return (title + _repeat(prose + "\n", size)).encode(), "text"
    if shape == "paragraph":
        return (title + _repeat(prose.replace("\n", ""), size)).encode(), "text"
    if shape == "sentence":
        flat = prose.replace("\n", "，")
        for end in extract.SENTENCE_END:
            flat = flat.replace(end, "，")
        return (title + _repeat(flat, size)).encode(), "text"
    if shape == "list":
        items = "".join(f"{name}{800 + k}万元、" for k, name in enumerate(_LIST_ITEMS))
        return (title + "衔接资金分配：" + _repeat(items, size)).encode(), "text"
    if shape == "html":
        opening = "".join(f"<{t}>" for t in ("b", "i", "span", "em", "font") * 8)
        paragraphs = "".join(f"<p>{opening}{p}</p>" for p in prose.split("\n") if p)
        head = f"<html><head><title>{title.strip()}</title></head><body>"
        return (head + _repeat(paragraphs, size) + "</body></html>").encode(), "html"
    if shape == "nav":
        paragraphs = "".join(f"<p>{p}</p>" for p in prose.split("\n") if p)
        head = f"<html><head><title>{title.strip()}</title></head><body>"
        menu = "<nav>" + _repeat("<i>首页</b>", size // 2) + "</nav>"
        return (head + menu + _repeat(paragraphs, size // 2) + "</body></html>").encode(), "html"
    raise ValueError(f"unknown shape {shape!r}")


def measure(shape: str, size_mb: float, prose: str) -> tuple[float, float, int, int]:
    content, fmt = document(shape, int(size_mb * 1e6), prose)
    limits = replace(  # the limits that would quarantine such a document lifted: this measures time
        DEFAULT_LIMITS,
        max_staged_chars=10**9,
        max_file_bytes=10**10,
        max_html_tags=10**9,
        max_html_depth=10**9,
    )
    t0 = time.perf_counter()
    row = clean.stage_one(content, fmt, "utf-8", f"long.{'html' if fmt == 'html' else 'txt'}", limits)
    t_clean = time.perf_counter() - t0
    keys = {
        "doc_id": "0" * 64,
        "source_file": f"long.{'html' if fmt == 'html' else 'txt'}",
        "arrival_date": date(2026, 1, 1),
        "format": fmt,
        "encoding": "utf-8",
    }
    staged = pl.DataFrame([keys | row], schema=clean.STAGED_SCHEMA)
    t0 = time.perf_counter()
    mentions, facts = extract.extract(staged)
    t_extract = time.perf_counter() - t0
    return t_clean, t_extract, mentions.height, facts.height


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,2,4,8", help="megabytes, comma-separated")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    prose = _golden_text()
    print(
        f"{'shape':<10} {'MB':>5} {'clean s':>8} {'extract s':>10} {'MB/s':>6} {'mentions':>9} {'facts':>7}"
    )
    for shape in args.shapes.split(","):
        totals = []
        for mb in sizes:
            t_clean, t_extract, n_mentions, n_facts = measure(shape, mb, prose)
            total = t_clean + t_extract
            totals.append(total)
            print(
                f"{shape:<10} {mb:>5g} {t_clean:>8.2f} {t_extract:>10.2f} {mb / total:>6.2f} "
                f"{n_mentions:>9,} {n_facts:>7,}",
                flush=True,
            )
        if len(sizes) > 1:
            print(
                f"{shape:<10} time ×{totals[-1] / totals[0]:.1f} for size ×{sizes[-1] / sizes[0]:g} "
                f"(linear ×{sizes[-1] / sizes[0]:g}, quadratic ×{(sizes[-1] / sizes[0]) ** 2:g})",
                flush=True,
            )


if __name__ == "__main__":
    main()
