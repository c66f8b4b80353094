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
def _name_index() -> dict[str, list[tuple[str, tuple[str, ...], bool]]]:
    """First character → [(name, codes, is_alias)], longest names first."""
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
    index: dict[str, list[tuple[str, tuple[str, ...], bool]]] = defaultdict(list)
    for name, codes in full.items():
        index[name[0]].append((name, tuple(codes), False))
    for name, codes in alias.items():
        if name not in full:
            index[name[0]].append((name, tuple(codes), True))
    for entries in index.values():
        entries.sort(key=lambda e: -len(e[0]))
    return dict(index)


def find_region_names(text: str) -> list[RegionMatch]:
    """Every full or short region name in `text`, longest match first, skipping book titles 《…》."""
    index = _name_index()
    out: list[RegionMatch] = []
    depth, i = 0, 0
    while i < len(text):
        ch = text[i]
        depth += ch == "《"
        depth -= ch == "》" and depth > 0
        for name, codes, is_alias in index.get(ch, ()) if depth == 0 else ():
            if text.startswith(name, i):
                out.append(RegionMatch(i, i + len(name), name, codes, is_alias))
                i += len(name) - 1
                break
        i += 1
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
