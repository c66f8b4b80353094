"""Region names in text: the fast scanner agrees with a plain reading, codes resolve to parents."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse import regions

NAMES = sorted(regions._name_index())


def boundary_ok(text: str, i: int, name: str) -> bool:
    """A two-character county name (和县) only between word boundaries; a short name before 乡/镇/村 is a
    town's or village's."""
    alias = regions._name_index()[name][1]
    if alias and text[i + len(name) : i + len(name) + 1] in ("乡", "镇", "村"):
        return False
    if len(name) != 2 or name[1] != "县":
        return True
    before = text[i - 1] if i else ""
    after = text[i + 2 : i + 3]
    before_ok = not before or not ("\u4e00" <= before <= "\u9fff") or before in "省市州盟区的在与了到"
    return before_ok and after not in ("级", "域", "城")


def reference_scan(text: str) -> list[tuple[int, str]]:
    """The obvious reading: at each position outside 《…》 take the longest name, then jump past it."""
    out, depth, i = [], 0, 0
    by_length = sorted(NAMES, key=len, reverse=True)
    while i < len(text):
        depth += text[i] == "《"
        depth -= text[i] == "》" and depth > 0
        if depth == 0:
            hit = next((n for n in by_length if text.startswith(n, i)), None)
            if hit and not boundary_ok(text, i, hit):
                hit = None
            if hit:
                out.append((i, hit))
                i += len(hit)
                continue
        i += 1
    return out


pieces = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(["《", "》", "，", "县", "市", "共", "的", "1"]),
    st.text(max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(pieces, max_size=12).map("".join))
def test_scanner_agrees_with_the_plain_reading(text):
    assert [(m.start, m.surface) for m in regions.find_region_names(text)] == reference_scan(text)


@pytest.mark.parametrize(
    ("text", "surfaces"),
    [
        ("德阳市中江县", ["德阳市", "中江县"]),
        ("中江的合作社", ["中江"]),
        ("《甘肃日报》报道，定西市", ["定西市"]),
        ("新疆维吾尔自治区", ["新疆维吾尔自治区"]),
    ],
)
def test_names_found(text, surfaces):
    assert [m.surface for m in regions.find_region_names(text)] == surfaces


def test_ancestors_run_up_to_the_province():
    (match,) = regions.find_region_names("中江县")
    (code,) = match.codes
    parents = [regions.name_of(c) for c in regions.ancestors(code)]
    assert parents == ["德阳市", "四川省"]


@pytest.mark.parametrize(
    ("text", "surfaces"),
    [
        ("黔西南州在十四五期间", ["黔西南州"]),  # not 黔西 (a county-level city)
        ("彭水县今年", ["彭水县"]),  # an autonomous county's short name with its level
        ("乡镇和县级部门", []),  # 和县 only as a word of its own
        ("马鞍山市和县", ["马鞍山市", "和县"]),
        ("大田乡今年", []),  # a short name before 乡 names the township
        ("建设易地扶贫搬迁安置点", []),  # 迁安 inside 搬迁安置
    ],
)
def test_names_at_word_boundaries(text, surfaces):
    assert [m.surface for m in regions.find_region_names(text)] == surfaces


@pytest.mark.parametrize(
    ("text", "subjects"),
    [
        ("新华社北京10月10日电 国务院扶贫办发布", []),  # 北京 is where the story was filed
        ("发布会在兰州举行，甘肃省介绍", ["甘肃省"]),  # 兰州 is a venue
        ("北京市投入帮扶资金", ["北京市"]),
    ],
)
def test_datelines_and_venues_are_not_subjects(text, subjects):
    assert [m.surface for m in regions.subject_places(text)] == subjects


@pytest.mark.parametrize(
    ("title", "publisher", "opening", "body", "expected"),
    [
        ("", "", "中新网贵阳11月23日电 贵州省共识别监测对象", "贵州持续巩固成果，贵州各地", "520000"),
        (
            "",
            "",
            "日前，全国消费扶贫月活动发布会在北京举办",
            "中西部22个省份销售扶贫产品，国务院扶贫办指导",
            "000000",
        ),
        ("", "四川在线", "记者从省乡村振兴局获悉", "浙江省援助资金到位，浙江省干部到岗", "510000"),
        ("", "", "市财政局下达资金", "其中巴州区、恩阳区、南江县、通江县、平昌县", "511900"),
        ("甘孜日报 2021年01月01日", "", "我州巩固脱贫成果", "与全国全省同步", "513300"),
        ("", "", "我县巩固脱贫成果", "全国先进，全国一道，重庆彭水网报道，彭水", "500243"),
    ],
)
def test_document_region_is_read_like_a_careful_reader(title, publisher, opening, body, expected):
    assert regions.document_region(title, publisher, "", opening, opening + body) == expected


def test_towns_after_their_county_or_opening_an_item():
    text = "一、新街镇1月无新识别监测对象。\n省直单位驻安化县小淹镇开展帮扶，农民返乡创业，全县18个乡镇。"
    towns = regions.find_towns(text, regions.find_region_names(text))
    assert [(t.name, t.county) for t in towns] == [("新街镇", None), ("小淹镇", "430923")]


def test_a_short_name_before_sumu_or_jiedao_names_a_township():
    assert regions.find_region_names("北与库伦苏木连接") == []
    assert [m.surface for m in regions.find_region_names("库伦旗地处")] == ["库伦旗"]
