"""Partition ledger, backfill plans and the extraction cache, as plain library calls."""

import shutil
from datetime import UTC, date, datetime

import polars as pl
import pytest
from conftest import SAMPLE

from warehouse import EXTRACTOR_VERSION, cache, ingest, ledger, pipeline

D1, D3 = date(2022, 2, 9), date(2022, 2, 11)


@pytest.fixture
def landing(tmp_path):
    """Two arrival dates with a gap between them."""
    source = tmp_path / "landing"
    for day, sample_day in ((D1, "2022-02-09"), (D3, "2022-05-17")):
        shutil.copytree(SAMPLE / sample_day, source / day.isoformat())
    return source


def test_plan_runs_dates_with_arrivals_and_records_gaps_as_empty(landing, tmp_path):
    items = ledger.plan(date(2022, 2, 8), date(2022, 2, 12), landing, tmp_path / "root")
    assert [(i.arrival_date.day, i.action) for i in items] == [
        (8, "empty"),
        (9, "run"),
        (10, "empty"),
        (11, "run"),
        (12, "empty"),
    ]
    assert {i.reason for i in items if i.action == "run"} == {"never run"}


@pytest.mark.parametrize(
    ("status", "mode", "action"),
    [
        ("published", "missing", "skip"),
        ("flagged", "missing", "skip"),
        ("failed", "missing", "run"),
        ("failed", "failed", "run"),
        ("published", "failed", "skip"),
        ("published", "all", "run"),
    ],
)
def test_plan_decides_from_the_ledger(landing, tmp_path, status, mode, action):
    root = tmp_path / "root"
    files = ingest.discover_partitions(landing, date(1, 1, 1))[D1]
    ledger.record_run(
        root, D1, files, landing, summary={"status": status}, error="boom" if status == "failed" else None
    )
    (item,) = [i for i in ledger.plan(D1, D1, landing, root, mode)]
    assert item.action == action


def test_changed_arrivals_make_a_finished_date_missing_again(landing, tmp_path):
    root = tmp_path / "root"
    files = ingest.discover_partitions(landing, date(1, 1, 1))[D1]
    ledger.record_run(root, D1, files, landing, summary={"status": "published"})
    (landing / D1.isoformat() / "late.txt").write_text("迟到的报告", encoding="utf-8")
    (item,) = ledger.plan(D1, D1, landing, root, "missing")
    assert (item.action, item.reason) == ("run", "arrivals changed since the last run")


def test_bad_plan_arguments_are_clear_errors(landing, tmp_path):
    with pytest.raises(ValueError, match="mode must be one of"):
        ledger.plan(D1, D3, landing, tmp_path, "some")
    with pytest.raises(ValueError, match="before start"):
        ledger.plan(D3, D1, landing, tmp_path)


@pytest.mark.parametrize(
    ("scheduled", "expected"),
    [
        (datetime(2024, 3, 1, 22, 30, tzinfo=UTC), date(2024, 3, 1)),  # 06:30 on 2 March in Shanghai
        (datetime(2024, 3, 1, 15, 59, tzinfo=UTC), date(2024, 2, 29)),  # 23:59 on 1 March in Shanghai
        (datetime(2024, 3, 1, 16, 0, tzinfo=UTC), date(2024, 3, 1)),  # midnight in Shanghai
    ],
)
def test_daily_runs_take_yesterday_in_shanghai(scheduled, expected):
    assert ledger.default_arrival_date(scheduled) == expected


def test_cache_serves_unchanged_documents_with_the_same_facts(landing, tmp_path):
    root = tmp_path / "root"
    files = ingest.discover_partitions(landing, date(1, 1, 1))[D1]
    staged = pipeline.stage_step(pipeline.ingest_step(files, D1, landing, "r")).staged
    mentions, facts, hits = cache.extract_with_cache(staged, root)
    assert hits == 0 and facts.height > 0
    again = staged.with_columns(pl.lit(D3).alias("arrival_date"))  # the same bytes arriving later
    mentions2, facts2, hits2 = cache.extract_with_cache(again, root)
    assert hits2 == 1
    assert facts2["fact_id"].to_list() == facts["fact_id"].to_list()
    assert set(facts2["arrival_date"]) == {D3} and set(mentions2["arrival_date"]) == {D3}
    assert facts2.drop("arrival_date").equals(facts.drop("arrival_date"))
    assert cache.cache_dir(root).name.startswith(EXTRACTOR_VERSION)
