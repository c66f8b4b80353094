"""The bundled rule tables load whole: 32 codes, every cue and exclusion names a known code and scope."""

import pytest

from warehouse import catalog


def test_bundled_tables_load():
    assert len(catalog.indicators()) == 32
    assert catalog.cues() and catalog.exclusions()
    assert {e.scope for e in catalog.exclusions()} <= {"left", "right", "lead", "sentence"}


def test_a_pattern_with_an_unquoted_comma_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "exclusions.csv").write_text(
        "indicator,scope,pattern,reason\n*,right,^[^#]{0,3}目标,target\n", encoding="utf-8"
    )
    monkeypatch.setattr(catalog, "DATA_DIR", tmp_path)
    with pytest.raises(ValueError, match="line 2"):
        catalog._rows("exclusions.csv")


@pytest.mark.parametrize(
    "exclusion", catalog.exclusions(), ids=lambda e: f"{e.indicator}:{e.pattern.pattern}"
)
def test_every_exclusion_has_a_reason_in_words(exclusion):
    assert exclusion.reason and "}" not in exclusion.reason
