"""Administrative regions: the gazetteer (GB/T 2260 codes), name and short-name matching, ancestry."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from warehouse.catalog import DATA_DIR

NATIONAL = "000000"
_ETHNIC_SUFFIX = re.compile(r"^(.{2,}?)(?:[\u4e00-\u9fff]{1,5}?族)+自治(州|县|旗)$")
_PROVINCE_SUFFIX = re.compile(r"(壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)$")


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # country, province, city, county
    parent_code: str


@dataclass(frozen=True)
class RegionMatch:
    start: int
    end: int
    surface: str
    codes: tuple[str, ...]  # candidate regions (several for an ambiguous short name)
    is_alias: bool


@cache
def gazetteer() -> dict[str, Region]:
    with (DATA_DIR / "gazetteer.csv").open(encoding="utf-8", newline="") as fh:
        return {r["code"]: Region(**r) for r in csv.DictReader(fh)}


@cache
def stoplist() -> frozenset[str]:
    lines = (DATA_DIR / "alias_stoplist.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip() for x in lines if x.strip() and not x.startswith("#"))


def short_name(region: Region) -> str | None:
    """中江县 → 中江, 德阳市 → 德阳, 甘肃省 → 甘肃, 凉山彝族自治州 → 凉山; None for districts."""
    name = region.name
    if region.level == "province":
        short = _PROVINCE_SUFFIX.sub("", name)
    elif m := _ETHNIC_SUFFIX.match(name):
        short = m.group(1)
    elif name.endswith("区"):
        return None
    else:
        short = re.sub(r"(地区|市|县|盟|旗|林区|特区)$", "", name)
    return short if len(short) >= 2 and short != name else None


@cache
def _name_index() -> dict[str, tuple[tuple[str, ...], bool]]:
    """Every matchable name → (codes, is_alias). Short names that are also full names stay full names."""
    full: dict[str, list[str]] = defaultdict(list)
    alias: dict[str, list[str]] = defaultdict(list)
    stop = stoplist()
    for r in gazetteer().values():
        if r.level == "country" or r.name in stop:
            continue
        full[r.name].append(r.code)
        s = short_name(r)
        if s and s not in stop:
            alias[s].append(r.code)
    index = {name: (tuple(codes), False) for name, codes in full.items()}
    index.update({name: (tuple(codes), True) for name, codes in alias.items() if name not in full})
    return index


@cache
def _by_bigram() -> tuple[re.Pattern[str], dict[str, list[str]]]:
    """A character class of names' first characters (to jump between candidates at C speed) and the
    names by their first two characters, longest first. Every name has at least two characters."""
    by_bigram: dict[str, list[str]] = defaultdict(list)
    for name in _name_index():
        by_bigram[name[:2]].append(name)
    for names in by_bigram.values():
        names.sort(key=len, reverse=True)
    first = "".join(sorted({name[0] for name in by_bigram}))
    return re.compile(f"[{re.escape(first)}]"), dict(by_bigram)


def book_titles(text: str) -> list[tuple[int, int]]:
    """Spans inside 《…》 (nested titles count as one)."""
    out, depth, start = [], 0, 0
    for m in re.finditer("[《》]", text):
        if m.group() == "《":
            depth += 1
            start = m.start() if depth == 1 else start
        elif depth > 0:
            depth -= 1
            if depth == 0:
                out.append((start, m.end()))
    if depth > 0:
        out.append((start, len(text)))
    return out


def find_region_names(text: str) -> list[RegionMatch]:
    """Every full or short region name in `text`, the longest at each position, left to right, skipping
    book titles 《…》."""
    index, titles, out = _name_index(), book_titles(text), []
    first_chars, by_bigram = _by_bigram()
    resume = 0
    for c in first_chars.finditer(text):
        i = c.start()
        if i < resume or (titles and any(lo <= i < hi for lo, hi in titles)):
            continue
        for name in by_bigram.get(text[i : i + 2], ()):
            if text.startswith(name, i):
                codes, is_alias = index[name]
                out.append(RegionMatch(i, i + len(name), name, codes, is_alias))
                resume = i + len(name)
                break
    return out


def ancestors(code: str) -> list[str]:
    """The region's parents up to the province (nearest first), excluding itself and 全国."""
    gaz, out = gazetteer(), []
    parent = gaz[code].parent_code if code in gaz else ""
    while parent and parent != NATIONAL and parent in gaz:
        out.append(parent)
        parent = gaz[parent].parent_code
    return out


def province_of(code: str) -> str | None:
    if code == NATIONAL or code not in gazetteer():
        return None
    return code[:2] + "0000"


def is_within(code: str, container: str) -> bool:
    return code == container or container in ancestors(code)


def pick(codes: tuple[str, ...], context: list[str]) -> str:
    """Choose among ambiguous candidates the one inside (or containing) a context region."""
    for ctx in context:
        for code in codes:
            if is_within(code, ctx) or is_within(ctx, code):
                return code
    return codes[0]


def name_of(code: str) -> str:
    return gazetteer()[code].name
