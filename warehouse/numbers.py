"""Find quantity mentions in clean Chinese text and read their values.

Handles Arabic numbers (thousands separators, decimals), Chinese numerals (一百二十, 两千, 三点一六亿),
千/万/亿 multipliers, units with a unit class, approximations (3万多名, 120余个, 近55年, 超过…),
ranges (5000-10000万元, 3至5年: both ends) and the kinds of numbers that are never indicator values
(years, dates, ordinals, document or phone numbers). Full-width digits are folded by `clean.normalize`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from warehouse import budget

CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_PLACES = {"十": 10, "百": 100, "千": 1000}
MULTIPLIERS = {"万亿": 1e12, "千万": 1e7, "百万": 1e6, "亿": 1e8, "万": 1e4, "千": 1e3}

# surface unit -> unit class; longest alternatives are tried first
UNIT_CLASSES: dict[str, str] = {
    "元": "cny",
    "人次": "times",
    "人/次": "times",
    "人·次": "times",
    "户次": "times",
    "班次": "times",
    "场次": "times",
    "人": "person",
    "名": "person",
    "位": "person",
    "户": "household",
    "个百分点": "pp",
    "个月": "time",
    "个": "count",
    "村": "village",
    "县": "county",
    "%": "percent",
    "‰": "permille",
    "家": "other",
    "所": "other",
    "座": "other",
    "条": "other",
    "项": "other",
    "处": "other",
    "台": "other",
    "批": "other",
    "期": "other",
    "场": "other",
    "栋": "other",
    "套": "other",
    "间": "other",
    "辆": "other",
    "头": "other",
    "只": "other",
    "张": "other",
    "份": "other",
    "件": "other",
    "支": "other",
    "类": "other",
    "种": "other",
    "块": "other",
    "次": "other",
    "轮": "other",
    "倍": "other",
    "公里": "measure",
    "千米": "measure",
    "米": "measure",
    "亩": "measure",
    "公顷": "measure",
    "吨": "measure",
    "公斤": "measure",
    "千克": "measure",
    "斤": "measure",
    "平方米": "measure",
    "立方米": "measure",
    "千瓦": "measure",
    "千伏": "measure",
    "兆瓦": "measure",
    "年": "time",
    "天": "time",
    "日": "time",
    "月": "time",
    "周": "time",
    "小时": "time",
    "分钟": "time",
    "岁": "age",
    "号": "code",
}
FACT_CLASSES = frozenset({"cny", "person", "household", "count", "village", "county", "percent"})

_ARABIC = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"
_CN = r"[零〇一二两三四五六七八九十百千万亿][零〇一二两三四五六七八九十百千万亿点]*"
_UNITS = "|".join(re.escape(u) for u in sorted(UNIT_CLASSES, key=len, reverse=True))
_MULT = "|".join(sorted(MULTIPLIERS, key=len, reverse=True))
MENTION_RE = re.compile(
    rf"(?P<num>{_ARABIC}|{_CN})(?P<ap1>多|余)?(?P<mult>{_MULT})?(?P<ap2>多|余)?(?P<unit>{_UNITS})?"
)
_RANGE_SEP = re.compile(r"^\s*(?:-|—|–|~|～|至)\s*$")
_APPROX_BEFORE = re.compile(r"(?:近|约|超过|超|逾|大约|将近|接近)$")
_APPROX_AFTER = re.compile(r"(?:左右|以上|上下|有余)")
_PERSON_NOUN = re.compile(
    r"^[^，。；：,;:#\s]{0,10}?(人口|人员|网格员|队员|书记|劳动力|群众|农民|学生|干部|党员|职工|工人|对象)"
)
_HOUSEHOLD_NOUN = re.compile(r"^[^，。；：,;:#\s]{0,6}?户")
_PERIOD_NAMES = re.compile(r"十[一二三四五六七八九]五")
_PHONE = re.compile(r"\d{3,4}-\d{7,8}")


@dataclass
class Mention:
    start: int
    end: int
    surface: str
    number: float  # the number as written, before the multiplier
    multiplier: float
    unit: str | None  # surface unit (元, 人, 户, %, …); None when absent
    unit_class: str | None  # cny, person, household, count, percent, time, …
    value: float  # number × multiplier, in the base unit (元, 人, 户, 个, percent 0–100)
    approximate: bool
    range_role: str | None  # 'low' / 'high' for the two ends of a range
    kind: str  # quantity, year, date, ordinal, code


def base_value(number: float, multiplier: float, unit_class: str | None) -> float:
    """The value in the base unit: percentages stay as written, everything else takes its multiplier,
    multiplied in decimal from the number as written, so 78.32万 is exactly 783200 and 17.69亿 exactly
    1769000000 (binary floating point gives 783199.9999999999 and 1769000000.0000002)."""
    if unit_class == "percent":
        return number
    return float(Decimal(repr(number)) * Decimal(repr(multiplier)))


def parse_chinese_number(text: str) -> float:
    """Value of a Chinese numeral: 一百二十 → 120, 两千 → 2000, 三点一六亿 → 3.16e8, 二〇二一 → 2021."""
    mult = 1.0
    for suffix, factor in sorted(MULTIPLIERS.items(), key=lambda kv: -len(kv[0])):
        if "点" in text and text.endswith(suffix):
            text, mult = text[: -len(suffix)], factor
            break
    if "点" in text:
        whole, frac = text.split("点", 1)
        digits = "".join(str(CN_DIGITS[c]) for c in frac if c in CN_DIGITS) or "0"
        return float((int(_cn_integer(whole)) + Decimal("0." + digits)) * Decimal(repr(mult)))
    return _cn_integer(text) * mult


def _cn_integer(text: str) -> float:
    if not text:
        return 0.0
    if all(c in CN_DIGITS for c in text):  # digit by digit: 二〇二一
        return float("".join(str(CN_DIGITS[c]) for c in text))
    for big, factor in (("亿", 1e8), ("万", 1e4)):
        if big in text:
            head, tail = text.rsplit(big, 1) if big == "万" else text.split(big, 1)
            if len(tail) == 1 and CN_DIGITS.get(tail):  # 四万五: the next place down, 45000
                return (_cn_integer(head) or 1.0) * factor + CN_DIGITS[tail] * factor / 10
            return (_cn_integer(head) or 1.0) * factor + _cn_integer(tail)
    total, current = 0, 0
    for ch in text:
        if ch in CN_DIGITS:
            current = CN_DIGITS[ch]
        elif ch in CN_PLACES:
            total += (current or 1) * CN_PLACES[ch]
            current = 0
    if len(text) > 1 and text[-1] in CN_DIGITS and text[-2] in CN_PLACES:  # 两千三 = 2300, 一百五 = 150
        return float(total + current * max(CN_PLACES[text[-2]] // 10, 1))
    return float(total + current)


def parse_number(text: str) -> float:
    """Value of an Arabic or Chinese numeral string (no multiplier after it)."""
    if re.fullmatch(_ARABIC, text):
        return float(text.replace(",", ""))
    return parse_chinese_number(text)


def _is_valid_chinese(num: str) -> bool:
    """Chinese numerals need two characters and a digit (一户一策, 十镇, 百村, 万企 are not numbers)."""
    return len(num) >= 2 and any(c in CN_DIGITS for c in num) and not num.endswith("点")


def _kind(text: str, m: re.Match[str], unit: str | None) -> str:
    num, start = m.group("num"), m.start()
    before = text[max(0, start - 8) : start]
    if before.endswith("第"):
        return "ordinal"
    if unit == "年" and re.fullmatch(r"(19|20)\d{2}", num):
        return "year"
    if unit in {"月", "日"} or (unit is None and re.search(r"(19|20)\d{2}[-/.]$", before)):
        return "date"
    if unit == "号" or re.search(r"[〔\[［(（]\s*$", before) or _PHONE.match(text, start):
        return "code"
    if unit is None and re.fullmatch(r"\d{6,}", num) and not m.group("mult"):
        return "code"
    return "quantity"


def _infer_unit_class(text: str, end: int) -> str | None:
    """A number with a multiplier but no unit (3.09万网格员) counts the noun after it."""
    after = text[end : end + 14]
    if _PERSON_NOUN.match(after):
        return "person"
    if _HOUSEHOLD_NOUN.match(after):
        return "household"
    return None


def find_mentions(text: str) -> list[Mention]:
    """All numeric mentions in `text`, in order, with spans such that text[start:end] == surface."""
    out: list[Mention] = []
    for k, m in enumerate(MENTION_RE.finditer(text)):
        if not k & 511:
            budget.check()
        num = m.group("num")
        if not num[0].isdigit() and (not _is_valid_chinese(num) or _PERIOD_NAMES.match(text, m.start())):
            continue
        if num[0].isdigit() and m.start() > 0 and text[m.start() - 1] in "0123456789.":
            continue
        unit = m.group("unit")
        mult = MULTIPLIERS[m.group("mult")] if m.group("mult") else 1.0
        unit_class = UNIT_CLASSES[unit] if unit else None
        if unit is None and m.group("mult"):
            unit_class = _infer_unit_class(text, m.end())
        number = parse_number(num)
        start = m.start()
        if unit is None and text.endswith("百分之", 0, start):  # 百分之九十二 is 92%
            start, unit, unit_class, mult = start - 3, "%", "percent", 1.0
        approx = bool(m.group("ap1") or m.group("ap2")) or bool(
            _APPROX_BEFORE.search(text, max(0, m.start() - 4), m.start())
        )
        approx = approx or bool(_APPROX_AFTER.match(text, m.end()))
        kind = _kind(text, m, unit)
        value = base_value(number, mult, unit_class)
        surface = text[start : m.end()]
        out.append(
            Mention(start, m.end(), surface, number, mult, unit, unit_class, value, approx, None, kind)
        )
    return _link_ranges(text, out)


def _link_ranges(text: str, mentions: list[Mention]) -> list[Mention]:
    """5000-10000万元: the bare low end takes the multiplier and unit of the high end."""
    for low, high in zip(mentions, mentions[1:], strict=False):
        gap = text[low.end : high.start]
        if low.unit is None and low.multiplier == 1.0 and _RANGE_SEP.match(gap) and low.kind == "quantity":
            if high.kind != "quantity" or low.surface.startswith("0"):
                continue
            low.multiplier, low.unit, low.unit_class = high.multiplier, high.unit, high.unit_class
            low.value = base_value(low.number, low.multiplier, low.unit_class)
            low.range_role, high.range_role = "low", "high"
    return mentions
