"""Landing zone → raw documents: discover arrival-date partitions and read files as exact bytes.

Layout: ``<source>/<YYYY-MM-DD>/<files>`` (the folder name is the arrival date), or a flat folder of
files processed as one partition dated by the run. Format and encoding are detected here and recorded;
decoding happens in `clean`.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl

from schemas import RawDocument, polars_schema
from warehouse.catalog import DATA_DIR
from warehouse.settings import DEFAULT_LIMITS, Limits
from warehouse.simplified import to_simplified

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TEXT_EXTS = {".txt", ".md", ".text"}
HTML_EXTS = {".html", ".htm", ".shtml", ".xhtml"}
DOCX_EXTS = {".docx"}
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Refusal:
    """A landing-zone entry that is not read, and why."""

    path: Path
    reason: str


def discover_partitions(source: Path, default_date: date) -> dict[date, list[Path]]:
    """Map each arrival date to its entries. Date folders win; loose entries go to `default_date`. Every
    entry of a date folder that is not a folder is listed (symlinks, dot-files and devices too):
    `read_landing` admits the regular files inside the landing zone and gives the others a reason.
    Top-level folders that are not dates and hidden entries are skipped (`landing_problems` names them)."""
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"landing zone {source} does not exist or is not a folder")
    parts: dict[date, list[Path]] = {}
    for child in sorted(source.iterdir()):
        day = _folder_date(child)
        if day is not None:
            parts[day] = _entries(child)
        elif not child.name.startswith(".") and (not child.is_dir() or child.is_symlink()):
            parts.setdefault(default_date, []).append(child)
    return parts


def landing_problems(source: Path) -> list[Refusal]:
    """Top-level entries of the landing zone that no run reads: folders that are not dates (latest,
    2022-13-45) and hidden entries (.DS_Store, .git)."""
    out = []
    for child in sorted(Path(source).iterdir()):
        if child.name.startswith("."):
            out.append(Refusal(child, "hidden entry at the top of the landing zone: not read"))
        elif child.is_dir() and not child.is_symlink() and _folder_date(child) is None:
            out.append(Refusal(child, "folder name is not a date (YYYY-MM-DD): its files are not read"))
    return out


def _folder_date(child: Path) -> date | None:
    if not (child.is_dir() and not child.is_symlink() and DATE_DIR.match(child.name)):
        return None
    try:
        return date.fromisoformat(child.name)
    except ValueError:
        return None


def _entries(folder: Path) -> list[Path]:
    """Every non-folder entry under `folder` and every symlinked or hidden folder, without following links."""
    out = []
    for here, dirs, files in os.walk(folder, followlinks=False):
        base = Path(here)
        kept = [d for d in dirs if not d.startswith(".") and not (base / d).is_symlink()]
        out += [base / d for d in dirs if d not in kept]  # refused with a reason, not descended
        dirs[:] = kept
        out += [base / f for f in files]
    return sorted(out)


def admit(path: Path, source: Path, max_bytes: int = DEFAULT_LIMITS.max_file_bytes) -> str | None:
    """Why a landing-zone entry is not read as a document, or None for a regular file inside the zone no
    larger than `max_bytes`."""
    if path.name.startswith("."):
        return "hidden entry (dot-file): not a document"
    try:
        if path.is_symlink():
            real = path.resolve(strict=True)
            if not real.is_relative_to(Path(source).resolve()):
                return "symlink pointing outside the landing zone: not read"
        info = path.stat()
        mode = info.st_mode
    except FileNotFoundError:
        return "vanished or a broken symlink: the file was gone before it was read"
    except RuntimeError:
        return "symlink loop: not read"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "a linked folder: not followed"
    if not stat.S_ISREG(mode):
        return "not a regular file (device, FIFO or socket): not read"
    if info.st_size > max_bytes:
        return f"too large: {info.st_size:,} bytes, the limit is {max_bytes:,} (WAREHOUSE_MAX_FILE_BYTES)"
    return None


LEGIBLE = 0.4  # share of common characters above which a decoding reads as Chinese (see common_chars.txt)
MIN_JUDGED = 20  # fewer Chinese characters than this: too few to judge, GB18030 is taken as before
LEGACY = ("gb18030", "big5", "utf-16-le", "utf-16-be")  # tried in this order when UTF-8 fails


@cache
def common_chars() -> frozenset[str]:
    """The common-characters list, checked on load: one line of distinct CJK characters."""
    path = DATA_DIR / "common_chars.txt"
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
    chars = "".join(lines)
    if len(set(chars)) != len(chars) or len(chars) < 400 or not all("\u4e00" <= c <= "\u9fff" for c in chars):
        raise ValueError(f"{path}: expected at least 400 distinct CJK characters, nothing else")
    return frozenset(chars)


def legibility(text: str) -> tuple[float, int]:
    """(share of its Chinese characters that are common ones, how many Chinese characters) of `text`."""
    cjk = [c for c in to_simplified(text[:20_000]) if "\u4e00" <= c <= "\u9fff"]
    common = common_chars()
    return (sum(c in common for c in cjk) / len(cjk) if cjk else 0.0), len(cjk)


def detect_encoding(data: bytes) -> str | None:
    """utf-8-sig / utf-16 by BOM; else utf-8 if it decodes strictly (or fails only inside its last
    character: a truncated file, which `clean` quarantines saying so); else the first of GB18030, Big5,
    UTF-16 without BOM that decodes strictly and reads as Chinese (Big5 bytes also decode as GB18030, as
    mojibake); None when none does."""
    for bom, name in BOMS:
        if data.startswith(bom):
            return name
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(data):
            return "utf-8"
    for name in LEGACY:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        share, judged = legibility(text)
        if share >= LEGIBLE or (name == "gb18030" and judged < MIN_JUDGED):
            return name
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
    """One row per admitted file (see `read_landing` for the refused ones and their reasons)."""
    return read_landing(files, arrival_date, source)[0]


def read_landing(
    files: list[Path], arrival_date: date, source: Path, limits: Limits = DEFAULT_LIMITS
) -> tuple[pl.DataFrame, list[Refusal]]:
    """One row per admitted file with its exact bytes, sha256 doc_id, detected format and encoding, and the
    entries refused (symlinks out of the zone, loops, dot-files, devices, unreadable or vanished files)."""
    rows, refused = [], []
    for path in files:
        reason = admit(path, source, limits.max_file_bytes)
        if reason is None:
            try:
                data = path.read_bytes()
            except OSError as exc:  # vanished or unreadable between the check and the read
                reason = f"unreadable: {exc.strerror or exc}"
        if reason is not None:
            refused.append(Refusal(path, reason))
            continue
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
    return pl.DataFrame(rows, schema=RAW_SCHEMA), refused


RAW_SCHEMA = polars_schema(RawDocument)  # the frame's columns and types, from its contract
