import json
from datetime import date

import polars as pl
import pytest

from schemas import CuratedIndicator
from warehouse import validate

DAY = date(2024, 1, 2)
GOOD = {
    "fact_id": "f1",
    "doc_id": "a" * 64,
    "source_file": "a.txt",
    "arrival_date": DAY,
    "published_date": date(2023, 12, 1),
    "indicator": "first_secretaries",
    "value": 254.0,
    "unit": "person",
    "region_code": "510600",
    "region_name": "德阳市",
    "region_level": "city",
    "year": 2021,
    "evidence": "选派第一书记254人。",
    "char_start": 10,
    "char_end": 14,
    "mention": "254人",
    "approximate": False,
    "range_role": None,
    "role": "value",
    "part_of": None,
    "rule": "r",
    "extractor_version": "v",
}
FACT_SCHEMA = {k: v for k, v in pl.DataFrame([GOOD]).schema.items()} | {
    "range_role": pl.String,
    "part_of": pl.String,
}


def facts(*changes):
    rows = [GOOD | {"fact_id": f"f{i}"} | c for i, c in enumerate(changes)]
    return pl.DataFrame(rows, schema=FACT_SCHEMA)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"indicator": "no_such_code"}, "indicator:isin"),
        ({"unit": "household"}, "unit_is_catalog_unit"),
        ({"value": -5.0}, "value:greater_than_or_equal_to"),
        ({"region_code": "999999"}, "region_code_in_gazetteer"),
        ({"region_name": "中江县"}, "region_code_in_gazetteer"),
        ({"region_level": "county"}, "region_code_in_gazetteer"),
        ({"region_code": None}, "region_code_in_gazetteer"),
        ({"region_level": "town", "region_name": "新街镇"}, "region_code_in_gazetteer"),  # 510600 is a city
        ({"year": 1999}, "year:greater_than_or_equal_to"),
        ({"year": 2036}, "year:less_than_or_equal_to"),
        ({"value": 5e9}, "value_in_plausible_range"),
        (
            {"indicator": "risk_elimination_rate", "unit": "percent", "value": 130.0},
            "value_in_plausible_range",
        ),
        ({"evidence": "另一句话。"}, "evidence_contains_mention"),
        ({"char_end": 20}, "span_matches_mention"),
    ],
)
def test_bad_fact_goes_to_quarantine_with_the_failing_check(change, reason):
    df = facts({}, change)
    valid, reasons = validate.split_valid(df, CuratedIndicator)
    assert valid["fact_id"].to_list() == ["f0"]
    assert list(reasons) == [1] and reason in reasons[1]
    q = validate.quarantine_rows(
        df, reasons, layer="curated", table="indicators", run_id="r", arrival_date=DAY
    )
    assert q["reason"].to_list() == [reasons[1]] and json.loads(q["record"][0])["fact_id"] == "f1"
    validate.validate_quarantine(q)


@pytest.mark.parametrize("code", ["510623", None])  # 中江县, or a county the text does not name
def test_a_town_keeps_its_name_and_its_county_code(code):
    df = facts({}, {"region_level": "town", "region_name": "新街镇", "region_code": code})
    valid, reasons = validate.split_valid(df, CuratedIndicator)
    assert reasons == {} and valid["region_name"].to_list() == ["德阳市", "新街镇"]


def test_later_copies_of_a_fact_id_are_quarantined_and_the_first_is_kept():
    df = facts({}, {"fact_id": "f0"}, {"fact_id": "f0", "value": 7.0})
    valid, reasons = validate.split_valid(df, CuratedIndicator)
    assert valid["value"].to_list() == [254.0]
    assert sorted(reasons) == [1, 2] and all("duplicate fact_id" in r for r in reasons.values())


def test_extra_reasons_merge_with_the_model_checks():
    df = facts({}, {"year": 1999})
    valid, reasons = validate.split_valid(df, CuratedIndicator, {1: "orphan doc_id: not in staged/documents"})
    assert valid.height == 1
    assert reasons[1].startswith("orphan doc_id") and "year:greater_than_or_equal_to" in reasons[1]


def test_mention_must_equal_the_staged_text_at_its_offsets():
    text = "标题\n\n全市选派第一书记254人。"
    staged = pl.DataFrame({"doc_id": ["a" * 64], "text": [text]})
    start = text.index("254人")
    good = {"char_start": start, "char_end": start + 4}
    shifted = {"char_start": start - 1, "char_end": start + 3}
    assert validate.span_reasons(facts(good, shifted), staged) == {1: "mention_matches_staged_text"}


def test_missing_column_or_wrong_type_fails_the_batch_loudly():
    with pytest.raises(validate.ContractError, match="missing"):
        validate.split_valid(facts({}).drop("evidence"), CuratedIndicator)
    with pytest.raises(validate.ContractError, match="wrong types"):
        validate.split_valid(facts({}).with_columns(pl.col("year").cast(pl.String)), CuratedIndicator)


def test_orphan_rows_are_named():
    assert validate.orphan_reasons(facts({}), "doc_id", {"b" * 64}, "staged/documents") == {
        0: "orphan doc_id: not in staged/documents"
    }


def _failure_cases(run) -> set[tuple[int, str]]:
    with pytest.raises(validate.SchemaErrors) as raised:
        run()
    return set(raised.value.failure_cases.select("index", "check").iter_rows())


@pytest.mark.parametrize("affinity", ["streaming", "in-memory"])
def test_validation_finds_the_same_failures_as_on_the_default_engine_and_leaves_it(affinity):
    """`validate_frame` runs pandera's collects in memory (~20x less per collect on small batches); the
    failures found do not depend on the engine, and the process's default engine is left as it was."""
    df = facts({}, {"year": 1999}, {"char_end": 20}, {"fact_id": "f0"})
    with pl.Config(engine_affinity=affinity):
        given = _failure_cases(lambda: CuratedIndicator.validate(df, lazy=True))
        assert _failure_cases(lambda: validate.validate_frame(df, CuratedIndicator)) == given
        assert pl.Config.state()["POLARS_ENGINE_AFFINITY"] == affinity
    assert {i for i, _ in given} == {0, 1, 2, 3}  # both copies of f0 flagged; split_valid keeps the first
