"""A seeded synthetic landing zone of N documents over D arrival dates, with gold facts.

Templates: the documents that have gold in this checkout (the five sample documents, tests/golden,
tests/holdout: posts, portal pages, Word exports, HTML, .docx; UTF-8, UTF-8 with BOM, UTF-16, GBK, traditional
characters). Each generated document is a template made unique without touching its text: an HTML comment in
posts and pages, a trailing line of Latin letters in plain text (encoded like the template), a keyword in a
.docx's core properties. Its gold is the template's gold under the new file name, so scoring the generated
gold measures that the extractor gives every copy the template's facts, at scale.

    .venv/bin/python benchmarks/corpus.py OUT --docs 10000 --dates 200 [--seed 7]

writes OUT/landing/<YYYY-MM-DD>/<n>_<template>, OUT/gold.jsonl and OUT/corpus.json (parameters, bytes).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SETS = [
    (PROJECT / "sample" / "landing", PROJECT / "sample" / "gold" / "dev.jsonl"),
    (PROJECT / "tests" / "golden" / "docs", PROJECT / "tests" / "golden" / "gold.jsonl"),
    (PROJECT / "tests" / "holdout" / "docs", PROJECT / "tests" / "holdout" / "gold.jsonl"),
]
FIRST_DATE = date(2024, 1, 1)


@dataclass(frozen=True)
class Template:
    path: Path
    content: bytes
    gold: tuple[dict, ...]


def templates() -> list[Template]:
    out = []
    for docs, gold_path in SETS:
        gold = [
            json.loads(line) for line in gold_path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        for path in sorted(p for p in docs.rglob("*") if p.is_file()):
            rows = tuple(g for g in gold if g["doc"] == path.name)
            out.append(Template(path, path.read_bytes(), rows))
    return out


def _encoding_of(content: bytes) -> str:
    from warehouse.ingest import detect_encoding

    return detect_encoding(content) or "utf-8"


def unique_copy(t: Template, tag: str) -> bytes:
    """The template's bytes made unique by `tag` (Latin letters only: no number, no Chinese)."""
    suffix = t.path.suffix.lower()
    if suffix == ".docx":
        import docx

        document = docx.Document(io.BytesIO(t.content))
        document.core_properties.keywords = tag
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()
    encoding = _encoding_of(t.content)
    text = t.content.decode(encoding)
    if "<" in text and (">" in text) and (suffix == ".html" or text.lstrip("\ufeff").startswith("---")):
        marked = text.rstrip() + f"\n<!-- {tag} -->\n"
    else:
        marked = text.rstrip() + f"\n\n{tag}\n"
    body = marked.lstrip("\ufeff")
    if encoding == "utf-16":  # the BOM is written by the codec
        return body.encode("utf-16")
    if encoding == "utf-8-sig":
        return "\ufeff".encode() + body.encode("utf-8")
    return body.encode(encoding)


def generate(out: Path, docs: int, dates: int, seed: int = 7) -> dict:
    """Write the corpus under `out`; returns its description (also written to corpus.json)."""
    rng = random.Random(seed)
    pool = templates()
    landing, total = out / "landing", 0
    out.mkdir(parents=True, exist_ok=True)
    with (out / "gold.jsonl").open("w", encoding="utf-8") as gold:
        for n, (day, t) in enumerate(_plan(rng, pool, docs, dates)):
            tag = "ref " + "".join(rng.choice(string.ascii_lowercase) for _ in range(16))
            name = f"{n:07d}_{t.path.name}"
            folder = landing / day.isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            data = unique_copy(t, tag)
            (folder / name).write_bytes(data)
            total += len(data)
            for row in t.gold:
                gold.write(json.dumps(row | {"doc": name}, ensure_ascii=False) + "\n")
    meta = {"docs": docs, "dates": dates, "seed": seed, "bytes": total, "templates": len(pool)}
    (out / "corpus.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def _plan(rng: random.Random, pool: list[Template], docs: int, dates: int) -> Iterator[tuple[date, Template]]:
    """Documents in arrival-date order, spread evenly over the dates, templates drawn at random."""
    for n in range(docs):
        yield FIRST_DATE + timedelta(days=n * dates // docs), rng.choice(pool)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--dates", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    meta = generate(args.out, args.docs, args.dates, args.seed)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
