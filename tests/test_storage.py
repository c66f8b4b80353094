from datetime import date

import polars as pl
import pytest

from warehouse import storage


def test_layer_path_is_hive_partitioned(tmp_path):
    assert storage.layer_path(tmp_path, "curated", "indicators", date(2024, 1, 2)) == (
        tmp_path / "curated" / "indicators" / "arrival_date=2024-01-02"
    )
    with pytest.raises(ValueError, match="unknown layer"):
        storage.layer_path(tmp_path, "gold", "x")


def test_write_replaces_a_partition_atomically_and_leaves_no_temporary_files(tmp_path):
    day = date(2024, 1, 2)
    storage.write_partition(
        pl.DataFrame({"a": [1, 2], "arrival_date": [day, day]}), tmp_path, "raw", "t", day
    )
    storage.write_partition(pl.DataFrame({"a": [3]}), tmp_path, "raw", "t", day)
    folder = storage.layer_path(tmp_path, "raw", "t", day)
    assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]
    table = storage.read_table(tmp_path, "raw", "t")
    assert table.to_dicts() == [{"a": 3, "arrival_date": day}]


def test_failed_write_keeps_the_previous_partition(tmp_path):
    day = date(2024, 1, 2)
    storage.write_partition(pl.DataFrame({"a": [1]}), tmp_path, "raw", "t", day)
    bad = pl.DataFrame({"a": [object()]}, schema={"a": pl.Object})
    with pytest.raises(Exception):  # noqa: B017 - polars cannot write Object columns
        storage.write_partition(bad, tmp_path, "raw", "t", day)
    folder = storage.layer_path(tmp_path, "raw", "t", day)
    assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]
    assert storage.read_table(tmp_path, "raw", "t")["a"].to_list() == [1]


def test_reading_a_table_never_written_gives_none(tmp_path):
    assert storage.read_table(tmp_path, "curated", "indicators") is None
