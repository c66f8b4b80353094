"""The bundled sample end to end through the library (no Prefect)."""

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from conftest import DEV_GOLD, SAMPLE

from warehouse import budget, evaluate, ingest, pipeline, storage
from warehouse.settings import Limits


def test_every_layer_is_written_and_partitioned_by_arrival_date(sample_run):
    for layer, table in pipeline.TABLES:
        df = storage.read_table(sample_run, layer, table)
        assert df is not None and df.height > 0, f"{layer}/{table} is empty"
        assert df["arrival_date"].n_unique() == 5
    assert (sample_run / "quarantine" / "staged" / "documents").is_dir()


def test_raw_keeps_the_exact_bytes(sample_run):
    raw = storage.read_table(sample_run, "raw", "documents")
    for row in raw.iter_rows(named=True):
        original = SAMPLE / row["source_path"]
        assert original.read_bytes() == row["content"]


def test_every_fact_points_at_its_mention_in_the_staged_text(sample_run, sample_facts):
    texts = dict(storage.read_table(sample_run, "staged", "documents").select("doc_id", "text").iter_rows())
    for f in sample_facts.iter_rows(named=True):
        assert texts[f["doc_id"]][f["char_start"] : f["char_end"]] == f["mention"]
        assert f["mention"] in f["evidence"] and f["evidence"] in texts[f["doc_id"]]


def test_dev_set_scores(sample_facts):
    result = evaluate.score_table(sample_facts, evaluate.load_gold(DEV_GOLD))
    print(result.summary())
    assert (
        result.f1 == 1.0 and result.region_accuracy >= 0.95 and result.year_accuracy >= 0.95
    )  # issue 11: no regression


def test_rerun_replaces_partitions_with_the_same_fact_ids(sample_run, sample_facts, tmp_path):
    day, files = sorted(ingest.discover_partitions(SAMPLE, date(2026, 1, 1)).items())[0]
    pipeline.run_partition(files, day, SAMPLE, tmp_path, run_id="a")
    first = storage.read_table(tmp_path, "curated", "indicators")
    pipeline.run_partition(files, day, SAMPLE, tmp_path, run_id="b")
    second = storage.read_table(tmp_path, "curated", "indicators")
    assert first["fact_id"].sort().to_list() == second["fact_id"].sort().to_list()
    assert set(first["fact_id"]) <= set(sample_facts["fact_id"])


def test_bad_documents_are_quarantined_and_the_run_goes_on(tmp_path):
    landing = tmp_path / "landing" / "2024-02-01"
    landing.mkdir(parents=True)
    (landing / "ok.txt").write_text(
        "平武县报告\n今年以来，全县开发公益性岗位1200个，新识别纳入监测对象86户302人，持续巩固拓展脱贫攻坚成果。",
        encoding="utf-8",
    )
    (landing / "broken.txt").write_bytes(bytes([0x81, 0x20, 0xFF, 0xFE, 0x00]))
    (landing / "scan.pdf").write_bytes(b"%PDF-1.4")
    (landing / "empty.txt").write_text("", encoding="utf-8")
    root = tmp_path / "root"
    summary = pipeline.run_partition(
        sorted(landing.iterdir()), date(2024, 2, 1), tmp_path / "landing", root, "r"
    )
    assert (summary.documents, summary.quarantined) == (1, 3)
    assert summary.facts == 3
    q = storage.read_table(root, "quarantine", "staged/documents")
    reasons = dict(q.select("source_file", "reason").iter_rows())
    assert reasons["broken.txt"].startswith("undecodable")
    assert reasons["scan.pdf"].startswith("unsupported format")
    assert reasons["empty.txt"].startswith("empty") or reasons["empty.txt"].startswith("not a report")
    raw = storage.read_table(root, "raw", "documents")
    assert raw.height == 4 and isinstance(raw, pl.DataFrame)


def test_counts_are_whole_and_amounts_exact_to_the_fen(sample_facts):
    """78.32万人 is stored as 783200, 17.69亿元 as 1769000000 (not 783199.9999999999, 1769000000.0000002)."""
    for f in sample_facts.iter_rows(named=True):
        if f["unit"] in ("person", "household", "village", "county", "post"):
            assert f["value"] == int(f["value"]), f
        elif f["unit"] == "CNY":
            written = Decimal(repr(f["value"]))  # the shortest decimal that reads back as the stored float
            assert written == written.quantize(Decimal("0.01")), f
    values = set(sample_facts["value"].to_list())
    assert {783200.0, 1769000000.0} <= values


@pytest.mark.parametrize(
    ("stage", "layer"), [("cleaning", "staged/documents"), ("extraction", "curated/indicators")]
)
def test_a_document_over_its_time_budget_is_quarantined_and_the_rest_publishes(
    tmp_path, monkeypatch, stage, layer
):
    """Time passes only for slow.txt's `stage` (a fake clock): it is quarantined with the reason and the
    partition's other document publishes its facts."""
    landing = tmp_path / "landing" / "2024-02-01"
    landing.mkdir(parents=True)
    report = "平武县报告\n今年以来，全县开发公益性岗位1200个，新识别纳入监测对象86户302人，持续巩固拓展脱贫攻坚成果。"
    (landing / "ok.txt").write_text(report, encoding="utf-8")
    (landing / "slow.txt").write_text(report.replace("1200", "1300"), encoding="utf-8")

    def clock() -> float:
        current = budget._current.get()
        slow = current is not None and current.source_file == "slow.txt" and current.stage == stage
        return 1e9 if slow else 0.0

    monkeypatch.setattr(budget, "_clock", clock)
    root = tmp_path / "root"
    summary = pipeline.run_partition(
        sorted(landing.iterdir()), date(2024, 2, 1), tmp_path / "landing", root, "r"
    )
    assert summary.status in ("published", "flagged") and summary.facts == 3, summary.reasons
    (record,) = storage.read_table(root, "quarantine", layer).iter_rows(named=True)
    assert record["source_file"] == "slow.txt"
    assert record["reason"].startswith(f"over the time budget: {stage} of 'slow.txt' took longer than 120 s")
    facts = storage.read_table(root, "curated", "indicators")
    assert set(facts["source_file"]) == {"ok.txt"}
    staged = set(storage.read_table(root, "staged", "documents")["source_file"])
    assert staged == ({"ok.txt"} if stage == "cleaning" else {"ok.txt", "slow.txt"})


def test_limits_come_from_the_environment_and_must_be_positive():
    limits = Limits.from_env({"WAREHOUSE_MAX_DOCUMENT_SECONDS": "2.5", "WAREHOUSE_MAX_HTML_TAGS": "10"})
    assert (limits.max_document_seconds, limits.max_html_tags) == (2.5, 10)
    with pytest.raises(ValueError, match="WAREHOUSE_MAX_FILE_BYTES"):
        Limits.from_env({"WAREHOUSE_MAX_FILE_BYTES": "0"})
    with pytest.raises(ValueError, match="is not a number"):
        Limits.from_env({"WAREHOUSE_MAX_HTML_DEPTH": "lots"})


def test_cleaning_and_extraction_in_worker_processes_give_exactly_the_sequential_rows(tmp_path):
    """The golden documents (every format and encoding) through two worker processes and through none: the
    same staged documents, mentions and facts, row for row, in the same order."""
    from conftest import PROJECT

    golden = PROJECT / "tests" / "golden" / "docs"
    ((day, files),) = ingest.discover_partitions(golden, date(2026, 1, 1)).items()
    tables = {}
    for workers in (1, 2):
        root = tmp_path / f"w{workers}"
        pipeline.run_partition(files, day, golden, root, "r", quality=False, workers=workers)
        tables[workers] = [
            storage.read_table(root, *t)
            for t in (("staged", "documents"), ("staged", "mentions"), ("curated", "indicators"))
        ]
    for sequential, parallel in zip(tables[1], tables[2], strict=True):
        assert sequential.height > 0 and sequential.equals(parallel)


@pytest.mark.parametrize(
    ("rows", "workers", "sizes"), [(0, 2, []), (3, 2, [3]), (100, 2, [13] * 7 + [9]), (10, 1, [4, 4, 2])]
)
def test_documents_are_cut_into_consecutive_chunks(rows, workers, sizes):
    from warehouse.workers import chunks

    frame = pl.DataFrame({"i": list(range(rows))})
    parts = chunks(frame, workers)
    assert [p.height for p in parts] == sizes
    assert (pl.concat(parts)["i"].to_list() if parts else []) == list(range(rows))


def test_a_partition_larger_than_a_chunk_streams_through_with_the_same_tables(tmp_path, monkeypatch):
    """The golden documents (with a copy of one under a name that sorts last, so the copies fall in
    different chunks) through chunks of 3 files and in one piece: the same rows in every table, one document
    per doc_id staged from its latest arrival, and the files written a chunk (row group) at a time."""
    import shutil

    from conftest import PROJECT

    appended, append = [], storage.PartitionAppender.append

    def counted(self, df, layer, table):
        appended.append((self.root.parent.parent.name, layer, table, df.height))
        return append(self, df, layer, table)

    monkeypatch.setattr(storage.PartitionAppender, "append", counted)
    landing = tmp_path / "landing" / "2026-01-01"
    shutil.copytree(PROJECT / "tests" / "golden" / "docs", landing)
    first = sorted(p for p in landing.iterdir() if p.suffix == ".txt")[0]
    shutil.copy(first, landing / f"zz-copy{first.suffix}")
    ((day, files),) = ingest.discover_partitions(landing.parent, date(2026, 1, 1)).items()
    assert len(files) > 6
    tables, results = {}, {}
    for size in (3, 1000):
        root = tmp_path / f"chunks-{size}"
        limits = Limits(max_chunk_documents=size)
        results[size] = pipeline.run_partition(
            files, day, landing.parent, root, "r", quality=False, limits=limits
        )
        tables[size] = {
            t: storage.read_table(root, *t)
            for t in pipeline.TABLES + (("quarantine", "staged/documents"), ("quarantine", "raw/documents"))
        }
    raw_chunks = [
        n for root, layer, table, n in appended if (root, layer, table) == ("chunks-3", "raw", "documents")
    ]
    assert len(raw_chunks) == -(-len(files) // 3) and max(raw_chunks) <= 3  # written a chunk at a time
    assert results[3].documents == results[1000].documents == len(files) - 1  # the copy is one document
    staged = tables[3][("staged", "documents")]
    assert "zz-copy" in " ".join(staged["source_file"]) and staged["doc_id"].n_unique() == staged.height
    for key, whole in tables[1000].items():
        chunked = tables[3][key]
        assert (whole is None) == (chunked is None), key
        if whole is not None:
            order = [c for c in whole.columns if whole[c].dtype != pl.Binary]
            assert whole.sort(order).equals(chunked.select(whole.columns).sort(order)), key


def test_a_step_in_its_own_process_returns_its_result_or_raises_its_error(tmp_path):
    import os

    from warehouse import workers

    assert workers.in_own_process(os.getpid) != os.getpid()
    assert workers.in_own_process(storage.layer_path, tmp_path, "raw", "documents") == storage.layer_path(
        tmp_path, "raw", "documents"
    )
    with pytest.raises(FileNotFoundError):
        workers.in_own_process(type(tmp_path).read_text, tmp_path / "nowhere.txt")


def test_a_worker_process_gives_back_what_a_partition_left_and_a_main_process_is_left_alone(monkeypatch):
    import gc
    import multiprocessing
    import weakref

    from warehouse import workers

    class Node:
        pass

    def garbage_cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    frozen: list[int] = []
    monkeypatch.setattr(workers.gc, "freeze", lambda: frozen.append(1))  # not this test session's heap
    monkeypatch.setattr(workers, "_frozen", False)
    gc.disable()  # only settle_memory may collect here
    try:
        monkeypatch.setattr(multiprocessing, "parent_process", lambda: None)  # a main process
        left = garbage_cycle()
        workers.settle_memory()
        assert left() is not None and frozen == []
        monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())  # a worker process
        workers.settle_memory()
        assert left() is None and frozen == [1]
        again = garbage_cycle()
        workers.settle_memory()
        assert again() is None and frozen == [1]  # frozen once, at the first partition
    finally:
        gc.enable()
