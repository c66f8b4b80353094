"""Landing zone → raw documents: discover arrival-date partitions and read files as exact bytes.

Layout: ``<source>/<YYYY-MM-DD>/<files>`` (the folder name is the arrival date), or a flat folder of
files processed as one partition dated by the run. Format and encoding are detected here and recorded;
decoding happens in `clean`.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from datetime import date
from pathlib import Path

import polars as pl

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TEXT_EXTS = {".txt", ".md", ".text"}
HTML_EXTS = {".html", ".htm", ".shtml", ".xhtml"}
DOCX_EXTS = {".docx"}
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def discover_partitions(source: Path, default_date: date) -> dict[date, list[Path]]:
    """Map each arrival date to its files. Date folders win; loose files go to `default_date`."""
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"landing zone {source} does not exist or is not a folder")
    parts: dict[date, list[Path]] = {}
    for child in sorted(source.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir() and DATE_DIR.match(child.name):
            parts[date.fromisoformat(child.name)] = sorted(
                p for p in child.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        elif child.is_file():
            parts.setdefault(default_date, []).append(child)
    return parts


def detect_encoding(data: bytes) -> str | None:
    """utf-8-sig / utf-16 by BOM, else utf-8 if it decodes strictly, else gb18030; None if neither."""
    for bom, name in BOMS:
        if data.startswith(bom):
            return name
    for name in ("utf-8", "gb18030"):
        try:
            data.decode(name)
            return name
        except UnicodeDecodeError:
            continue
    return None


def detect_format(name: str, data: bytes, encoding: str | None) -> str:
    """One of: jekyll, html, docx, portal_text, word_text, text, unsupported."""
    ext = Path(name).suffix.lower()
    if ext in DOCX_EXTS:
        return "docx"
    if ext not in TEXT_EXTS | HTML_EXTS:
        return "unsupported"
    if encoding is None:
        return "text"  # undecodable: `clean` quarantines it with the reason
    head = data.decode(encoding, errors="replace")[:4000].lstrip("\ufeff")
    if head.startswith("---\n") or head.startswith("---\r\n"):
        return "jekyll"
    if ext in HTML_EXTS or re.search(r"<(html|body|div|table)\b", head, re.I):
        return "html"
    if re.search(
        r"\[bookmark:|^\s*[—-]\s*-?\s*\d+\s*-?\s*[—-]\s*$",
        head + data[-400:].decode(encoding, "replace"),
        re.M,
    ):
        return "word_text"
    if re.search(r"当前位置|来源[:：]|发布时间[:：]|访问量", head):
        return "portal_text"
    return "text"


def read_raw(files: list[Path], arrival_date: date, source: Path) -> pl.DataFrame:
    """One row per file with its exact bytes, sha256 doc_id, detected format and encoding."""
    rows = []
    for path in files:
        data = path.read_bytes()
        encoding = None if path.suffix.lower() in DOCX_EXTS else detect_encoding(data)
        rows.append(
            {
                "doc_id": hashlib.sha256(data).hexdigest(),
                "source_file": path.name,
                "source_path": str(path.relative_to(source)) if path.is_relative_to(source) else str(path),
                "arrival_date": arrival_date,
                "size_bytes": len(data),
                "format": detect_format(path.name, data, encoding),
                "encoding": encoding,
                "content": data,
            }
        )
    return pl.DataFrame(rows, schema=RAW_SCHEMA)


RAW_SCHEMA = {
    "doc_id": pl.String,
    "source_file": pl.String,
    "source_path": pl.String,
    "arrival_date": pl.Date,
    "size_bytes": pl.Int64,
    "format": pl.String,
    "encoding": pl.String,
    "content": pl.Binary,
}
