"""Partition ledger, backfill plans and the extraction cache, as plain library calls."""

import itertools
import shutil
from datetime import UTC, date, datetime

import polars as pl
import pytest
from conftest import SAMPLE

from warehouse import EXTRACTOR_VERSION, cache, ingest, ledger, pipeline
from warehouse.results import PartitionResult

D1, D3 = date(2022, 2, 9), date(2022, 2, 11)


@pytest.fixture
def landing(tmp_path):
    """Two arrival dates with a gap between them."""
    source = tmp_path / "landing"
    for day, sample_day in ((D1, "2022-02-09"), (D3, "2022-05-17")):
        shutil.copytree(SAMPLE / sample_day, source / day.isoformat())
    return source


def _record(root, files, landing, status):
    if status == "failed":
        ledger.record_failure(root, D1, "boom")
        return
    result = PartitionResult(D1.isoformat(), "test", status)
    ledger.write_record(root, ledger.published_record(result, ledger.input_hash(files, landing), 1.0))


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
    _record(root, files, landing, status)
    (item,) = [i for i in ledger.plan(D1, D1, landing, root, mode)]
    assert item.action == action


def test_changed_arrivals_make_a_finished_date_missing_again(landing, tmp_path):
    root = tmp_path / "root"
    files = ingest.discover_partitions(landing, date(1, 1, 1))[D1]
    _record(root, files, landing, "published")
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
    first, hits = cache.extract_with_cache(staged, root)
    facts = first.facts
    assert hits == 0 and facts.height > 0
    again = staged.with_columns(pl.lit(D3).alias("arrival_date"))  # the same bytes arriving later
    second, hits2 = cache.extract_with_cache(again, root)
    mentions2, facts2 = second.mentions, second.facts
    assert hits2 == 1
    assert facts2["fact_id"].to_list() == facts["fact_id"].to_list()
    assert set(facts2["arrival_date"]) == {D3} and set(mentions2["arrival_date"]) == {D3}
    assert facts2.drop("arrival_date").equals(facts.drop("arrival_date"))
    assert cache.cache_dir(root).name.startswith(EXTRACTOR_VERSION)
    assert len(list((cache.cache_dir(root) / cache.CHUNKS).iterdir())) == 1  # stored once, by batch


def test_cache_entries_are_batches_and_a_broken_entry_is_a_miss(landing, tmp_path):
    root = tmp_path / "root"
    files = ingest.discover_partitions(landing, date(1, 1, 1))[D1]
    staged = pipeline.stage_step(pipeline.ingest_step(files, D1, landing, "r")).staged
    first, _ = cache.extract_with_cache(staged, root)
    ids = staged["doc_id"].to_list()
    chunks = list((cache.cache_dir(root) / cache.CHUNKS).glob("*.parquet"))
    assert len(chunks) == 1 and set(cache.lookup(root, ids)) == set(ids)  # one file for the whole batch
    index = cache.cache_dir(root) / cache.INDEX
    with index.open("a") as f:
        f.write(f"{'f' * 64}\t{'0' * 16}\n{'e' * 64}\tcut")  # a chunk that is gone, a line cut short
    assert cache.lookup(root, [*ids, "f" * 64, "e" * 64]).keys() == set(ids)
    chunks[0].unlink()  # the file of an indexed chunk is gone: its documents are extracted again
    again, hits = cache.extract_with_cache(staged, root)
    assert hits == 0 and again.facts.equals(first.facts)
    _, hits = cache.extract_with_cache(staged, root)
    assert hits == len(ids)


def test_input_hash_of_what_ingest_read_equals_the_hash_of_the_files(landing):
    files = ingest.discover_partitions(landing, date(1, 1, 1))[D1]
    batch = pipeline.ingest_step(files, D1, landing, "r")
    assert batch.input_hash == ledger.input_hash(files, landing) != ""


def test_unchanged_empty_records_are_not_rewritten(tmp_path):
    assert ledger.record_empty(tmp_path, D1, "first") is True
    before = ledger.record_path(tmp_path, D1).stat().st_mtime_ns
    assert ledger.record_empty(tmp_path, D1, "second") is False
    assert ledger.record_path(tmp_path, D1).stat().st_mtime_ns == before
    assert ledger.read_record(tmp_path, D1).run_id == "first"


class _Crash(BaseException):
    """The process dies here (not an Exception: nothing may catch it)."""


def _published_files(root):
    """What the tables hold of partition D1 (staging excluded): rows and doc_ids per table."""
    from warehouse import storage

    out = {}
    for name in storage.versions(root) if root.exists() else {}:
        layer, table = name.split("/", 1)
        df = storage.read_partition(root, layer, table, D1)
        if df is not None:
            out[name] = (df.height, sorted(df["doc_id"].to_list()) if "doc_id" in df.columns else None)
    return out


def _crash_at(monkeypatch, n):
    """Make the n-th rename or table commit of the run (record writes and commits alike) the moment the
    process dies."""
    import warehouse.storage

    real, commit, calls = warehouse.storage.os.replace, warehouse.storage.commit_partition, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == n:
            raise _Crash(f"killed at rename {n}")
        return real(src, dst)

    def commit_partition(root, layer, table, *args):
        calls.append(f"{layer}/{table}")
        if len(calls) == n:
            raise _Crash(f"killed before commit {n}")
        return commit(root, layer, table, *args)

    monkeypatch.setattr(warehouse.storage.os, "replace", replace)
    monkeypatch.setattr(warehouse.storage, "commit_partition", commit_partition)
    return calls


def test_a_crash_at_any_moment_of_publishing_leaves_ledger_and_files_agreeing(landing, tmp_path, monkeypatch):
    files = ingest.discover_partitions(landing, date(1, 1, 1))[D1]
    reference = tmp_path / "reference"
    pipeline.run_partition(files, D1, landing, reference, run_id="ref", quality=False)
    expected = _published_files(reference)
    validated = pipeline.validate_step(
        pipeline.extract_step(pipeline.stage_step(pipeline.ingest_step(files, D1, landing, "r")))
    )
    outcomes = []
    for n in itertools.count(1):  # every rename and commit of publish_step: staging, intent, commits, record
        root = tmp_path / f"crash-{n}"
        _crash_at(monkeypatch, n)
        try:
            pipeline.publish_step(validated, root, quality=False)
        except _Crash:
            crashed = True
        else:
            crashed = False
        monkeypatch.undo()
        ledger.recover(root)  # what the next run does first
        record = ledger.read_record(root, D1)
        if record is None:  # died before the intent was recorded: nothing was published
            assert crashed and _published_files(root) == {}, n
            assert ledger.plan(D1, D1, landing, root)[0].action == "run"
            outcomes.append("nothing")
        else:
            assert record.status == "published" and not ledger.intent_path(root, D1).exists(), n
            assert _published_files(root) == expected, n
            assert not (root / "_staging").exists(), n
            assert ledger.plan(D1, D1, landing, root)[0].action == "skip", n
            outcomes.append("published")
        if not crashed:
            break
    # crashes before the intent publish nothing; from the intent on, recovery completes the publish
    assert outcomes[-1] == "published" and outcomes.count("published") >= len(expected) + 2
    assert outcomes == sorted(outcomes)  # "nothing" ... then "published" only


def test_warehouse_names_tell_roots_apart(tmp_path):
    from warehouse.settings import warehouse_name

    a, b = warehouse_name(tmp_path / "a" / "data"), warehouse_name(tmp_path / "b" / "data")
    assert a != b and a.startswith("data-") and b.startswith("data-")
    assert warehouse_name(tmp_path / "a" / "data") == a  # stable
    assert warehouse_name("x", "Guizhou Province 2024") == "guizhou-province-2024"
    with pytest.raises(ValueError, match="no letters or digits"):
        warehouse_name("x", "!!!")


def test_recover_never_touches_a_publish_in_progress(tmp_path):
    """Publishes of one date and recoveries running at once (another worker starting): no error, and
    every publish ends whole (its record and no intent left)."""
    import threading

    from warehouse import storage

    errors, stop = [], threading.Event()

    def publisher():
        for i in range(120):
            staging = tmp_path / "_staging" / f"run{i}"
            part = staging / "raw" / "documents" / f"arrival_date={D1}" / "part-0.parquet"
            try:
                part.parent.mkdir(parents=True, exist_ok=True)
                pl.DataFrame({"i": [i]}).write_parquet(part)
                record = ledger.PartitionRecord(
                    D1.isoformat(), "published", "h", EXTRACTOR_VERSION, run_id=str(i)
                )
                ledger.publish(tmp_path, record, staging)
            except Exception as exc:  # noqa: BLE001 - the test counts them
                errors.append(f"publish: {exc!r}")
        stop.set()

    def recoverer():
        while not stop.is_set():
            try:
                ledger.recover(tmp_path)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"recover: {exc!r}")

    threads = [threading.Thread(target=publisher), threading.Thread(target=recoverer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ledger.read_record(tmp_path, D1).run_id == "119" and not ledger.intent_path(tmp_path, D1).exists()
    assert storage.read_table(tmp_path, "raw", "documents")["i"].to_list() == [119]


def test_a_failure_after_publishing_keeps_the_published_record(tmp_path):
    record = ledger.PartitionRecord(D1.isoformat(), "published", "h", EXTRACTOR_VERSION, run_id="r1")
    ledger.write_record(tmp_path, record)
    ledger.record_failure(tmp_path, D1, "artifact upload failed", run_id="r1")
    assert ledger.read_record(tmp_path, D1).status == "published"
    ledger.record_failure(tmp_path, D1, "a later run failed", run_id="r2")
    assert ledger.read_record(tmp_path, D1).status == "failed"


def test_a_backfill_records_an_empty_date_only_when_it_held_something_before(tmp_path):
    assert ledger.record_empty(tmp_path, D1, "backfill", only_changes=True) is False
    assert ledger.read_record(tmp_path, D1) is None  # never recorded: no file for an empty day
    ledger.write_record(tmp_path, ledger.PartitionRecord(D1.isoformat(), "published", "h", "v", documents=2))
    assert ledger.record_empty(tmp_path, D1, "backfill", only_changes=True) is True
    assert ledger.read_record(tmp_path, D1).status == "empty"  # its arrivals went away: recorded
