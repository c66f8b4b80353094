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


def test_an_appended_line_is_whole_or_absent_and_a_full_disk_says_so(tmp_path, monkeypatch):
    import errno
    import os

    log = tmp_path / "runs.jsonl"
    storage.append_line(log, '{"a": 1}')
    real_write = os.write

    def half_then_full(fd, data):  # the disk fills up in the middle of the line
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="disk full while writing"):
        storage.append_line(log, '{"b": 2}')
    monkeypatch.setattr(os, "write", real_write)
    assert log.read_text(encoding="utf-8") == '{"a": 1}\n'  # no torn line


def test_a_full_disk_while_writing_a_table_says_so(tmp_path):
    import polars as pl

    def full(path):
        raise pl.exceptions.ComputeError("failed to write: No space left on device (os error 28)")

    with pytest.raises(OSError, match="disk full while writing"):
        storage.replace_atomically(tmp_path / "t.parquet", full)
    assert list(tmp_path.iterdir()) == []


def test_stale_staging_folders_are_removed_and_fresh_ones_kept(tmp_path):
    import os
    import time

    old, fresh = storage.staging_root(tmp_path, "crashed"), storage.staging_root(tmp_path, "running")
    for folder in (old, fresh):
        (folder / "curated").mkdir(parents=True)
        (folder / "curated" / "part-0.parquet").write_bytes(b"x")
    long_ago = time.time() - storage.STAGING_RETENTION_S - 60
    for p in (old, old / "curated", old / "curated" / "part-0.parquet"):
        os.utime(p, (long_ago, long_ago))
    assert storage.prune_staging(tmp_path) == [old]
    assert not old.exists() and (fresh / "curated" / "part-0.parquet").exists()


def test_a_dead_runs_staging_is_removed_at_once_a_live_or_failed_ones_kept(tmp_path):
    """A staging folder leased by a live writer stays; once its writer is gone (lease free) it goes on the
    next prune, however fresh; a failed audit's folder is kept for inspection; one an unfinished publish
    needs (`keep`) stays."""
    live = storage.staging_root(tmp_path, "live")
    with storage.staging_lease(live):
        (live / "curated").mkdir()
        assert storage.prune_staging(tmp_path) == [] and live.exists()
    assert storage.prune_staging(tmp_path) == [live] and not live.exists()
    failed, needed = storage.staging_root(tmp_path, "failed"), storage.staging_root(tmp_path, "needed")
    for folder in (failed, needed):
        with storage.staging_lease(folder):
            pass
    (failed / storage.FAILED_AUDIT).write_text("raw/documents: wrote 1 rows, expected 2\n")
    assert storage.prune_staging(tmp_path, keep={needed.name}) == []
    assert failed.exists() and needed.exists()
