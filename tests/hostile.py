"""A hostile landing zone, made on demand (bombs are generated, not stored): every case an attacker or an
unlucky operator brings, with the outcome the warehouse owes it.

    python tests/hostile.py FOLDER      writes the cases into FOLDER/<date>/ and prints them

Each `Case` is quarantined with a reason matching `reason` in `quarantine/<layer>` (`layer`), or, when
`layer` is None, published like the good document it was made from (`same_as`): an odd encoding or name
is not a reason to lose a report. `tests/test_reliability.py` runs them all in one partition beside the
sample documents; `benchmarks/bench_hostile.py` times each one alone and measures its peak memory.
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from warehouse import storage

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT / "sample" / "landing"
GOOD = "000_7918e978ecdb11ee.txt"  # a sample report the re-encoded and renamed cases are made from
TRADITIONAL = PROJECT / "tests" / "real2" / "docs" / "r2c07_haikou_2017_trad.txt"
RAW, STAGED, CURATED = "raw/documents", "staged/documents", "curated/indicators"


@dataclass(frozen=True)
class Case:
    name: str  # file name in the date folder (may hold a newline, a leading dash, dots)
    fault: str  # what it is, for the README's reliability table
    make: Callable[[Path], None]  # writes the file at the given path
    layer: str | None  # quarantine table it must land in; None: published
    reason: str = ""  # a substring of the quarantine reason
    same_as: str = ""  # published: the good document whose facts it must give


def _good() -> str:
    return next(SAMPLE.glob(f"*/{GOOD}")).read_text(encoding="utf-8")


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def _symlink(target: str) -> Callable[[Path], None]:
    return lambda path: os.symlink(target, path)


def _docx(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in entries.items():
            package.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(megabytes: int) -> bytes:
    """A .docx of `megabytes` MiB of zeros (about 1,000 times smaller packed)."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package,
        package.open("word/document.xml", "w", force_zip64=True) as entry,
    ):
        for _ in range(megabytes):
            entry.write(b"\0" * 2**20)
    return buffer.getvalue()


def quarantine_reasons(root: Path) -> dict[str, tuple[str, str]]:
    """File name → (quarantine table, reason) of a root's quarantined documents."""
    out = {}
    for table in (RAW, STAGED, CURATED):
        q = storage.read_table(root, "quarantine", table)
        for name, reason in q.select("source_file", "reason").iter_rows() if q is not None else []:
            out[name] = (table, reason)
    return out


def _word(document_xml: Callable[[bytes], bytes]) -> bytes:
    """A real .docx (python-docx's blank document) whose word/document.xml is `document_xml(original)`."""
    import docx

    blank = io.BytesIO()
    docx.Document().save(blank)
    with zipfile.ZipFile(blank) as package:
        entries = {i.filename: package.read(i) for i in package.infolist()}
    entries["word/document.xml"] = document_xml(entries["word/document.xml"])
    return _docx(entries)


PADDING = 50_000_000


def _lying_zip() -> bytes:
    """A .docx whose zip directory says its document is 100 bytes while it inflates to 50 MB."""
    size = [0]

    def padded(xml: bytes) -> bytes:
        size[0] = len(xml) + PADDING
        return xml + b" " * PADDING

    data = bytearray(_word(padded))
    real = size[0].to_bytes(4, "little")
    for offset in _all(data, real):  # the sizes in the local header and the central directory
        data[offset : offset + 4] = (100).to_bytes(4, "little")
    return bytes(data)


def _all(data: bytearray, needle: bytes) -> list[int]:
    out, at = [], data.find(needle)
    while at >= 0:
        out.append(at)
        at = data.find(needle, at + 1)
    return out


def _entity_bomb() -> bytes:
    """Billion laughs in the Word XML itself: must never be expanded."""
    levels = ['<!ENTITY l0 "laugh">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    doctype = f"<!DOCTYPE w:document [{''.join(levels)}]>".encode()

    def bomb(xml: bytes) -> bytes:
        head, _, body = xml.partition(b"?>")
        return (
            head
            + b"?>"
            + doctype
            + body.replace(b"<w:body>", b"<w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p>", 1)
        )

    return _word(bomb)


def _laughs(levels: int) -> bytes:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return ("---\n" + "\n".join(lines) + f"\ntitle: *a{levels - 1}\n---\n<p>正文</p>\n").encode()


def _nav_tags() -> bytes:
    return (
        "<html><body><nav>" + "<i>首页</b>" * 100_000 + "</nav><p>" + _good() + "</p></body></html>"
    ).encode()


def _sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with path.open("wb") as fh:
            fh.truncate(size)

    return make


def _fifo(path: Path) -> None:
    os.mkfifo(path)


CASES: list[Case] = [
    Case(
        "passwd.txt",
        "symlink to a file outside the landing zone (/etc/passwd)",
        _symlink("/etc/passwd"),
        RAW,
        "outside the landing zone",
    ),
    Case("loop.txt", "symlink loop", _symlink("loop.txt"), RAW, "symlink loop"),
    Case("dangling.txt", "dangling symlink", _symlink("/nonexistent/x.txt"), RAW, "broken symlink"),
    Case(".hidden.txt", "dot-file", _bytes(b"hidden"), RAW, "dot-file"),
    Case("pipe.txt", "FIFO named .txt", _fifo, RAW, "not a regular file"),
    Case("huge.txt", "65 MiB file (sparse)", _sparse(65 * 2**20), RAW, "too large"),
    Case("empty.txt", "empty file", _bytes(b""), STAGED, "empty"),
    Case("binary.txt", "random binary", _bytes(lambda: bytes(range(256)) * 64), STAGED, "undecodable"),
    Case(
        "scan.txt",
        "PDF named .txt",
        _bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(128, 256)) * 8),
        STAGED,
        "undecodable",
    ),
    Case(
        "photo.txt",
        "PNG named .txt",
        _bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
        STAGED,
        "undecodable",
    ),
    Case("scan.pdf", "PDF", _bytes(b"%PDF-1.4\n"), STAGED, "unsupported format"),
    Case(
        "cut.txt",
        "UTF-8 cut inside its last character",
        _bytes(lambda: (_good().rstrip() + "。").encode()[:-1]),
        STAGED,
        "truncated",
    ),
    Case(
        "mixed.txt",
        "half UTF-8, half GBK",
        _bytes(lambda: _good()[:400].encode() + _good()[400:].encode("gbk")),
        STAGED,
        "undecodable",
    ),
    Case("laughs9.txt", "YAML billion laughs, 9 levels", _bytes(_laughs(9)), STAGED, "aliases"),
    Case("laughs7.txt", "YAML billion laughs, 7 levels", _bytes(_laughs(7)), STAGED, "aliases"),
    Case(
        "apply.txt",
        "YAML !!python/object/apply tag",
        _bytes(b"---\ntitle: !!python/object/apply:os.system ['touch /tmp/pwned']\n---\n<p>x</p>\n"),
        STAGED,
        "not valid YAML",
    ),
    Case(
        "bomb.docx",
        ".docx zip bomb (300 MB of zeros)",
        _bytes(lambda: zip_bomb(300)),
        STAGED,
        "refused before inflating",
    ),
    Case(
        "lying.docx",
        ".docx whose zip directory understates its size",
        _bytes(_lying_zip),
        STAGED,
        "unreadable .docx",
    ),
    Case(
        "entities.docx",
        ".docx with XML entity expansion (billion laughs)",
        _bytes(_entity_bomb),
        STAGED,
        "unreadable .docx",
    ),
    Case("broken.docx", "not a zip", _bytes(b"PK\x03\x04 not really"), STAGED, "unreadable .docx"),
    Case(
        "nav.html", "100,000 mismatched inline tags in a `<nav>`", _bytes(_nav_tags), STAGED, "nested deeper"
    ),
    Case("title.txt", "no Chinese text (a base64 blob)", _bytes(b"QUJD" * 20_000), STAGED, "not a report"),
    Case("utf16.txt", "UTF-16 without BOM", _bytes(lambda: _good().encode("utf-16-le")), None, same_as=GOOD),
    Case("gbk.txt", "GBK", _bytes(lambda: _good().encode("gbk")), None, same_as=GOOD),
    Case(
        "big5.txt",
        "Big5 (traditional)",
        _bytes(lambda: TRADITIONAL.read_text(encoding="utf-8").encode("big5")),
        None,
        same_as=TRADITIONAL.name,
    ),
    Case(
        "new\nline.txt",
        "a newline in the file name",
        _bytes(lambda: _good().encode() + b"\n"),
        None,
        same_as=GOOD,
    ),
    Case(
        "-rf.txt",
        "a leading dash in the file name",
        _bytes(lambda: _good().encode() + b"\n\n"),
        None,
        same_as=GOOD,
    ),
    Case("..txt", "a name of dots (..txt)", _bytes(b"x"), RAW, "dot-file"),
    Case(
        "a..b.txt",
        "dots inside the file name",
        _bytes(lambda: _good().encode() + b"\n\n\n"),
        None,
        same_as=GOOD,
    ),
]


def build(folder: Path, cases: list[Case] = CASES) -> Path:
    """Write `cases` into `folder` (one date folder's worth); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases:
        case.make(folder / case.name)
    return folder


if __name__ == "__main__":
    target = build(Path(sys.argv[1]))
    for case in CASES:
        print(f"{case.name!r:24} {case.fault}")
