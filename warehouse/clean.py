"""Raw documents → staged documents: decode, strip boilerplate per format, normalize, read metadata.

Clean text layout: the title on the first line, a blank line, then one body paragraph per line (table
rows as tab-separated cells). Offsets of facts refer to this text.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any

import polars as pl
import yaml

from schemas.registry import table
from warehouse import budget, regions
from warehouse.settings import DEFAULT_LIMITS, Limits
from warehouse.simplified import to_simplified
from warehouse.workers import map_frames

# Full-width ASCII that carries numbers and units is folded; CJK punctuation (，。；：（）！？) is kept.
_FOLD: dict[int, int | None] = {
    cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp) not in "，；：（）！？［］｛｝｟"
}
_FOLD.update({0x3000: 0x20, 0xA0: 0x20, 0x2002: 0x20, 0x2003: 0x20, 0x200B: None, 0xFEFF: None})
# Simplified→traditional converters on reprint sites leave a character's pinyin behind it: 務(wù)工, 萬(wàn)人.
# Only a parenthesised syllable with a tone mark right after a Han character counts, so (HK), (1) or (注) stay.
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN_DEBRIS = re.compile(
    rf"(?<=[\u4e00-\u9fff])[(（](?=[a-zü{_TONED}]*[{_TONED}])[a-zü{_TONED}]{{1,7}}[)）]"
)
_BARE_ENTITY = re.compile(r"(?<![&A-Za-z])(ldquo|rdquo|lsquo|rsquo|mdash|hellip|nbsp|middot);")
_BARE_ENTITY_MAP = {
    "ldquo": "“",
    "rdquo": "”",
    "lsquo": "‘",
    "rsquo": "’",
    "mdash": "—",
    "hellip": "…",
    "nbsp": " ",
    "middot": "·",
}
_DATE = re.compile(r"(20\d{2}|19\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_FOOTER_LINE = re.compile(
    r"^(主办单位|主办|承办单位|承办|协办|地址|通讯地址|联系电话|联系我们|电话|传真|邮编|邮箱|网站标识码|网站地图|"
    r"版权所有|Copyright|©|技术支持|.*ICP备|.*公网安备|.*ICP证|您访问的链接即将离开|扶贫监督举报电话|纪委监督举报电话)",
    re.I,
)
_PORTAL_META = re.compile(
    r"^(当前位置|您当前的位置|首页\s*[>›»]|打印|关闭|分享到|字号|【|访问量|浏览次数|发布时间|来源[:：]|录入[:：]|日期[:：])"
)
_PAGE_FOOTER = re.compile(
    r"^\s*[—–-]*\s*[-–—]\s*\d+\s*[-–—]\s*[—–-]*\s*$|^\s*第\s*\d+\s*页\s*(共\s*\d+\s*页)?\s*$"
)
_LINK_LINE = re.compile(r"^\s*(<https?://[^>\s]+>|(\[[^\]]*\]\([^)]*\)\s*[｜|]?\s*)+)\s*$")
_SOURCE_NOTE = re.compile(r"^[（(]?\s*(?:文章)?来源[:：]\s*([^）)]+?)\s*[）)]?$")


class DocumentError(ValueError):
    """A document that cannot be staged; the message is the quarantine reason."""


@dataclass
class Parsed:
    title: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    published: date | None = None
    publisher: str | None = None
    meta_lines: list[str] = field(default_factory=list)  # header/footer lines kept for region detection


def normalize(text: str) -> str:
    """NFC, full-width digits/letters/％ folded to ASCII, converter pinyin debris dropped, stray entities
    fixed, whitespace tidied."""
    text = unicodedata.normalize("NFC", text).translate(_FOLD)
    text = _PINYIN_DEBRIS.sub("", text)
    text = _BARE_ENTITY.sub(lambda m: _BARE_ENTITY_MAP[m.group(1)], text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.strip() for line in text.split("\n"))


def decode(content: bytes, encoding: str | None) -> str:
    if encoding is None:
        try:
            content.decode("utf-8")
            where = ""
        except UnicodeDecodeError as exc:
            where = f" (UTF-8 breaks at byte {exc.start:,} of {len(content):,})"
        raise DocumentError(
            f"undecodable: not valid UTF-8{where}, nor GB18030, Big5 or UTF-16 that reads as Chinese "
            "(binary, mixed encodings or mojibake)"
        )
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(content):
            raise DocumentError(
                f"truncated: the file ends inside a UTF-8 character (byte {exc.start:,} of {len(content):,}); "
                "was it cut short?"
            ) from exc
        raise DocumentError(f"undecodable as {encoding}: {exc}") from exc


def parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    m = _DATE.search(str(value or ""))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


# ---------------------------------------------------------------- HTML
class _HTMLText(HTMLParser):
    SKIP = {
        "script",
        "style",
        "nav",
        "header",
        "footer",
        "noscript",
        "iframe",
        "form",
        "select",
        "button",
        "aside",
    }
    BLOCK = {
        "p",
        "div",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "tr",
        "table",
        "section",
        "article",
        "ul",
        "ol",
        "blockquote",
        "dd",
        "dt",
        "center",
    }
    NOISE = re.compile(r"breadcrumb|crumb|nav|menu|footer|sidebar|share|copyright|position|location", re.I)

    VOID = frozenset({"br", "img", "meta", "link", "input", "hr"})

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(convert_charrefs=True)
        self.limits = limits
        self.parts: list[str] = []
        self.skip_stack: list[str] = []
        self._skipping: Counter[str] = Counter()  # the tags on skip_stack: `in` and pops without a scan
        self.tags = 0
        self._title: list[str] = []
        self._h1: list[str] = []
        self._in: str | None = None
        self.meta: dict[str, str] = {}

    @property
    def title(self) -> str | None:
        return "".join(self._title)[: MAX_TITLE_CHARS * 4] or None

    @property
    def h1(self) -> str | None:
        return "".join(self._h1)[: MAX_TITLE_CHARS * 4] or None

    def _skip(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if len(self.skip_stack) >= self.limits.max_html_depth:
            raise DocumentError(
                f"HTML nested deeper than {self.limits.max_html_depth:,} elements (WAREHOUSE_MAX_HTML_DEPTH)"
            )
        self.skip_stack.append(tag)
        self._skipping[tag] += 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        if not self.tags & 1023:
            budget.check()
        if self.tags > self.limits.max_html_tags:
            raise DocumentError(
                f"more than {self.limits.max_html_tags:,} HTML tags (WAREHOUSE_MAX_HTML_TAGS)"
            )
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and a.get("name"):
            self.meta[a["name"].lower()] = a.get("content", "")
        if (
            self.skip_stack
            or tag in self.SKIP
            or self.NOISE.search(a.get("class", "") + " " + a.get("id", ""))
        ):
            self._skip(tag)
            return
        if tag in {"title", "h1"}:
            self._in = tag
        if tag in {"td", "th"}:
            self.parts.append("\t")
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_stack:
            if self._skipping[tag]:
                while self.skip_stack:
                    popped = self.skip_stack.pop()
                    self._skipping[popped] -= 1
                    if popped == tag:
                        break
            return
        if tag == self._in:
            self._in = None
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip_stack:
            return
        if self._in == "title":
            self._title.append(data.strip())
            return
        if self._in == "h1":
            self._h1.append(data.strip())
        self.parts.append(data.replace("\n", " "))


def html_to_lines(markup: str, limits: Limits = DEFAULT_LIMITS) -> tuple[list[str], _HTMLText]:
    parser = _HTMLText(limits)
    parser.feed(markup)
    parser.close()
    lines = []
    for line in "".join(parser.parts).split("\n"):
        cells = [c.strip() for c in line.split("\t")]
        line = "\t".join(c for c in cells if c)
        if line:
            lines.append(line)
    return lines, parser


def _split_publisher(lines: list[str]) -> tuple[list[str], str | None]:
    kept, publisher = [], None
    for line in lines:
        m = _SOURCE_NOTE.match(line)
        if m and len(line) < 60:
            publisher = m.group(1).strip()
        else:
            kept.append(line)
    return kept, publisher


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: `*alias` references (billion-laughs expansion) are refused, not expanded."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise DocumentError(
                "front matter uses YAML aliases (*name): refused, they can expand without bound"
            )
        return super().compose_node(parent, index)


def parse_jekyll(text: str, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    m = re.match(r"^---\n(.*?)\n---\n?(.*)$", text, re.S)
    if not m:
        raise DocumentError("front matter not closed: expected a second '---' line")
    if len(m.group(1).encode("utf-8")) > limits.max_yaml_bytes:
        raise DocumentError(
            f"front matter larger than {limits.max_yaml_bytes:,} bytes (WAREHOUSE_MAX_YAML_BYTES)"
        )
    try:
        front = yaml.load(m.group(1), Loader=_NoAliasLoader) or {}  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise DocumentError(f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(front, dict):
        raise DocumentError("front matter is not a mapping")
    body = "\n".join(line for line in m.group(2).split("\n") if not _LINK_LINE.match(line))
    lines, _ = html_to_lines(body, limits)
    lines, publisher = _split_publisher(lines)
    meta = [str(front.get(k, "")) for k in ("categories", "tags", "source", "author") if front.get(k)]
    return Parsed(
        str(front.get("title") or "").strip() or None,
        lines,
        parse_date(front.get("date")),
        publisher or (str(front["source"]) if front.get("source") else None),
        meta,
    )


def parse_html(text: str, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    lines, parser = html_to_lines(text, limits)
    lines, publisher = _split_publisher(lines)
    title = parser.h1 or parser.title
    if title and lines and lines[0] == title:
        lines = lines[1:]
    published = parse_date(parser.meta.get("pubdate") or parser.meta.get("publishdate"))
    body, meta = _strip_portal_lines(lines)
    published = published or next((d for d in map(parse_date, meta) if d), None)
    publisher = publisher or _publisher_from(meta) or parser.meta.get("sitename") or parser.meta.get("author")
    return Parsed(title, body, published, publisher, meta + [parser.title or ""])


def _publisher_from(lines: list[str]) -> str | None:
    for line in lines:
        m = re.search(r"(?:来源|录入|发布单位|发布机构|信息来源)[:：]\s*([^\s:：]+)", line)
        if m:
            return m.group(1)
    return None


_DATED_LABEL = re.compile(r"(?:时间|日期|发布|更新)[:：]\s*(?:19|20)\d{2}\s*[-/.年]")
MAX_META_CHARS = 80  # a labelled date inside a longer line is body text


def _is_chrome(line: str) -> bool:
    """A portal's metadata line (来源:…, 【打印】【关闭】, a bare date, a short line with a labelled date such
    as 某网 时间:2018-12-28 作者:…); a long line opening with a wire tag (【香港商报网讯】12月30日，据…) is body."""
    if re.fullmatch(r"[\d\-/: 年月日]+", line):
        return True
    if len(line) <= MAX_META_CHARS and _DATED_LABEL.search(line):
        return True
    return _PORTAL_META.match(line.lstrip(" •·-")) is not None and not (
        line.startswith("【") and len(line) > 40
    )


def _strip_portal_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split body lines from portal chrome: metadata lines and the trailing footer block."""
    body, meta = [], []
    for i, line in enumerate(lines):
        if _FOOTER_LINE.match(line) and all(len(x) < 80 for x in lines[i:]):
            meta.extend(lines[i:])
            break
        if _is_chrome(line):
            meta.append(line)
        else:
            body.append(line)
    return body, meta


def parse_portal(text: str) -> Parsed:
    lines = [x for x in text.split("\n") if x]
    crumb = next(
        (i for i, x in enumerate(lines[:15]) if re.match(r"^(当前位置|您当前的位置|首页\s*[>›»])", x)), None
    )
    header = lines[: crumb + 1] if crumb is not None else []
    rest = lines[crumb + 1 :] if crumb is not None else lines
    if not rest:
        raise DocumentError("empty: no text after the page header")
    title, rest = rest[0], rest[1:]
    body, meta = _strip_portal_lines(rest)
    meta = header + meta
    published = next((d for d in map(parse_date, meta) if d), None)
    return Parsed(title, body, published, _publisher_from(meta), meta)


def parse_word_text(text: str) -> Parsed:
    text = re.sub(r"\[bookmark:[^\]]*\]", "", text)
    lines = [x for x in text.split("\n") if x and not _PAGE_FOOTER.match(x)]
    title_parts: list[str] = []
    while lines and len(lines[0]) <= 40 and not re.search(r"[。；;]$", lines[0]) and len(title_parts) < 3:
        title_parts.append(lines.pop(0))
    title = "".join(title_parts) or None
    tail_dates = [d for d in map(parse_date, lines[-3:]) if d]
    return Parsed(title, lines, tail_dates[-1] if tail_dates else None, None, [])


MAX_TITLE_CHARS = 60


def parse_plain(text: str) -> Parsed:
    """The first line is the title unless it reads as body text (long, or ends a sentence)."""
    lines = [x for x in text.split("\n") if x]
    if not lines:
        raise DocumentError("empty: no text")
    first = lines[0].strip()
    is_title = len(first) <= MAX_TITLE_CHARS and not re.search(r"[。；;]$", first)
    title, rest = (first, lines[1:]) if is_title else (None, lines)
    body, meta = _strip_portal_lines(rest)
    return Parsed(
        title, body, next((d for d in map(parse_date, meta) if d), None), _publisher_from(meta), meta
    )


def check_docx_package(content: bytes, limits: Limits) -> None:
    """Refuse a .docx whose zip would inflate beyond the limits, from its directory, before inflating."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as package:
            entries = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"unreadable .docx: {exc}") from exc
    if len(entries) > limits.max_docx_entries:
        raise DocumentError(f".docx with {len(entries):,} entries, the limit is {limits.max_docx_entries:,}")
    inflated = sum(e.file_size for e in entries)
    if inflated > limits.max_docx_inflated_bytes:
        raise DocumentError(
            f".docx inflating to {inflated:,} bytes, the limit is {limits.max_docx_inflated_bytes:,} "
            "(WAREHOUSE_MAX_DOCX_INFLATED_BYTES): refused before inflating"
        )


def parse_docx(content: bytes, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    import docx  # local import: python-docx is only needed for Word files
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_docx_package(content, limits)
    try:
        document = docx.Document(io.BytesIO(content))
    except Exception as exc:  # python-docx raises several types for broken packages
        raise DocumentError(f"unreadable .docx: {exc}") from exc
    lines: list[str] = []
    for child in document.element.body.iterchildren():
        if child.tag.endswith("}p"):
            lines.append(Paragraph(child, document).text.strip())
        elif child.tag.endswith("}tbl"):
            for row in Table(child, document).rows:
                lines.append("\t".join(c.text.strip().replace("\n", " ") for c in row.cells))
    lines = [normalize(x).replace("\n", " ") for x in lines if x.strip()]
    if not lines:
        raise DocumentError("empty: the Word document has no text")
    title = document.core_properties.title or lines.pop(0)
    return Parsed(title, lines, None, document.core_properties.author or None, [])


PARSERS = {
    "jekyll": parse_jekyll,
    "html": parse_html,
    "portal_text": parse_portal,
    "word_text": parse_word_text,
    "text": parse_plain,
}


# ---------------------------------------------------------------- staging
MIN_REPORT_CHARS = 40


_SITE_OWNER = re.compile(r"^\s*(主办单位|主办|承办单位|承办|版权所有|(?:文章|信息)?来源|发布单位|发布机构)")


def document_region(title: str | None, publisher: str | None, meta: list[str], body: str) -> str | None:
    """The region a document speaks for (`regions.document_region` on the simplified texts)."""
    view = to_simplified(body)
    opening = re.split(r"[。！？\n]", view.lstrip(), maxsplit=1)[0]
    owners = [x for x in meta if _SITE_OWNER.match(x)]
    others = [x for x in meta if not _SITE_OWNER.match(x)]
    simple = [
        to_simplified(x) for x in (title or "", "\n".join([publisher or "", *owners]), "\n".join(others))
    ]
    return regions.document_region(simple[0], simple[1], simple[2], opening, view)


def stage_one(
    content: bytes, fmt: str, encoding: str | None, source_file: str, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Clean one raw document; raises DocumentError with the quarantine reason."""
    if fmt == "unsupported":
        raise DocumentError(f"unsupported format: {source_file!r} is not .txt, .html or .docx")
    if fmt == "docx":
        parsed = parse_docx(content, limits)
    elif fmt in ("jekyll", "html"):
        parser = parse_jekyll if fmt == "jekyll" else parse_html
        parsed = parser(normalize(decode(content, encoding)).lstrip("\ufeff"), limits)
    else:
        parsed = PARSERS[fmt](normalize(decode(content, encoding)).lstrip("\ufeff"))
    budget.check()
    title = normalize(parsed.title or "").replace("\n", " ").strip() or None
    body = [p for p in (normalize(x).strip() for x in parsed.paragraphs) if p]
    if title and body and body[0] == title:
        body = body[1:]
    text = "\n".join([title or "", "", *body])
    if len(text) > limits.max_staged_chars:
        raise DocumentError(
            f"too long: {len(text):,} characters after cleaning, the limit is {limits.max_staged_chars:,} "
            "(WAREHOUSE_MAX_STAGED_CHARS)"
        )
    if sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff") < MIN_REPORT_CHARS:
        raise DocumentError(f"not a report: fewer than {MIN_REPORT_CHARS} Chinese characters after cleaning")
    budget.check()
    region = document_region(title, parsed.publisher, parsed.meta_lines, "\n".join(body))
    return {
        "title": title,
        "published_date": parsed.published,
        "publisher": parsed.publisher,
        "region_code": region,
        "region_name": regions.name_of(region) if region else None,
        "text": text,
        "char_count": len(text),
        "paragraph_count": len(body),
    }


def stage_documents(
    raw: pl.DataFrame, limits: Limits = DEFAULT_LIMITS
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Staged documents, and the documents that could not be staged with their reasons."""
    staged, rejected = [], []
    for row in raw.iter_rows(named=True):
        keys = {k: row[k] for k in ("doc_id", "source_file", "arrival_date", "format", "encoding")}
        try:
            with budget.deadline(limits.max_document_seconds, "cleaning", row["source_file"]):
                cleaned = stage_one(
                    row["content"], row["format"], row["encoding"], row["source_file"], limits
                )
            staged.append(keys | cleaned)
        except (DocumentError, budget.OverBudget) as exc:
            rejected.append(
                {
                    "doc_id": row["doc_id"],
                    "source_file": row["source_file"],
                    "arrival_date": row["arrival_date"],
                    "reason": str(exc),
                }
            )
    return pl.DataFrame(staged, schema=STAGED_SCHEMA), rejected


def stage_in_workers(
    raw: pl.DataFrame, limits: Limits, workers: int
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """`stage_documents` over chunks of `raw` in `workers` processes (`warehouse.workers`), in order."""
    parts = map_frames(stage_documents, raw, workers, limits)
    return pl.concat([p[0] for p in parts]), [r for p in parts for r in p[1]]


STAGED_SCHEMA = table("staged/documents").polars_schema()  # the contract's columns and types
