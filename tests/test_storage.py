import uuid
from datetime import date

import polars as pl
import pytest
from conftest import BUCKET

from warehouse import storage


def test_layer_path_is_hive_partitioned(tmp_path):
    assert storage.layer_path(tmp_path, "curated", "indicators", date(2024, 1, 2)) == (
        tmp_path / "curated" / "indicators" / "arrival_date=2024-01-02"
    )
    with pytest.raises(ValueError, match="unknown layer"):
        storage.layer_path(tmp_path, "gold", "x")


def test_a_write_replaces_exactly_its_partition_in_one_commit_and_old_versions_stay_readable(tmp_path):
    d1, d2 = date(2024, 1, 2), date(2024, 1, 3)
    storage.write_partition(pl.DataFrame({"a": [1, 2], "arrival_date": [d1, d1]}), tmp_path, "raw", "t", d1)
    storage.write_partition(pl.DataFrame({"a": [9]}), tmp_path, "raw", "t", d2)
    storage.write_partition(pl.DataFrame({"a": [3]}), tmp_path, "raw", "t", d1)
    assert storage.version(tmp_path, "raw", "t") == 2  # one commit per write
    table = storage.read_table(tmp_path, "raw", "t").sort("a")
    assert table.to_dicts() == [{"a": 3, "arrival_date": d1}, {"a": 9, "arrival_date": d2}]
    assert sorted(storage.read_table(tmp_path, "raw", "t", version=0)["a"]) == [1, 2]  # time travel
    assert storage.read_partition(tmp_path, "raw", "t", d2)["a"].to_list() == [9]
    assert storage.read_table(tmp_path, "raw", "t", skip={d1.isoformat()})["a"].to_list() == [9]
    assert not list(tmp_path.rglob("*.tmp"))


def test_failed_write_commits_nothing(tmp_path):
    day = date(2024, 1, 2)
    storage.write_partition(pl.DataFrame({"a": [1]}), tmp_path, "raw", "t", day)
    bad = pl.DataFrame({"a": [object()]}, schema={"a": pl.Object})
    with pytest.raises(Exception):  # noqa: B017 - an Object column has no Arrow type
        storage.write_partition(bad, tmp_path, "raw", "t", day)
    assert storage.version(tmp_path, "raw", "t") == 0
    assert storage.read_table(tmp_path, "raw", "t")["a"].to_list() == [1]


def test_a_column_new_to_a_table_is_added_and_older_partitions_read_it_as_null(tmp_path):
    d1, d2 = date(2024, 1, 2), date(2024, 1, 3)
    storage.write_partition(pl.DataFrame({"a": [1]}), tmp_path, "raw", "t", d1)
    storage.write_partition(pl.DataFrame({"a": [2], "role": ["value"]}), tmp_path, "raw", "t", d2)
    rows = storage.read_table(tmp_path, "raw", "t").sort("a").to_dicts()
    assert rows == [
        {"a": 1, "role": None, "arrival_date": d1},
        {"a": 2, "role": "value", "arrival_date": d2},
    ]


def test_publishing_a_staging_root_commits_each_table_once_and_again_after_a_crash(tmp_path):
    day = date(2024, 1, 2)
    staging = storage.staging_root(tmp_path, "run")
    files = storage.PartitionAppender(staging, day)
    for chunk in ([1, 2], [3]):  # a partition written in two chunks: one file of two row groups
        files.append(pl.DataFrame({"doc_id": [str(i) for i in chunk]}), "raw", "documents")
    files.append(pl.DataFrame({"doc_id": ["1"]}), "staged", "documents")
    files.close()
    assert storage.publish_staged(staging, tmp_path) == ["raw/documents", "staged/documents"]
    assert not staging.exists()
    assert sorted(storage.read_table(tmp_path, "raw", "documents")["doc_id"]) == ["1", "2", "3"]
    versions = storage.versions(tmp_path)
    assert versions == {"raw/documents": 0, "staged/documents": 0}


def test_vacuum_deletes_only_what_no_version_of_the_retention_needs(tmp_path):
    day = date(2024, 1, 2)
    for value in (1, 2):
        storage.write_partition(pl.DataFrame({"a": [value]}), tmp_path, "raw", "t", day)
    assert storage.vacuum(tmp_path) == {"raw/t": 0}  # replaced a moment ago: within a week's retention
    assert storage.read_table(tmp_path, "raw", "t", version=0)["a"].to_list() == [1]
    assert storage.vacuum(tmp_path, retention_hours=0) == {"raw/t": 1}
    assert storage.read_table(tmp_path, "raw", "t")["a"].to_list() == [2]
    with pytest.raises(Exception):  # noqa: B017 - version 0's file is gone
        storage.read_table(tmp_path, "raw", "t", version=0)


def test_a_plain_parquet_table_of_an_earlier_layout_is_refused_until_migrated(tmp_path):
    day = date(2024, 1, 2)
    old = storage.layer_path(tmp_path, "raw", "t", day) / storage.PART_FILE
    old.parent.mkdir(parents=True)
    pl.DataFrame({"a": [1, 2]}).write_parquet(old)
    with pytest.raises(RuntimeError, match="warehouse migrate"):
        storage.read_table(tmp_path, "raw", "t")
    assert storage.migrate_plain_parquet(tmp_path) == {"raw/t": 1}
    assert storage.read_table(tmp_path, "raw", "t").to_dicts() == [
        {"a": 1, "arrival_date": day},
        {"a": 2, "arrival_date": day},
    ]
    assert not old.exists() and storage.migrate_plain_parquet(tmp_path) == {}


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


WRITER = """
import json, sys, time
from datetime import date, timedelta
import polars as pl
from deltalake.exceptions import CommitFailedError

from warehouse import storage
from warehouse.location import parse_root

root, writer, same, meet = parse_root(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "same", sys.argv[4]
real_write, lost = storage.write_deltalake, []

def counted(*args, **kwargs):  # every commit Delta refused because the other writer got there first
    try:
        return real_write(*args, **kwargs)
    except CommitFailedError:
        lost.append(1)
        raise

storage.write_deltalake = counted
open(f"{meet}/ready-{writer}", "w").close()  # both writers begin at the same moment: when both are ready
while len(__import__("os").listdir(meet)) < 2:
    time.sleep(0.005)
began, made, gave_up = time.time(), 0, False
for i in range(8):
    day = date(2024, 1, 1) + timedelta(days=0 if same else writer * 100 + i)
    rows = pl.DataFrame({"writer": [writer] * 3, "i": [i] * 3})
    try:
        storage.write_partition(rows, root, "raw", "t", day)
    except storage.ConcurrentCommitError:  # lost the race COMMIT_ATTEMPTS times: failed, committing nothing
        gave_up = True
        break
    made += 1
print(json.dumps({"began": began, "ended": time.time(), "lost": len(lost), "made": made, "gave_up": gave_up}))
"""


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def any_root(request, tmp_path):
    """A root in a local folder, or a root on the test S3 server (a prefix of its own per test)."""
    if request.param == "local":
        return tmp_path
    request.getfixturevalue("s3_environment")
    return f"s3://{BUCKET}/storage/{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("dates", ["different", "same"])
def test_two_processes_committing_at_once_lose_nothing_and_a_partition_stays_whole(any_root, dates, tmp_path):
    """No lock between them (object stores have none): Delta's commit protocol alone keeps every commit
    of two writers on different dates, and on one date the partition is one commit's rows, whole (a commit
    that lost the race was redone, or after 5 losses its writer failed cleanly, committing nothing); on a
    local folder and on S3. The writers start at one moment and their commits overlap in time."""
    import json
    import subprocess
    import sys

    root = any_root
    storage.write_partition(pl.DataFrame({"writer": [-1], "i": [0]}), root, "raw", "t", date(2023, 1, 1))
    meet = tmp_path / "meet"  # each writer says it is ready here, then waits for the other
    meet.mkdir()
    command = [sys.executable, "-c", WRITER, str(root)]
    writers = [subprocess.Popen([*command, str(w), dates, str(meet)], stdout=subprocess.PIPE) for w in (0, 1)]
    outputs = [w.communicate(timeout=120)[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0]
    spans = [json.loads(out) for out in outputs]
    assert max(s["began"] for s in spans) < min(s["ended"] for s in spans)  # they did write at once
    if dates == "same":
        assert sum(s["lost"] for s in spans) >= 1  # a conflict happened
    else:
        assert [s["made"] for s in spans] == [8, 8]  # commits to other dates never fail
    assert not all(s["gave_up"] for s in spans)
    table = storage.read_table(root, "raw", "t")
    assert storage.version(root, "raw", "t") == sum(s["made"] for s in spans)  # the first commit at 0
    by_date = table.group_by("arrival_date").agg(pl.col("writer").unique(), pl.col("i").unique(), pl.len())
    if dates == "different":
        assert table.height == 1 + 2 * 8 * 3 and by_date.height == 17
    else:
        (last,) = by_date.filter(pl.col("arrival_date") == date(2024, 1, 1)).iter_rows(named=True)
        assert len(last["writer"]) == 1 and len(last["i"]) == 1 and last["len"] == 3  # one commit, whole


def test_a_commit_that_keeps_losing_its_partition_fails_cleanly_and_commits_nothing(tmp_path, monkeypatch):
    from deltalake.exceptions import CommitFailedError

    day = date(2024, 1, 2)
    storage.write_partition(pl.DataFrame({"a": [1]}), tmp_path, "raw", "t", day)
    attempts = []

    def always_loses(*args, **kwargs):
        attempts.append(1)
        raise CommitFailedError("a concurrent transaction added new data")

    monkeypatch.setattr(storage, "write_deltalake", always_loses)
    monkeypatch.setattr(storage.time, "sleep", lambda s: None)
    with pytest.raises(storage.ConcurrentCommitError, match="other writers committed to this partition"):
        storage.write_partition(pl.DataFrame({"a": [2]}), tmp_path, "raw", "t", day)
    monkeypatch.undo()
    assert len(attempts) == storage.COMMIT_ATTEMPTS
    assert storage.read_table(tmp_path, "raw", "t")["a"].to_list() == [1]


def test_write_table_returns_the_version_its_commit_made(tmp_path):
    first = storage.write_table(pl.DataFrame({"a": [1]}), tmp_path, "curated", "t")
    second = storage.write_table(pl.DataFrame({"a": [2, 3]}), tmp_path, "curated", "t")
    assert (first, second) == (0, 1) == (0, storage.version(tmp_path, "curated", "t"))
    assert storage.read_table(tmp_path, "curated", "t", version=first)["a"].to_list() == [1]


def test_a_table_is_made_with_a_checkpoint_every_ten_commits(tmp_path):
    from deltalake import DeltaTable

    for i in range(12):
        storage.write_partition(pl.DataFrame({"a": [i]}), tmp_path, "raw", "t", date(2024, 1, 1 + i))
    table = DeltaTable(str(storage.table_path(tmp_path, "raw", "t")))
    assert table.metadata().configuration == storage.TABLE_CONFIGURATION
    log = storage.table_path(tmp_path, "raw", "t") / storage.DELTA_LOG
    assert (log / "00000000000000000009.checkpoint.parquet").exists()  # after 10 commits: a load starts there
    assert sorted(storage.read_table(tmp_path, "raw", "t")["a"].to_list()) == list(range(12))


def test_the_delta_log_of_a_warehouse_table_has_no_statistics_of_its_free_text(sample_run):
    """Each data file's log entry records min/max of the columns a filter can skip on, never the free text
    (`schemas.registry`: a document's text as min and max made each entry ~4.7 KB)."""
    import json

    from schemas import registry

    for t in (*registry.LAYER_TABLES, *registry.QUARANTINE_TABLES):
        assert t.free_text, t.path  # every partitioned table names its long text
        log = storage.table_path(sample_run, t.layer, t.name) / storage.DELTA_LOG
        adds = [
            json.loads(line)["add"]
            for commit in sorted(log.glob("*.json"))
            for line in commit.read_text().splitlines()
            if '"add"' in line
        ]
        for add in adds:
            stats = json.loads(add["stats"])
            assert set(stats["minValues"]) <= set(t.stats_columns()), t.path
            assert not set(t.free_text) & set(stats["minValues"]) and "doc_id" in stats["minValues"]


def test_commits_leave_expired_log_files_to_vacuum(tmp_path):
    from deltalake import DeltaTable, write_deltalake

    path = storage.table_path(tmp_path, "raw", "t")
    configuration = storage.TABLE_CONFIGURATION | {"delta.logRetentionDuration": "interval 0 seconds"}
    first = pl.DataFrame({"a": [0], "arrival_date": [date(2023, 12, 31)]})
    write_deltalake(str(path), first.to_arrow(), partition_by=["arrival_date"], configuration=configuration)
    for i in range(1, 12):
        storage.write_partition(pl.DataFrame({"a": [i]}), tmp_path, "raw", "t", date(2024, 1, i))
    log = path / storage.DELTA_LOG
    assert (log / "00000000000000000009.checkpoint.parquet").exists()
    assert (log / "00000000000000000000.json").exists()  # expired, superseded by the checkpoint, still there
    storage.vacuum(tmp_path, retention_hours=0)
    assert not (log / "00000000000000000000.json").exists()
    assert (log / "00000000000000000010.json").exists()  # after the checkpoint: kept
    assert DeltaTable(str(path)).version() == 11
    assert sorted(storage.read_table(tmp_path, "raw", "t")["a"].to_list()) == list(range(12))


def test_a_table_kept_loaded_sees_other_writers_and_a_table_made_again_is_loaded_afresh(tmp_path):
    import shutil

    from deltalake import write_deltalake

    d1, d2, d3 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)
    storage.write_partition(pl.DataFrame({"a": [1]}), tmp_path, "raw", "t", d1)
    storage.write_partition(pl.DataFrame({"a": [2]}), tmp_path, "raw", "t", d2)
    path = str(storage.table_path(tmp_path, "raw", "t"))
    assert storage._loaded(path) is storage._loaded(path)  # kept, brought up to date
    other = pl.DataFrame({"a": [20], "arrival_date": [d2]}).to_arrow()  # another writer replaces d2
    write_deltalake(path, other, mode="overwrite", predicate=f"arrival_date = '{d2}'")
    storage.write_partition(pl.DataFrame({"a": [3]}), tmp_path, "raw", "t", d3)
    assert sorted(storage.read_table(tmp_path, "raw", "t")["a"].to_list()) == [1, 3, 20]
    assert storage.version(tmp_path, "raw", "t") == 3

    shutil.rmtree(path)  # another writer removes the table and makes it again, with fewer commits
    for i in range(2):
        again = pl.DataFrame({"a": [100 + i], "arrival_date": [d1]}).to_arrow()
        write_deltalake(path, again, mode="overwrite", partition_by=["arrival_date"])
    storage.write_partition(pl.DataFrame({"a": [8]}), tmp_path, "raw", "t", d2)
    assert storage.version(tmp_path, "raw", "t") == 2
    assert sorted(storage.read_table(tmp_path, "raw", "t")["a"].to_list()) == [8, 101]


def test_a_thread_keeps_a_bounded_number_of_tables_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "TABLES_KEPT_LOADED", 3)
    monkeypatch.setattr(storage, "_THREAD", __import__("threading").local())
    for i in range(5):
        storage.write_partition(pl.DataFrame({"a": [i]}), tmp_path, "raw", f"t{i}", date(2024, 1, 1))
        storage.write_partition(pl.DataFrame({"a": [i]}), tmp_path, "raw", f"t{i}", date(2024, 1, 2))
    kept = storage._loaded_tables()
    assert [p.rsplit("/", 1)[-1] for p in kept] == ["t2", "t3", "t4"]
    assert all(storage.version(tmp_path, "raw", f"t{i}") == 1 for i in range(5))


def test_a_kept_table_that_cannot_be_brought_up_to_date_is_loaded_afresh(tmp_path, monkeypatch):
    storage.write_partition(pl.DataFrame({"a": [1]}), tmp_path, "raw", "t", date(2024, 1, 1))
    path = str(storage.table_path(tmp_path, "raw", "t"))
    kept = storage._loaded(path)
    assert kept is not None

    def broken() -> None:
        raise OSError("log unreadable")

    monkeypatch.setattr(kept, "update_incremental", broken)
    storage.write_partition(pl.DataFrame({"a": [2]}), tmp_path, "raw", "t", date(2024, 1, 2))
    assert storage._loaded(path) is not kept
    assert sorted(storage.read_table(tmp_path, "raw", "t")["a"].to_list()) == [1, 2]
