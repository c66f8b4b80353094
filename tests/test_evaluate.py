import pytest

from warehouse.evaluate import score


def gold(value, optional=False, indicator="first_secretaries", region="德阳市", year=2021):
    return {
        "doc": "a.txt",
        "indicator": indicator,
        "value": value,
        "region": region,
        "year": year,
        "optional": optional,
    }


def pred(value, indicator="first_secretaries", region="德阳市", year=2021, doc="a.txt"):
    return {"source_file": doc, "indicator": indicator, "value": value, "region_name": region, "year": year}


def test_perfect_match():
    s = score([pred(254)], [gold(254)])
    assert (s.tp, s.fp, s.fn, s.f1, s.region_accuracy, s.year_accuracy) == (1, 0, 0, 1.0, 1.0, 1.0)


def test_tolerance_is_relative_for_large_values():
    assert score([pred(3.16e8 + 300)], [gold(3.16e8)]).tp == 1
    assert score([pred(3.16e8 + 400)], [gold(3.16e8)]).tp == 0
    assert score([pred(254.009)], [gold(254)]).tp == 1


def test_optional_rows_are_neither_rewarded_nor_penalised_and_required_rows_come_first():
    s = score([pred(30), pred(30)], [gold(30, optional=True), gold(30)])
    assert (s.tp, s.fp, s.fn, s.optional_matched) == (1, 0, 0, 1)
    s = score([], [gold(30, optional=True)])
    assert (s.tp, s.fp, s.fn) == (0, 0, 0)


def test_each_gold_row_matches_once_and_wrong_indicator_is_a_false_positive():
    s = score([pred(5), pred(5), pred(5, indicator="grid_workers")], [gold(5)])
    assert (s.tp, s.fp, s.fn) == (1, 2, 0)
    assert s.precision == pytest.approx(1 / 3) and s.recall == 1.0


def test_region_and_year_accuracy_over_true_positives_and_known_years():
    s = score(
        [pred(1, region="中江县"), pred(2, year=2020), pred(3, year=1999)],
        [gold(1), gold(2), gold(3, year=None)],
    )
    assert s.tp == 3 and s.region_accuracy == pytest.approx(2 / 3) and s.year_accuracy == pytest.approx(1 / 2)


def test_predictions_for_documents_outside_the_gold_file_are_not_scored():
    assert score([pred(1, doc="other.txt")], [gold(1)]).fn == 1
    assert score([pred(1, doc="other.txt")], [gold(1)]).fp == 0
