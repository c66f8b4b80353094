"""Administrative regions: the gazetteer (GB/T 2260 codes), name and short-name matching, ancestry."""

from __future__ import annotations

import csv
import math
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache

from warehouse.catalog import DATA_DIR

NATIONAL = "000000"
# the 55 minority nationalities (and 各族) as they appear in names of autonomous units, longest first
_ETHNIC_GROUPS = [
    "乌孜别克",
    "俄罗斯",
    "柯尔克孜",
    "维吾尔",
    "哈萨克",
    "塔吉克",
    "塔塔尔",
    "达斡尔",
    "鄂温克",
    "鄂伦春",
    "土家",
    "布依",
    "朝鲜",
    "哈尼",
    "傈僳",
    "拉祜",
    "东乡",
    "纳西",
    "景颇",
    "仫佬",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "德昂",
    "保安",
    "裕固",
    "独龙",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
    "蒙古",
    "高山",
    "回",
    "藏",
    "苗",
    "彝",
    "壮",
    "满",
    "侗",
    "瑶",
    "白",
    "傣",
    "黎",
    "佤",
    "畲",
    "水",
    "土",
    "羌",
    "怒",
    "京",
    "各",
]
_ETHNIC_SUFFIX = re.compile(rf"^(.{{2,}}?)(?:(?:{'|'.join(_ETHNIC_GROUPS)})族?)+自治(州|县|旗)$")
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


def aliases(region: Region) -> list[str]:
    """Short names a text may use: 中江, and for an autonomous unit also the short name with its level
    (凉山州, 黔西南州, 彭水县, 琼中县)."""
    short = short_name(region)
    if short is None:
        return []
    kind = _ETHNIC_SUFFIX.match(region.name)
    return [short, short + kind.group(2)] if kind else [short]


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
        for s in aliases(r):
            if s not in stop:
                alias[s].append(r.code)
    index = {name: (tuple(codes), False) for name, codes in full.items()}
    index.update({name: (tuple(codes), True) for name, codes in alias.items() if name not in full})
    return index


@cache
def _by_bigram() -> tuple[re.Pattern[str], dict[str, list[str]]]:
    """A pattern of candidate starts (a name's first character followed by some name's second character,
    to jump between candidates at C speed) and the names by their first two characters, longest first.
    Every name has at least two characters."""
    by_bigram: dict[str, list[str]] = defaultdict(list)
    for name in _name_index():
        by_bigram[name[:2]].append(name)
    for names in by_bigram.values():
        names.sort(key=len, reverse=True)
    first = "".join(sorted({name[0] for name in by_bigram}))
    second = "".join(sorted({name[1] for name in by_bigram}))
    return re.compile(f"[{re.escape(first)}](?=[{re.escape(second)}])"), dict(by_bigram)


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


def in_spans(spans: list[tuple[int, int]], pos: int) -> bool:
    """`pos` lies in one of `spans` (disjoint, in text order)."""
    k = bisect_right(spans, (pos, math.inf)) - 1
    return k >= 0 and spans[k][0] <= pos < spans[k][1]


_BEFORE_SHORT = re.compile(r"[^\u4e00-\u9fff]|[省市州盟区的在与了到]")
_AFTER_SHORT = re.compile(r"[级域城]")


def _bounded(text: str, i: int) -> bool:
    """A two-character county name (和县, 高县, 南县) only at a word boundary: 乡镇和县级, 提高县… are not places."""
    before_ok = i == 0 or _BEFORE_SHORT.match(text, i - 1) is not None
    return before_ok and _AFTER_SHORT.match(text, i + 2) is None


_BELOW_COUNTY = ("乡", "镇", "村", "苏木", "街道")  # a short name before these names a town (库伦苏木)


def find_region_names(text: str, *, in_titles: bool = False) -> list[RegionMatch]:
    """Every full or short region name in `text`, the longest at each position, left to right, skipping
    book titles 《…》 unless `in_titles`. A short name right before 乡/镇/村/苏木 names that town or village."""
    index, titles, out = _name_index(), [] if in_titles else book_titles(text), []
    starts, by_bigram = _by_bigram()
    resume = 0
    for c in starts.finditer(text):
        i = c.start()
        if i < resume or (titles and in_spans(titles, i)):
            continue
        for name in by_bigram.get(text[i : i + 2], ()):
            if text.startswith(name, i) and (len(name) > 2 or name[1] != "县" or _bounded(text, i)):
                codes, is_alias = index[name]
                if is_alias and text.startswith(_BELOW_COUNTY, i + len(name)):
                    break
                out.append(RegionMatch(i, i + len(name), name, codes, is_alias))
                resume = i + len(name)
                break
    return out


_DATELINE_TAIL = re.compile(r"\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:电|讯|消息)")
_VENUE_TAIL = re.compile(r"[^，,。；;]{0,6}?(?:举办|举行|召开|开幕|闭幕)")


def is_location_only(text: str, m: RegionMatch) -> bool:
    """The place is where a story was filed (新华社北京10月10日电) or an event held (在兰州举行): it names
    no subject of the figures."""
    if _DATELINE_TAIL.match(text, m.end):
        return True
    return text[m.start - 1 : m.start] in ("在", "于") and _VENUE_TAIL.match(text, m.end) is not None


def subject_places(text: str, *, in_titles: bool = False) -> list[RegionMatch]:
    """Region names in `text` without datelines and venues."""
    return [m for m in find_region_names(text, in_titles=in_titles) if not is_location_only(text, m)]


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


# ---------------------------------------------------------------- the region a document speaks for
LEVEL_RANK = {"country": 0, "province": 1, "city": 2, "county": 3}
NATIONAL_WORDS = re.compile(
    r"全国(?!第|前列|排名|争先|领先|先进|示范|一道|同步|\d)|我国|国务院|国新办|国家乡村振兴局|中央农办|中央农村工作领导小组|国家发展改革委|财政部|农业农村部|"
    r"\d+个省(?:份|区市|市区)|中西部\d+个省|东部\d+省市|中国(?=[\u4e00-\u9fff]{0,2}(?:脱贫|贫困|农村|乡村|减贫))"
)


_LOCAL_VOICE = re.compile(r"(?:我|本)(?:市|县|州|区|旗|盟|镇|乡)")  # a local report speaks of 我县, 本市
_PROVINCIAL_VOICE = re.compile(r"(?:我|本|全)(?:省|区|市)")
# The one-character abbreviations of provinces (GB/T 2260 简称), read only in 驻桂单位-style phrases.
PROVINCE_ABBREVIATIONS = {
    "京": "110000", "津": "120000", "冀": "130000", "晋": "140000", "蒙": "150000", "辽": "210000",
    "吉": "220000", "黑": "230000", "沪": "310000", "苏": "320000", "浙": "330000", "皖": "340000",
    "闽": "350000", "赣": "360000", "鲁": "370000", "豫": "410000", "鄂": "420000", "湘": "430000",
    "粤": "440000", "桂": "450000", "琼": "460000", "渝": "500000", "川": "510000", "黔": "520000",
    "滇": "530000", "藏": "540000", "陕": "610000", "陇": "620000", "青": "630000", "宁": "640000",
    "新": "650000",
}  # fmt: skip
_STATIONED_IN = re.compile(f"驻([{''.join(PROVINCE_ABBREVIATIONS)}])(?:单位|机构|部队|企业)")


def _stationed_province(body: str) -> str | None:
    """A provincial text that names no place but its units 驻桂 (stationed in Guangxi): that province."""
    found = {PROVINCE_ABBREVIATIONS[m.group(1)] for m in _STATIONED_IN.finditer(body)}
    return found.pop() if len(found) == 1 and _PROVINCIAL_VOICE.search(body) else None


def _national_weight(title: str, opening: str, body: str) -> float:
    """National words, weighted like places; 全国 alone counts half (local news says 全国先进, 与全国一道)."""
    total = 0.0
    for text, weight in ((title, 3.0), (opening, 2.0), (body, 1.0)):
        total += sum(weight * (0.5 if w == "全国" else 1.0) for w in NATIONAL_WORDS.findall(text))
    return total


def _codes_named(text: str, *, in_titles: bool = False) -> list[str]:
    """One code per subject place in `text`; an ambiguous short name counts as its highest-level candidate
    (甘孜: the prefecture, not 甘孜县) when that one is unique."""
    out, gaz = [], gazetteer()
    for m in subject_places(text, in_titles=in_titles):
        top = min(LEVEL_RANK[gaz[c].level] for c in m.codes)
        codes = [c for c in m.codes if LEVEL_RANK[gaz[c].level] == top]
        if len(codes) == 1:
            out.append(codes[0])
    return out


def _deepest(codes: list[str]) -> str:
    """The deepest of the named regions; several at that depth (a list of districts) give their common
    parent when there is one."""
    gaz = gazetteer()
    depth = max(LEVEL_RANK[gaz[c].level] for c in codes)
    deepest = sorted({c for c in codes if LEVEL_RANK[gaz[c].level] == depth})
    if len(deepest) == 1:
        return deepest[0]
    shared = set(ancestors(deepest[0])).intersection(*(ancestors(c) for c in deepest[1:]))
    return max(shared, key=lambda c: LEVEL_RANK[gaz[c].level]) if shared else deepest[0]


def document_region(title: str, publisher: str, meta: str, opening: str, body: str) -> str | None:
    """The region a document speaks for, read as a careful reader does (texts already simplified):
    the deepest subject place in the title, else in the publisher and site-owner lines; else the place the
    text names most (the opening sentence counts double; documents cited 《…》 and site menus count half).
    Several places tied: their common parent (a list of districts is their city's report), or 全国 when
    they are provinces; national too when national words (全国, 国务院, 25个省份) outnumber every place.
    Datelines and venues (…北京…电, 在兰州举行) are not subjects. A provincial text naming no place at all
    speaks for the province its units are stationed in (区直中直驻桂单位)."""
    for text in (title, publisher):
        named = _codes_named(text)
        if named:
            return _deepest(named)
    scores: dict[str, float] = defaultdict(float)
    for code in _codes_named(opening):
        scores[code] += 2.0
    in_body = _codes_named(body)
    for code in in_body:
        scores[code] += 1.0
    cited = Counter(_codes_named(body, in_titles=True)) - Counter(in_body)
    for code in [*cited.elements(), *_codes_named(meta)]:
        scores[code] += 0.5
    national = 0.0 if _LOCAL_VOICE.search(body) else _national_weight(title, opening, body)
    if not scores:
        return NATIONAL if national else _stationed_province(body)
    top = max(scores.values())
    if national > top:
        return NATIONAL
    tied = [c for c, v in scores.items() if v == top]
    if len(tied) > 1 and all(gazetteer()[c].level == "province" for c in tied):
        return NATIONAL
    return _deepest(tied)


# ---------------------------------------------------------------- units below the county (no GB/T 2260 code)
@dataclass(frozen=True)
class Town:
    start: int
    end: int
    name: str  # 新街镇, 小淹镇, 东城街道
    county: str | None  # code of the county it belongs to, when the text says


_TOWN = re.compile(
    r"(?:(?![个多各等些几所每全本该我其])[\u4e00-\u9fff]){2,3}?(?:镇|乡|街道)"
)  # 多个乡镇: no name
_OPENS = re.compile(
    r"(?:^|(?<=[\n。！？；;]))\s*(?:[一二三四五六七八九十]+、|\d+[.、．]|[（(][一二三四五六七八九十\d]+[)）])?\s*"
)
_OPENING_TOWN = re.compile(f"{_OPENS.pattern}(?P<town>{_TOWN.pattern})")
_TOWN_FOLLOW = re.compile(
    r"[\d，,：:（(]|今年|本月|上月|近日|全力|积极|扎实|持续|坚持|聚焦|召开|开展|通过|共有|累计|现有|下辖|位于|地处"
)
GENERIC_TOWNS = frozenset(
    [
        "城镇",
        "乡镇",
        "集镇",
        "村镇",
        "城乡",
        "小城镇",
        "建制镇",
        "重点镇",
        "中心镇",
        "特色镇",
        "全镇",
        "本镇",
        "我镇",
        "该镇",
        "各镇",
        "全乡",
        "本乡",
        "我乡",
        "该乡",
        "各乡",
        "返乡",
        "下乡",
        "回乡",
        "家乡",
        "故乡",
        "老乡",
        "异乡",
        "在乡",
        "留乡",
    ]
)


def find_towns(text: str, places: list[RegionMatch]) -> list[Town]:
    """Towns, townships and subdistricts a text names with certainty: right after their county (大姚县新街镇),
    opening the text (a town's report titled 新街镇…工作总结), or opening a sentence or numbered item as its
    subject (一、新街镇1月…)."""
    gaz, found = gazetteer(), {}
    head = _TOWN.match(text, len(text) - len(text.lstrip()))
    if head:
        found[head.start()] = Town(head.start(), head.end(), head.group(0), None)
    for p in places:
        if len(p.codes) == 1 and gaz[p.codes[0]].level == "county":
            m = _TOWN.match(text, p.end)
            if m:
                found[m.start()] = Town(m.start(), m.end(), m.group(0), p.codes[0])
    for o in _OPENING_TOWN.finditer(text):
        if o.start("town") not in found and _TOWN_FOLLOW.match(text, o.end()):
            found[o.start("town")] = Town(o.start("town"), o.end(), o.group("town"), None)
    return [
        t
        for _, t in sorted(found.items())
        if t.name not in GENERIC_TOWNS and t.name[-2:] not in GENERIC_TOWNS
    ]
