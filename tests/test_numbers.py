from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.numbers import FACT_CLASSES, MULTIPLIERS, UNIT_CLASSES, find_mentions, parse_chinese_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("减贫8.14万户17.94万人", [("8.14万户", 81400, "household"), ("17.94万人", 179400, "person")]),
        ("人均纯收入2724.53元", [("2724.53元", 2724.53, "cny")]),
        ("累计1,203户", [("1,203户", 1203, "household")]),
        ("资金三点一六亿元", [("三点一六亿元", 3.16e8, "cny")]),
        ("建成一百二十个", [("一百二十个", 120, "count")]),
        ("培训两千人", [("两千人", 2000, "person")]),
        ("组织3.09万网格员", [("3.09万", 30900, "person")]),
        ("救助5千元", [("5千元", 5000, "cny")]),
        ("消除率71.6%", [("71.6%", 71.6, "percent")]),
        ("共12亿元", [("12亿元", 1.2e9, "cny")]),
        ("达到2.5万户", [("2.5万户", 25000, "household")]),
    ],
)
def test_quantities(text, expected):
    got = [(m.surface, m.value, m.unit_class) for m in find_mentions(text) if m.kind == "quantity"]
    assert [(s, pytest.approx(v), c) for s, v, c in expected] == got


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("2021年", "year"),
        ("第十二条", "ordinal"),
        ("〔2022〕15号", "code"),
        ("电话0916-2626077", "code"),
        ("1月26日", "date"),
        ("邮编723000", "code"),
    ],
)
def test_numbers_that_are_not_quantities(text, kind):
    kinds = {m.kind for m in find_mentions(text)}
    assert kind in kinds and "quantity" not in kinds or kinds == {kind}


@pytest.mark.parametrize(
    "text",
    [
        "一户一策",
        "两不愁三保障",
        "在十三五期间",
        "十镇创优、百村示范",
        "万企兴万村",
        "十三五期间",
        "第一书记",
    ],
)
def test_idioms_are_not_numbers(text):
    assert [m.surface for m in find_mentions(text) if m.kind == "quantity"] == []


def test_range_gives_both_ends_in_the_unit_of_the_high_end():
    low, high = find_mentions("市级财政每年预算投入在5000-10000万元之间")
    assert (low.value, low.range_role, high.value, high.range_role) == (5e7, "low", 1e8, "high")


@pytest.mark.parametrize("text", ["3万多名网格员", "120余个", "近55年", "超过300户", "7000元以上"])
def test_approximations_are_flagged(text):
    assert find_mentions(text)[0].approximate


def test_decimal_tail_is_not_its_own_number():
    assert [m.surface for m in find_mentions("由2724.53元增加到8811.88元")] == ["2724.53元", "8811.88元"]


def _to_chinese(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n == 0:
        return "零"
    out, zero = "", False
    for value, name in ((10000, "万"), (1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10 if value < 10000 else n // value
        if value == 10000:
            if d:
                out += _to_chinese(d) + name
            continue
        if d:
            out += ("零" if zero and out else "") + digits[d] + name
            zero = False
        elif out:
            zero = True
    return out


@given(st.integers(min_value=1, max_value=99_999_999))
def test_chinese_numerals_round_trip(n):
    assert parse_chinese_number(_to_chinese(n)) == n


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["元", "人", "户", "个"]))
def test_thousands_separators_and_full_width_digits(n, unit):
    from warehouse.clean import normalize

    with_commas = f"{n:,}{unit}"
    full_width = normalize("".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in f"{n}{unit}"))
    for text in (with_commas, full_width):
        (m,) = find_mentions("共" + text)
        assert m.value == n and m.unit == unit


@given(st.text(max_size=200))
def test_spans_always_point_at_the_surface(text):
    for m in find_mentions(text):
        assert text[m.start : m.end] == m.surface and m.end > m.start


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("四万五", 45000),  # a bare digit after the last place is the next place down
        ("两千三", 2300),
        ("一百五", 150),
        ("一亿二", 1.2e8),
        ("十五", 15),  # …which for 十 is the units
        ("四万零五", 40005),  # 零 keeps the digit a unit
        ("三百零五", 305),
        ("一百二十", 120),
    ],
)
def test_spoken_abbreviations_of_chinese_numerals(text, value):
    assert parse_chinese_number(text) == value


@pytest.mark.parametrize(
    ("text", "surface", "value"),
    [("达到百分之九十二", "百分之九十二", 92.0), ("占百分之35.5", "百分之35.5", 35.5)],
)
def test_baifenzhi_is_a_percent(text, surface, value):
    (m,) = find_mentions(text)
    assert (m.surface, m.value, m.unit_class) == (surface, value, "percent")
    assert text[m.start : m.end] == m.surface


@given(
    st.integers(min_value=0, max_value=99_999),
    st.integers(min_value=0, max_value=9999),
    st.sampled_from(["", "千", "万", "百万", "千万", "亿", "万亿"]),
    st.sampled_from(
        [u for u in UNIT_CLASSES if UNIT_CLASSES[u] in FACT_CLASSES and UNIT_CLASSES[u] != "percent"]
    ),
)
def test_values_are_exact_decimals_for_every_unit_and_multiplier(whole, fraction, mult, unit):
    """78.32万人 is 783200 people, never 783199.9999999999: the multiplication is done in decimal."""
    written = f"{whole}.{fraction:04d}".rstrip("0").rstrip(".")
    (m,) = find_mentions(f"共{written}{mult}{unit}。")
    exact = Decimal(written) * Decimal(int(MULTIPLIERS[mult])) if mult else Decimal(written)
    assert m.value == float(exact)
    if exact == exact.to_integral_value():
        assert m.value == int(exact)  # a whole count is a whole float
