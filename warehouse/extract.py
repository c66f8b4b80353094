"""Staged documents → quantity mentions and indicator facts (region, year, evidence, offsets).

For each quantity mention the extractor builds a context string ``left + '§' + right`` from its clause:
`left` is the text since the previous number in the clause (inherited from the previous number for
pairs and continuations: 8.14万户17.94万人, 由A增加到B, 、30万元), `right` runs to the end of the clause
with other numbers masked as '#'. Cue regexes (data/cues.csv) over that string name the indicator; the
unit must fit the catalog unit; exclusions (data/exclusions.csv) veto targets, plans, training counts and
the like. Region: nearest place name or 全市/我县/全省-style reference before the number in its sentence,
else the document's region. Year: nearest year or relative year (今年, 去年, 截至…) before the number in
its sentence, else the latest in its paragraph, else the document's reference year.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Literal

import polars as pl

from schemas import CuratedIndicator, StagedMention, polars_schema
from warehouse import EXTRACTOR_VERSION, budget, catalog, regions, tables
from warehouse.numbers import FACT_CLASSES, Mention, find_mentions
from warehouse.simplified import to_simplified
from warehouse.workers import map_frames

SENTENCE_END = "。！？!?\n"
FIRST_YEAR = 2000  # the first reference year the warehouse holds (schemas: CuratedIndicator.year)
CLAUSE_END = SENTENCE_END + "；;，,：:"
_CLAUSE_BREAK = re.compile(f"[{re.escape(CLAUSE_END)}]")
PAIR_CLASSES = {frozenset({"household", "person"})}
_CONTINUATION = re.compile(
    r"^(?:和|及|与|或)?(?:其中)?(?:由|从)?(?:增加|提高|增长|上升|减少|下降|降低|调整|扩大|达)?(?:到|至|为)?"
    r"(?:了)?(?:已|实际|共|累计|合计)?(?:到位|下达|落实|投入|完成|实施)?(?:现在|目前|当前)?(?:每人每年|每人每月)?$"
)
_TIME_WORDS = re.compile(
    r"(?:19|20)\d{2}\s*年(?:度|底|末|初)?(?:以来)?的?|截至(?:目前|当前|\d{1,2}月(?:底|末|上旬|中旬|下旬)?)"
)
_SUBSET = re.compile(r"其中|就占|占|包括|含")
_SUBSET_OPEN = re.compile(r"\s*其中")
_COREF = re.compile(
    r"(全|我|本)(市|县|省|区|州|盟|旗)|(市|县|州|盟|旗)本?级(?=财政|安排|投入|下达|资金)|全国|我国|中央财政|中央预算内"
    r"|自治区(?!级|财政)"
)
_APPOSITIVE = re.compile(
    r"作为[^，,。；;]{0,24}的(市|县|州|区|省|地区)"
)  # 作为全省…最多的市: not the subject
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?!龄)")
_SINCE = re.compile(r"(?:度|底|末|初)?(?:以来|至今)")
_RELATIVE = {
    "今年": 0,
    "本年度": 0,
    "本年": 0,
    "去年": -1,
    "上年": -1,
    "上一年": -1,
    "前年": -2,
    "明年": 1,
}
_RELATIVE_RE = re.compile(
    "|".join(sorted(_RELATIVE, key=len, reverse=True)) + r"|截至(?:目前|当前|\d{1,2}月)"
)


# five-year plans: "十三五"期间 (2016–2020). Bare 十五 is fifteen unless quoted or followed by a period word.
_PLAN = re.compile(
    r"[“\"‘']?(十[一二三四五六]五|十五(?=[”\"’']|期间|时期|以来|规划|末))[”\"’']?(?:期间|时期|以来|末)?"
)


def _plan_end(name: str) -> int:
    """十五 → 2005, 十一五 → 2010, 十三五 → 2020, 十四五 → 2025."""
    n = 10 if name == "十五" else 10 + "一二三四五六".index(name[1]) + 1
    return 1955 + 5 * n


@dataclass
class Ref:
    start: int
    end: int
    code: str = ""  # region reference: GB/T 2260 code
    year: int = 0  # time reference: the year it points at
    bound: int = -1  # start of the figure this time is attached to (2020年的9216元), else -1
    aside: tuple[int, int] | None = None  # the brackets a place is named in: (高于全省5.22个百分点)
    town: str = ""  # a unit below the county (新街镇): `code` is then its county's, or "" when unknown

    def visible_from(self, pos: int) -> bool:
        """A place named in brackets speaks only for figures inside the same brackets."""
        return self.aside is None or self.aside[0] <= pos < self.aside[1]


@dataclass
class Doc:
    doc_id: str
    text: str  # staged clean text (offsets refer to it)
    view: str  # same length, traditional characters simplified
    region_code: str | None
    ref_year: int | None  # the year 今年 refers to
    ref_month: int | None  # publication month (截至12月底 in a January report is last year's December)
    default_year: int | None  # the year of figures whose text names none
    sentences: list[tuple[int, int]]
    town: str = ""  # the town a town's own report speaks for (set by `analyze`)

    def sentence_at(self, pos: int) -> tuple[int, int]:
        """The span of the sentence holding `pos` (the sentences tile the text)."""
        return self.sentences[bisect_right(self.sentences, (pos, len(self.view))) - 1]


@cache
def _ends_pattern(ends: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(ends)}]")


_MONTH = re.compile(r"(\d{1,2})月")
_LIST_SEP = re.compile(r"[、和及与]")
_JOINER = re.compile(r"[^#，,]{0,6}(和|及|与|或)")


def spans(text: str, ends: str, cap: int | None = None, breaks: str = "") -> list[tuple[int, int]]:
    """Pieces of `text` each ending with one of the characters `ends` (the last may end without). With a
    `cap`, a longer piece is cut after its last character of `breaks` within the cap (else at the cap), so
    no piece is longer: work per figure stays bounded however long a run-on text is."""
    out: list[tuple[int, int]] = []
    start = 0
    for m in _ends_pattern(ends).finditer(text):
        _cut(text, start, m.end(), cap, breaks, out)
        start = m.end()
    if start < len(text):
        _cut(text, start, len(text), cap, breaks, out)
    return out


def _cut(text: str, lo: int, hi: int, cap: int | None, breaks: str, out: list[tuple[int, int]]) -> None:
    """Append [lo, hi) to `out` in pieces of at most `cap` characters."""
    while cap is not None and hi - lo > cap:
        cut = max(text.rfind(ch, lo, lo + cap) for ch in breaks) + 1 if breaks else 0
        cut = cut if cut > lo else lo + cap
        out.append((lo, cut))
        lo = cut
    out.append((lo, hi))


MAX_SENTENCE_CHARS = (
    1_500  # longest real sentence seen: 786 characters; a longer run-on one is cut at a clause
)
MAX_PARAGRAPH_CHARS = (
    6_000  # longest real paragraph seen: 1,110 characters; a longer one is cut at a sentence
)
_SENTENCE_BREAKS = "；;，：、"


_ANNUAL_REVIEW = re.compile(r"((?:19|20)\d{2})\s*年度?[^，。,]{0,16}(总结|工作报告|工作情况|年报|回顾|盘点)")


def reference_year(
    view: str, published: date | None, arrival: date | None, title: str | None = None
) -> int | None:
    """The year 今年 means: the publication year, or the year an annual review published early in the next
    year covers (《…2021年工作总结》 of 2022-01-05); for undated documents the latest year the text names."""
    review = _ANNUAL_REVIEW.search(to_simplified(title or ""))
    if published and review and int(review.group(1)) == published.year - 1 and published.month <= 3:
        return published.year - 1
    if published:
        return published.year
    limit = arrival.year if arrival else 2100
    years = [int(y) for y in _YEAR.findall(view) if int(y) <= limit]
    return max(years) if years else None


def default_year(view: str, ref_year: int | None) -> int | None:
    """The year a report covers when a figure's clause and paragraph name none: the year the text names most
    often (ties: the latest) up to the reference year, else the reference year; the start of a span
    (2015年以来) does not count. An annual review published in January names the past year throughout."""
    counts: dict[int, int] = {}
    for y in (int(m.group(1)) for m in _YEAR.finditer(view) if not _SINCE.match(view, m.end())):
        if y >= FIRST_YEAR and (ref_year is None or y <= ref_year):
            counts[y] = counts.get(y, 0) + 1
    return max(counts, key=lambda y: (counts[y], y)) if counts else ref_year


def region_refs(
    doc_view: str,
    found: list[regions.RegionMatch],
    doc_region: str | None,
    towns: Sequence[regions.Town] = (),
    doc_town: str = "",
) -> list[Ref]:
    """Place names (short names only when unambiguous in this document), towns, and 全市/我县/全镇-style
    references."""
    full_codes = {c for m in found if not m.is_alias for c in m.codes}
    context = [doc_region] if doc_region else []
    province = regions.province_of(doc_region) if doc_region else None
    refs = []
    for m in found:
        codes = m.codes
        if m.is_alias:
            level_ok = [c for c in codes if regions.gazetteer()[c].level == "province"]
            in_doc = [c for c in codes if c in full_codes or (province and regions.is_within(c, province))]
            codes = tuple(in_doc or level_ok)
            if not codes:
                continue
        refs.append(Ref(m.start, m.end, code=regions.pick(codes, context)))
    county = doc_region if doc_region and regions.gazetteer()[doc_region].level == "county" else ""
    for t in towns:
        refs.append(Ref(t.start, t.end, code=t.county or county, town=t.name))
    if doc_town:
        refs.extend(
            Ref(c.start(), c.end(), code=county, town=doc_town) for c in _TOWN_COREF.finditer(doc_view)
        )
    asides = [a.span() for a in _APPOSITIVE.finditer(doc_view)]
    chain = (
        [doc_region, *regions.ancestors(doc_region)] if doc_region and doc_region != regions.NATIONAL else []
    )
    brackets = [b.span() for b in _BRACKETS.finditer(doc_view)]
    named = sorted((r for r in refs if not r.town), key=lambda r: r.start)
    ends = [r.end for r in named]
    for c in _COREF.finditer(doc_view):
        k = bisect_right(ends, c.start())  # names ending before the reference: named[:k]
        if (k < len(named) and named[k].start <= c.start()) or _span_at(asides, c.start()):
            continue  # part of a name (宁夏回族自治区), or an aside
        earlier = (named[j].code for j in range(k - 1, -1, -1))  # nearest first
        code = _resolve_coref(c.group(0), doc_region, chain, earlier)
        if code:
            refs.append(Ref(c.start(), c.end(), code=code))
    for r in refs:
        r.aside = _span_at(brackets, r.start)
    return sorted(refs, key=_start)


def _span_at(spans: list[tuple[int, int]], pos: int) -> tuple[int, int] | None:
    """The span holding `pos` among disjoint spans in text order, or None."""
    k = bisect_right(spans, pos, key=_first) - 1
    return spans[k] if k >= 0 and spans[k][0] <= pos < spans[k][1] else None


_TOWN_COREF = re.compile(r"(?:全|我|本)(?:镇|乡|街道)")
_BRACKETS = re.compile(r"[（(][^（()）\n]{1,60}[)）]")


def _start(r: Ref) -> int:
    return r.start


def _first(span: tuple[int, int]) -> int:
    return span[0]


def figure_region(doc: Doc, refs: list[Ref], pos: int, s_lo: int, p_lo: int) -> tuple[str | None, str]:
    """(region code, town) of a figure (`refs` in text order): the nearest place before it in its sentence; else the one unit
    inside the document's region that the paragraph's last sentence naming a place is about (龙陵县…。
    2014至2017年累计…), unless that sentence lists parts (其中，甲县…；乙县…); else the document's own."""
    own_unit = (doc.region_code, doc.town)
    last = nearest_visible(refs, p_lo, pos)
    if last is not None and last.start >= s_lo:
        return last.code or None, last.town
    prior = last
    if prior is None or not doc.region_code or prior.town:
        return own_unit
    lo, hi = doc.sentence_at(prior.start)
    in_sentence = refs[
        bisect_left(refs, max(lo, p_lo), key=_start) : bisect_left(refs, min(hi, pos), key=_start)
    ]
    units = {(r.code, r.town) for r in in_sentence if r.visible_from(pos)}
    topic = len(units) == 1 and not _SUBSET_OPEN.match(doc.view, lo) and prior.code != doc.region_code
    return (prior.code, "") if topic and regions.is_within(prior.code, doc.region_code) else own_unit


def nearest_visible(refs: list[Ref], lo: int, pos: int) -> Ref | None:
    """The last of `refs` (in text order) starting in [lo, pos) that a figure at `pos` can see."""
    for k in range(bisect_left(refs, pos, key=_start) - 1, -1, -1):
        if refs[k].start < lo:
            return None
        if refs[k].visible_from(pos):
            return refs[k]
    return None


def document_town(doc: Doc, towns: list[regions.Town]) -> str:
    """A town's own report: the document has no region or its county's, and its title or first paragraph
    opens with a town of that county, or it speaks as a town (我镇, 全乡) and names one town more often than
    any other."""
    gaz = regions.gazetteer()
    if doc.region_code and gaz[doc.region_code].level != "county":
        return ""
    title_end = doc.view.find("\n\n")  # clean layout: title, blank line, first paragraph
    first_end = doc.view.find("\n", title_end + 2) if title_end >= 0 else -1
    limit = first_end if first_end >= 0 else len(doc.view)
    own = [t for t in towns if t.county in (None, doc.region_code)]
    for t in own:
        if t.start < limit:
            return t.name
    if not own or not _TOWN_VOICE.search(doc.view):
        return ""
    counts = sorted(((doc.view.count(n), n) for n in {t.name for t in towns}), reverse=True)
    if len(counts) == 1 or counts[0][0] > max(1, counts[1][0]):
        return counts[0][1] if counts[0][1] in {t.name for t in own} else ""
    return ""


_TOWN_VOICE = re.compile(r"(?:我|本|全)(?:镇|乡|街道)")


_COREF_LEVEL = {"省": "province", "市": "city", "州": "city", "盟": "city", "县": "county", "旗": "county"}


def _resolve_coref(word: str, doc_region: str | None, chain: list[str], earlier: Iterable[str]) -> str | None:
    """全国/我国 → national; 全县/我市/本省 → the document's region at that level (`chain`: it and its
    parents), else the last region of that level named before (a national story's 全省 after 河北…);
    自治区 → the last autonomous region named."""
    if word in {"全国", "我国", "中央财政", "中央预算内"}:
        return regions.NATIONAL
    gaz = regions.gazetteer()
    if word == "自治区":
        return next((c for c in [*chain[::-1], *earlier] if gaz[c].name.endswith("自治区")), None)
    key = word[0] if word.endswith("级") else word[-1]  # 市本级 / 全市
    if key == "区":  # 全区: a district, or an autonomous region
        return doc_region if chain else next((c for c in earlier if gaz[c].level == "province"), None)
    level = _COREF_LEVEL[key]
    in_chain = next((c for c in chain if gaz[c].level == level), None)
    return in_chain or next((c for c in earlier if gaz[c].level == level), None)


_BASE_AFTER = re.compile(r"同期|[^，,。；;]{0,12}的\s*\d+(?:\.\d+)?\s*(?:%|％|倍)")


def _is_comparison_base(view: str, start: int, end: int) -> bool:
    """比上年, 较去年, 同比, 是去年…的116.2%, 占去年底的105%, 去年同期: a base to compare with, not a period."""
    if start > 0 and view[start - 1] in "比较同是占为":
        return True
    return _BASE_AFTER.match(view, end) is not None


def time_refs(view: str, ref_year: int | None, ref_month: int | None = None) -> list[Ref]:
    """Years a figure can take from the text before it. Comparison bases (比上年, 较去年, 同比) are not
    the figure's year and are left out."""
    refs, titles = [], regions.book_titles(view)
    for m in _YEAR.finditer(view):
        if regions.in_spans(titles, m.start()):  # 《…2021年…》 names a document, not a period
            continue
        if m.start() > 0 and view[m.start() - 1] in "比较":  # 比2020年增加…: a base, not the period
            continue
        since = view.startswith("以来", m.end()) or view.startswith("度以来", m.end())
        refs.append(Ref(m.start(), m.end(), year=ref_year if since and ref_year else int(m.group(1))))
    for m in _PLAN.finditer(view):  # a plan period: its last year, or the report year while it runs
        end = _plan_end(m.group(1))
        refs.append(Ref(m.start(), m.end(), year=min(end, ref_year) if ref_year else end))
    if ref_year is not None:
        for m in _RELATIVE_RE.finditer(view):
            if _is_comparison_base(view, m.start(), m.end()):
                continue
            shift = _RELATIVE.get(m.group(0), 0)
            month = _MONTH.search(m.group(0))
            if month and ref_month and int(month.group(1)) > ref_month:  # 截至12月底, written in January
                shift = -1
            refs.append(Ref(m.start(), m.end(), year=ref_year + shift))
    return sorted(refs, key=lambda r: r.start)


def own_times(refs: list[Ref], qs: list[Mention], view: str) -> list[Ref]:
    """Split off the years bound to one figure: in 由去年的52.3亿元增加到56.8亿元 去年 is 52.3's year only.
    Returns the refs with `bound` set to the start of the figure a ref is attached to (-1 when free)."""
    starts = [m.start for m in qs]
    for r in refs:
        k = bisect_left(starts, r.end)
        if k < len(qs) and view[r.end : qs[k].start] in ("", "的"):
            r.bound = qs[k].start
    return refs


def nearest_before(refs: list[Ref], lo: int, hi: int) -> Ref | None:
    """The last of `refs` (in text order) that starts in [lo, hi), or None."""
    k = bisect_left(refs, hi, key=_start) - 1
    return refs[k] if k >= 0 and refs[k].start >= lo else None


# ---------------------------------------------------------------- contexts
@dataclass
class Context:
    own_left: str  # clause text since the previous number
    left: str  # own_left, or the previous number's left for pairs and continuations
    right: str  # to the clause end, other numbers masked as '#'
    sentence: tuple[int, int]
    prev: int | None  # index of the previous quantity in the same sentence
    follows: bool  # the previous quantity is in the same clause (own_left starts right after it)
    lead: str = ""  # the sentence up to the quantity


def _masked(view: str, lo: int, hi: int, mentions: list[Mention], first: int = 0) -> str:
    """view[lo:hi] with the mentions in it as '#'; `mentions` are in text order, none before `first` is
    in the span."""
    pieces, pos = [], lo
    for m in (mentions[k] for k in range(first, len(mentions))):
        if m.start >= hi:
            break
        if m.start >= lo:
            pieces.append(view[pos : m.start] + "#")
            pos = m.end
    pieces.append(view[pos:hi])
    return "".join(pieces)


def _compatible(a: Mention, b: Mention) -> bool:
    return a.unit_class == b.unit_class or frozenset({a.unit_class, b.unit_class}) in PAIR_CLASSES


_FROM = re.compile(r"\s*(?:从|由|安置|吸纳)")  # a clause that continues the one before
LEFT_MEMORY = 40  # characters of the previous figure's left context kept behind its '#'
_COUNT_THEN_AMOUNT = re.compile(r"[笔次宗项件]?")
_LIST_ITEM = re.compile(r"[、和及]([^、，,；;。]{2,12})")


def _names_its_place(since_prev: str) -> bool:
    """The text between two figures is an enumeration item that names one place and nothing else:
    甲县800万元、乙县650万元 (the second figure is the previous one's indicator, for 乙县)."""
    item = _LIST_ITEM.fullmatch(since_prev)
    if item is None:
        return False
    found = regions.find_region_names(item.group(1))
    return len(found) == 1 and found[0].start == 0 and found[0].end == len(item.group(1))


_PART_LABEL = re.compile(r"[)）]?[、，,；;]\s*[\u4e00-\u9fff]{1,12}")


_BRACKETED_PART = re.compile(r"\s*[(（][^()（）#]{0,12}")


def _lists_a_part(view: str, s_lo: int, pos: int, since_prev: str) -> bool:
    """After 其中 in the sentence, a short labelled item (、护路员31.45万人, ，其他125.95万人) is another part of
    the same total; so are figures in brackets right after the total (改造3万户(今年完成7千户), 监测对象
    60户(甲类24户、乙类18户))."""
    if _BRACKETED_PART.fullmatch(since_prev):
        return True
    adjacent, labelled = not since_prev.strip(), _PART_LABEL.fullmatch(since_prev) is not None
    if not (adjacent or labelled):
        return False
    before = view[s_lo:pos]
    in_brackets = _open_bracket(before) >= 0
    if adjacent:  # the second figure of a pair in a bracketed part
        return in_brackets
    return "其中" in before or in_brackets


def _open_bracket(text: str) -> int:
    """The position of the last bracket still open at the end of `text`, or -1."""
    last_open = max(text.rfind("("), text.rfind("（"))
    if last_open < 0:
        return -1
    if ")" not in text[last_open:] and "）" not in text[last_open:]:
        return last_open  # the common case, found at C speed
    depth = 0
    for k in range(len(text) - 1, -1, -1):
        if text[k] in ")）":
            depth += 1
        elif text[k] in "(（":
            if depth == 0:
                return k
            depth -= 1
    return -1


def _total_span(view: str, qs: list[Mention], s_lo: int, pos: int) -> tuple[int, int]:
    """Where the total that a part at `pos` belongs to may start: inside brackets, the figure (or pair) the
    bracket follows; after 其中, before it (a part's sibling is not its total); else anywhere earlier in the
    sentence."""
    k = _open_bracket(view[s_lo:pos])
    if k < 0:
        q = view.rfind("其中", s_lo, pos)
        return (s_lo, q) if q >= 0 else (s_lo, pos)
    bracket = s_lo + k
    j = bisect_right(qs, bracket, key=_mention_end) - 1  # the last figure ending before the bracket
    if j < 0 or qs[j].start < s_lo:
        return pos, pos
    while j > 0 and qs[j - 1].start >= s_lo and not view[qs[j - 1].end : qs[j].start].strip():
        j -= 1  # a pair right before the bracket (60户199人) owns it together
    return qs[j].start, bracket  # not the bracket's own earlier items: siblings are not totals


def _mention_end(m: Mention) -> int:
    return m.end


def build_contexts(doc: Doc, qs: list[Mention]) -> list[Context]:
    """Left and right contexts of each quantity; `qs` are in text order."""
    view, out = doc.view, []
    breaks = [b.start() for b in _CLAUSE_BREAK.finditer(view)]
    sent_iter = iter(doc.sentences)
    sent = next(sent_iter, (0, len(view)))
    for i, m in enumerate(qs):
        if not i & 511:
            budget.check()
        while m.start >= sent[1]:
            sent = next(sent_iter, (sent[1], len(view)))
        k = bisect_left(breaks, m.start)  # clause breaks before the quantity: breaks[:k]
        clause_lo = max(breaks[k - 1] + 1, sent[0]) if k else sent[0]
        prev = i - 1 if i > 0 and qs[i - 1].start >= sent[0] else None
        lo = max(clause_lo, qs[prev].end) if prev is not None else clause_lo
        own = view[lo : m.start]
        k = bisect_left(breaks, m.end)
        clause_hi = min(breaks[k], sent[1]) if k < len(breaks) else sent[1]
        follows = prev is not None and qs[prev].end >= clause_lo
        right = _masked(view, m.end, clause_hi, qs, i + 1)
        out.append(Context(own, own, right, sent, prev, follows, view[sent[0] : m.start]))
    for (
        ctx
    ) in out:  # a sentence's first figure in a 从…/由…/安置… clause: the clauses before name the subject
        if ctx.prev is None and _FROM.match(ctx.own_left) and len(ctx.lead) > len(ctx.own_left):
            ctx.left = ctx.lead[: len(ctx.lead) - len(ctx.own_left)][-LEFT_MEMORY:] + "#" + ctx.own_left
    for i, ctx in enumerate(out):  # inherit left context along pairs and continuations
        tail = ctx.own_left
        if ctx.follows:
            tail = _LIST_SEP.split(tail)[
                -1
            ]  # 1088名第一书记和2425名…: the noun before 和 is the previous one's
            ctx.own_left = tail
        tail = _RELATIVE_RE.sub("", _TIME_WORDS.sub("", tail)).replace("的", "")
        if ctx.prev is None:
            continue
        if qs[i].range_role == "high" and qs[ctx.prev].range_role == "low":  # 2000-3000万元: one subject
            ctx.left = out[ctx.prev].left
        elif _CONTINUATION.match(tail) and _compatible(qs[ctx.prev], qs[i]):
            ctx.left = out[ctx.prev].left + tail
        elif ctx.follows and _COUNT_THEN_AMOUNT.fullmatch(
            tail
        ):  # 新增贷款811户3815.4万元, 退出19个村、8760户
            ctx.left = out[ctx.prev].left
        else:  # the previous figure's words stay visible behind a '#': 累计向#户…发放, 就业人口#，其中…
            ctx.left = out[ctx.prev].left[-LEFT_MEMORY:] + "#" + ctx.own_left
    for i in range(
        len(out) - 2, -1, -1
    ):  # share the right context: 7536户20847人及时纳入…, 23个国家级和16个…
        ctx, nxt = out[i], out[i + 1]
        own_right = ctx.right.split("#", 1)[0]
        joined = "#" in ctx.right and nxt.prev == i and _compatible(qs[i], qs[i + 1])
        if joined and (own_right == "" or _JOINER.fullmatch(own_right)):
            ctx.right = own_right + nxt.right
    return out


# ---------------------------------------------------------------- classification
_ASIDE = re.compile(r"[(（][^()（）#]{1,10}[)）]")
_LEFT_NOISE = re.compile(r"[(（][^()（）#]{1,10}[)）]|[“”\"‘’「」『』]")  # asides and quotation marks
_RIGHT_NOISE = re.compile(r"^\s*[(（][^()（）]*[)）]?|[“”\"‘’「」『』]")  # a breakdown right after the figure
_NOISE_CHARS = re.compile(r"[(（“”\"‘’「」『』]")


def _probe(ctx: Context) -> str:
    """The context string cues are matched against: ``left + '§' + right`` without asides and quotation marks
    (9087户(甲类…、乙类…): the bracket is a breakdown, not the figure's words)."""
    left = _LEFT_NOISE.sub("", ctx.left) if _NOISE_CHARS.search(ctx.left) else ctx.left
    right = _RIGHT_NOISE.sub("", ctx.right) if _NOISE_CHARS.search(ctx.right) else ctx.right
    return left + "§" + right


def classify(m: Mention, ctx: Context, sentence: str, paragraph: str) -> tuple[str, str] | None:
    """(indicator, cue pattern) for a mention, or None. A cue's `requires` is looked for in the paragraph;
    short asides in brackets before the figure (搬迁入住(含交钥匙)4628户) and quotation marks are skipped.
    The highest priority wins, then the shortest match; a cue whose indicator is excluded here gives way."""
    probe = _probe(ctx)
    for tier in catalog.cue_tiers(m.unit_class or ""):
        candidates = []
        for cue in tier:
            hit = cue.pattern.search(probe)
            if hit and (cue.requires is None or cue.requires.search(paragraph)):
                candidates.append((len(hit.group(0)), cue.indicator, cue.pattern.pattern))
        for _, indicator, pattern in sorted(candidates):
            if not excluded(indicator, ctx, sentence):
                return indicator, pattern
    return None


def excluded(indicator: str, ctx: Context, sentence: str) -> str | None:
    """The reason a mention is not a fact of `indicator`, or None. The second figure of a pair (10户28人) is
    judged by the words of the first."""
    scopes = {
        "left": ctx.own_left if ctx.own_left.strip() or ctx.prev is None else ctx.left.rsplit("#", 1)[-1],
        "right": ctx.right.split("#", 1)[0]
        + ("#" if "#" in ctx.right else ""),  # '#': another figure follows
        "lead": ctx.lead,
        "sentence": sentence,
    }
    for ex in catalog.exclusions_for(indicator):
        if ex.pattern.search(scopes[ex.scope]):
            return ex.reason
    return None


def fact_id(doc_id: str, indicator: str, region_code: str | None, year: int | None, value: float) -> str:
    key = f"{doc_id}|{indicator}|{region_code}|{year}|{value:.6f}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def previous_sentence(doc: Doc, start: int) -> tuple[int, int]:
    """The last non-blank sentence before `start`, or an empty span at the top."""
    k = bisect_left(doc.sentences, (start, start)) - 1
    stop = max(-1, k - 20)  # twenty blank sentences (。。。) in a row: there is none
    while k > stop and not doc.view[slice(*doc.sentences[k])].strip():
        k -= 1
    return doc.sentences[k] if k > stop else (0, 0)


def analyze(doc: Doc) -> tuple[list[Mention], list[dict[str, Any]]]:
    """All mentions of a document and its facts (deduplicated on indicator, region, year, value)."""
    mentions = find_mentions(doc.view)
    qs = [m for m in mentions if m.kind == "quantity"]
    contexts = build_contexts(doc, qs)
    places = regions.subject_places(doc.view)
    towns = regions.find_towns(doc.view, places)
    doc.town = document_town(doc, towns)
    reg_refs = region_refs(doc.view, places, doc.region_code, towns, doc.town)
    yr_refs = own_times(time_refs(doc.view, doc.ref_year, doc.ref_month), qs, doc.view)
    free_years = [r for r in yr_refs if r.bound == -1]  # years of any figure; the others of one figure each
    modern_years = [r for r in free_years if r.year >= FIRST_YEAR]
    bound_years: dict[int, list[Ref]] = {}
    for r in yr_refs:
        if r.bound != -1:
            bound_years.setdefault(r.bound, []).append(r)
    paragraphs = spans(doc.view, "\n", MAX_PARAGRAPH_CHARS, SENTENCE_END)  # they tile the text
    paragraph_starts = [lo for lo, _ in paragraphs]
    facts: list[dict[str, Any]] = []
    cells = tables.table_cells(doc.view, tables.place_index(places))
    rows = sorted({c.row for c in cells})
    in_table = {i for i, m in enumerate(qs) if rows and regions.in_spans(rows, m.start)}
    last_in_sentence: dict[tuple[int, int], list[tuple[Mention, str]]] = {}
    seen: set[str] = set()
    fact_at: dict[int, dict[str, Any]] = {}  # mention start → its fact
    placed: list[Placed] = []
    for i, (m, ctx) in enumerate(zip(qs, contexts, strict=True)):
        if not i & 255:
            budget.check()
        if m.unit_class not in FACT_CLASSES or i in in_table:
            continue
        s_lo, s_hi = ctx.sentence
        sentence = doc.view[s_lo:s_hi]
        p_lo, p_hi = paragraphs[bisect_right(paragraph_starts, m.start) - 1]
        found = classify(m, ctx, sentence, doc.view[p_lo:p_hi])
        since_prev = doc.view[qs[ctx.prev].end : m.start] if ctx.prev is not None else ctx.own_left
        # 其中，会理市45个 / 而中江县就占33个; a sentence opening with 其中 continues the one before it
        opens_subset = _SUBSET_OPEN.match(sentence) is not None
        listed = (ctx.follows and _names_its_place(since_prev)) or _lists_a_part(
            doc.view, s_lo, m.start, since_prev
        )
        if found is None and (opens_subset or _SUBSET.search(_ASIDE.sub("", since_prev)) or listed):
            before = last_in_sentence.get(previous_sentence(doc, s_lo), []) if opens_subset else []
            lo, hi = _total_span(doc.view, qs, s_lo, m.start)
            in_span = [(p, c) for p, c in last_in_sentence.get(ctx.sentence, []) if lo <= p.start < hi]
            priors = before + in_span
            for prior, code in reversed(priors):
                if m.unit_class in catalog.unit_classes(code) and not excluded(code, ctx, sentence):
                    found = (code, f"subset of {prior.surface}")
                    break
        if found is None:
            continue
        last_in_sentence.setdefault(ctx.sentence, []).append((m, found[0]))
        named, town = figure_region(doc, reg_refs, m.start, s_lo, p_lo)
        region_code = _recipient(found[0], named, doc.region_code)
        town = town if region_code == named else ""
        own_years = bound_years.get(m.start)
        free = sorted(free_years + own_years, key=_start) if own_years else free_years
        year_ref = nearest_before(free, s_lo, m.start)
        if year_ref is None:  # an earlier sentence's year, unless it is history (1978年…一度…)
            year_ref = nearest_before(modern_years, p_lo, s_lo)
        year = year_ref.year if year_ref else doc.default_year
        fact = _fact(doc, m, found, (region_code, town), year, ctx.sentence)
        fact_at[m.start] = fact
        if fact["fact_id"] in seen:
            continue
        seen.add(fact["fact_id"])
        facts.append(fact)
        placed.append(Placed(m, ctx, since_prev, fact))
    assign_roles(doc.view, qs, placed, fact_at)
    for cell in cells:
        lo, hi = cell.row
        ctx = Context(cell.own_label, cell.label, "", cell.row, None, False)
        found = classify(cell.mention, ctx, doc.view[lo:hi], cell.label)
        if found is None:
            continue
        unit = (cell.region, "") if cell.region else (doc.region_code, doc.town)
        year = cell.year or doc.default_year
        fact = _fact(doc, cell.mention, found, unit, year, cell.row)
        if fact["fact_id"] not in seen:
            seen.add(fact["fact_id"])
            facts.append(fact)
    return mentions, facts


# ---------------------------------------------------------------- roles: how a fact relates to the others
FactRole = Literal["value", "part", "range_low", "range_high", "change_start"]  # schemas.curated.FACT_ROLES


@dataclass(frozen=True)
class Placed:
    """A fact with the mention and context it came from (for `assign_roles`)."""

    mention: Mention
    ctx: Context
    since_prev: str  # the text since the previous figure of the sentence
    fact: dict[str, Any]


_CHANGE_TO = re.compile(
    r"[^，,。；;#]{0,8}(?:增加|提高|增长|上升|提升|调整|扩大|减少|下降|降低)(?:了)?(?:到|至|为)"
)
_EARMARKED = re.compile(r"\s*(?:主要|专项|全部)?用于")


def assign_roles(
    view: str, qs: list[Mention], placed: list[Placed], fact_at: dict[int, dict[str, Any]]
) -> None:
    """Set each fact's `role` and `part_of` (the fact_id it belongs to): the ends of a range; the start of a
    change (由A增加到B: A, of B); a part (其中…, a breakdown in brackets, a figure found as part of a total,
    funds earmarked 用于…, or one of several values a sentence lists for the same region, year and indicator);
    else a value of its own. The panel chooses among values; parts never count as conflicts."""
    position = {q.start: i for i, q in enumerate(qs)}
    for p in placed:
        p.fact["role"], p.fact["part_of"] = _own_role(view, qs, position[p.mention.start], p, fact_at)
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for p in placed:
        f = p.fact
        key = (p.ctx.sentence, f["indicator"], f["region_code"], f["region_name"], f["year"])
        groups.setdefault(key, []).append(f)
    for group in groups.values():  # 县级22人、乡镇124人、村级3251人; 一类低保…，二类低保…
        listed = [f for f in group if f["role"] == "value"]
        if len({f["value"] for f in listed}) > 1:
            for f in listed:
                f["role"] = "part"


def _own_role(
    view: str, qs: list[Mention], k: int, p: Placed, fact_at: dict[int, dict[str, Any]]
) -> tuple[FactRole, str | None]:
    m, ctx, indicator = p.mention, p.ctx, p.fact["indicator"]

    def same(q: Mention | None) -> str | None:  # the fact_id at q when it is of the same indicator
        f = fact_at.get(q.start) if q is not None else None
        return f["fact_id"] if f is not None and f["indicator"] == indicator else None

    if m.range_role in ("low", "high"):
        if m.range_role == "low":
            other = qs[k + 1] if k + 1 < len(qs) else None
        else:
            other = qs[k - 1] if k > 0 else None
        return ("range_low" if m.range_role == "low" else "range_high"), same(other)
    nxt = qs[k + 1] if k + 1 < len(qs) else None
    target = same(nxt)
    if (
        nxt is not None
        and target
        and target != p.fact["fact_id"]
        and _CHANGE_TO.fullmatch(view[m.end : nxt.start])
    ):
        return "change_start", target
    s_lo = ctx.sentence[0]
    if p.fact["rule"].startswith("subset of") or _open_bracket(view[s_lo : m.start]) >= 0:
        lo, hi = _total_span(view, qs, s_lo, m.start)
        return "part", _nearest_same(qs, k, lo, min(hi, m.start), same)
    q = view.rfind("其中", s_lo, m.start)
    total = _nearest_same(qs, k, s_lo, q, same) if q >= 0 else None
    if total:
        return "part", total
    if p.fact["unit"] == "CNY" and _EARMARKED.match(ctx.right):
        return "part", None
    return "value", None


def _nearest_same(
    qs: list[Mention], k: int, lo: int, hi: int, same: Callable[[Mention], str | None]
) -> str | None:
    """The fact_id of the nearest figure before qs[k] that starts in [lo, hi) and is of the same indicator."""
    for j in range(k - 1, -1, -1):
        if qs[j].start < lo:
            break
        if qs[j].start < hi and (found := same(qs[j])):
            return found
    return None


RECIPIENT_LABELLED = {"east_west_cooperation_funds"}


def _recipient(indicator: str, named: str | None, doc_region: str | None) -> str | None:
    """Cooperation funds belong to the region that receives them: in a recipient's report (四川, 内蒙古) a
    figure after the donor's name (浙江省33亿元财政援助资金) is the document's region's."""
    if indicator not in RECIPIENT_LABELLED or not named or not doc_region or doc_region == regions.NATIONAL:
        return named
    related = regions.is_within(named, doc_region) or regions.is_within(doc_region, named)
    return named if related or named == regions.NATIONAL else doc_region


def _fact(
    doc: Doc,
    m: Mention,
    found: tuple[str, str],
    unit: tuple[str | None, str],
    year: int | None,
    span: tuple[int, int],
) -> dict[str, Any]:
    indicator, rule = found
    region_code, town = unit
    key = f"{region_code}/{town}" if town else region_code
    return {
        "fact_id": fact_id(doc.doc_id, indicator, key, year, m.value),
        "indicator": indicator,
        "value": float(m.value),
        "unit": catalog.indicators()[indicator].unit,
        "region_code": region_code,
        "region_name": town or (regions.name_of(region_code) if region_code else None),
        "region_level": "town" if town else (regions.gazetteer()[region_code].level if region_code else None),
        "year": year,
        "evidence": doc.text[span[0] : span[1]].strip(),
        "char_start": m.start,
        "char_end": m.end,
        "mention": doc.text[m.start : m.end],
        "approximate": m.approximate,
        "range_role": m.range_role,
        "role": "value",  # set by assign_roles
        "part_of": None,
        "rule": rule,
        "extractor_version": EXTRACTOR_VERSION,
    }


def make_doc(row: dict[str, Any]) -> Doc:
    view = to_simplified(row["text"])  # same length: offsets into the view are offsets into the text
    return Doc(
        doc_id=row["doc_id"],
        text=row["text"],
        view=view,
        region_code=row["region_code"],
        ref_year=(ref := reference_year(view, row["published_date"], row["arrival_date"], row.get("title"))),
        ref_month=row["published_date"].month if row["published_date"] else None,
        default_year=default_year(view, ref),
        sentences=spans(view, SENTENCE_END, MAX_SENTENCE_CHARS, _SENTENCE_BREAKS),
    )


def extract(staged: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Staged documents → (staged mentions, curated facts) tables."""
    result = extract_within(staged, None)
    return result.mentions, result.facts


@dataclass(frozen=True)
class Extraction:
    mentions: pl.DataFrame  # staged/mentions rows
    facts: pl.DataFrame  # curated/indicators rows (before validation)
    over_budget: list[
        dict[str, Any]
    ]  # documents whose extraction ran out of time: doc_id, source_file, reason


def extract_within(staged: pl.DataFrame, seconds: float | None) -> Extraction:
    """Like `extract`, each document within `seconds` (None: no budget); a document over its budget gives
    no rows and a record with the reason."""
    mention_rows: list[dict[str, Any]] = []
    fact_rows: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    for row in staged.iter_rows(named=True):
        try:
            if seconds is None:
                mentions, facts = _document_rows(row)
            else:
                with budget.deadline(seconds, "extraction", row["source_file"]):
                    mentions, facts = _document_rows(row)
        except budget.OverBudget as exc:
            over.append({k: row[k] for k in ("doc_id", "source_file", "arrival_date")} | {"reason": str(exc)})
            continue
        mention_rows.extend(mentions)
        fact_rows.extend(facts)
    return Extraction(
        pl.DataFrame(mention_rows, schema=MENTION_SCHEMA), pl.DataFrame(fact_rows, schema=FACT_SCHEMA), over
    )


def extract_in_workers(staged: pl.DataFrame, seconds: float | None, workers: int) -> Extraction:
    """`extract_within` over chunks of `staged` in `workers` processes (`warehouse.workers`); the same rows,
    in the same order, as one sequential call."""
    parts = map_frames(extract_within, staged, workers, seconds)
    return Extraction(
        pl.concat([p.mentions for p in parts]),
        pl.concat([p.facts for p in parts]),
        [o for p in parts for o in p.over_budget],
    )


def _document_rows(row: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The mention rows and fact rows of one staged document."""
    doc = make_doc(row)
    mentions, facts = analyze(doc)
    mention_rows = []
    for k, m in enumerate(mentions):
        if not k & 1023:
            budget.check()
        lo, hi = doc.sentence_at(m.start)
        mention_rows.append(
            {
                "mention_id": f"{doc.doc_id[:16]}:{m.start}",
                "doc_id": doc.doc_id,
                "arrival_date": row["arrival_date"],
                "surface": doc.text[m.start : m.end],
                "number": m.number,
                "multiplier": m.multiplier,
                "unit": m.unit,
                "unit_class": m.unit_class,
                "value": m.value,
                "kind": m.kind,
                "approximate": m.approximate,
                "range_role": m.range_role,
                "char_start": m.start,
                "char_end": m.end,
                "sentence": doc.text[lo:hi].strip(),
            }
        )
    keep = {k: row[k] for k in ("doc_id", "source_file", "arrival_date", "published_date")}
    return mention_rows, [keep | f for f in facts]


MENTION_SCHEMA = polars_schema(StagedMention)  # the frames' columns and types, from their contracts
FACT_SCHEMA = polars_schema(CuratedIndicator)
