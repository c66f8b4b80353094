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
