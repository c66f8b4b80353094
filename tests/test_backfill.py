"""Backfills run in this process against the session's Prefect server (kept few: each flow run costs ~1 s).
Deployments, workers, schedules and crashes are in test_server.py."""

from datetime import UTC, date, datetime

import pytest
from conftest import SAMPLE, sample_landing

from warehouse import ledger, storage
from warehouse.settings import warehouse_name

pytestmark = pytest.mark.prefect
START, END = date(2022, 2, 8), date(2022, 2, 13)
ARRIVALS = {date(2022, 2, 9): "2022-02-09", date(2022, 2, 11): "2022-05-17", date(2022, 2, 12): "2021-12-29"}


@pytest.fixture
def landing(tmp_path):
    return sample_landing(tmp_path, ARRIVALS)


def snapshot(root):
    facts = storage.read_table(root, "curated", "indicators")
    return sorted(facts["fact_id"]), {
        t: storage.read_table(root, *t).height for t in (("raw", "documents"), ("curated", "indicators"))
    }


def test_backfill_over_gaps_is_idempotent_isolates_failures_and_resumes(
    prefect_server, landing, tmp_path, monkeypatch
):
    from flows.backfill import backfill_flow

    root = tmp_path / "root"
    # an interrupted backfill: only the first half of the range got done
    half = backfill_flow(START, date(2022, 2, 10), str(landing), str(root), "missing", 2)
    assert [r["status"] for r in half] == ["empty", half[1]["status"], "empty"]
    first_run_ids = {d: r.run_id for d, r in ledger.read_ledger(root).items()}

    table = backfill_flow(START, END, str(landing), str(root), "missing", 2)
    statuses = {r["partition"]: r["status"] for r in table}
    assert statuses["2022-02-09"] == "skipped"  # resumed: the done half is not run again
    assert {statuses[d.isoformat()] for d in ARRIVALS if d.day > 10} <= {"published", "flagged"}
    assert statuses["2022-02-10"] == statuses["2022-02-13"] == "empty"
    assert ledger.read_ledger(root)[date(2022, 2, 9)].run_id == first_run_ids[date(2022, 2, 9)]
    before = snapshot(root)
    report = _artifact(f"backfill-{warehouse_name(root)}")
    assert "| 2022-02-09 | skipped |" in report and "| 2022-02-11 |" in report
    assert "| 2022-02-10 |" not in report and "3 dates without arrivals (empty) are not listed" in report
    assert not ledger.record_path(root, date(2022, 2, 10)).exists()  # no file per empty day of a backfill

    assert all(
        r["status"] in ("skipped", "empty") for r in backfill_flow(START, END, str(landing), str(root))
    )
    backfill_flow(START, END, str(landing), str(root), "all", 2)  # rerun everything: replaced, not duplicated
    assert snapshot(root) == before
    assert not ledger.record_path(root, date(2022, 2, 10)).exists()

    import warehouse.ingest

    real_read = warehouse.ingest.read_landing

    def corrupt(files, arrival_date, source, *limits):  # the 2022-02-11 input can no longer be read
        if arrival_date == date(2022, 2, 11):
            raise OSError("corrupt input: unreadable file")
        return real_read(files, arrival_date, source, *limits)

    monkeypatch.setattr(warehouse.ingest, "read_landing", corrupt)  # in this process: child flow runs
    state = backfill_flow(START, END, str(landing), str(root), "all", 2, "threads", return_state=True)
    assert_only_failed(state, root, before, "corrupt input")

    monkeypatch.setattr(warehouse.ingest, "read_landing", real_read)
    retried = backfill_flow(START, END, str(landing), str(root), "failed", 2)
    assert [r["partition"] for r in retried if r["status"] not in ("skipped", "empty")] == ["2022-02-11"]


def test_partition_flow_without_parameters_takes_yesterday_in_shanghai(prefect_server, tmp_path, monkeypatch):
    from flows.partition import partition_flow

    monkeypatch.setenv("WAREHOUSE_ROOT", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_SOURCE", str(SAMPLE))
    summary = partition_flow()
    expected = ledger.default_arrival_date(datetime.now(UTC))
    assert summary.arrival_date == expected.isoformat() and summary.status == "empty"
    assert ledger.read_ledger(tmp_path)[expected].status == "empty"


def _artifact(key):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        (latest, *_) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort="CREATED_DESC"
        )
    return str(latest.data)


def test_a_terminated_backfill_drops_the_dates_it_had_not_started(monkeypatch):
    """SIGTERM reaches the backfill's main thread as an exception: queued dates must not run on the way out."""
    import os
    import signal
    import threading
    import time

    import flows.backfill

    started = []

    def child(context, day, source, root):
        started.append(day)
        time.sleep(1.0)

    monkeypatch.setattr(flows.backfill, "_child", child)
    days = [date(2022, 1, d) for d in range(1, 11)]
    # a real signal to this process, as SIGTERM is (Prefect's bridge turns it into an exception likewise);
    # Python's own SIGINT handler for the test: a session started in the background inherits SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            flows.backfill._run_children(days, SAMPLE, SAMPLE, 2)
    finally:
        signal.signal(signal.SIGINT, previous)
    time.sleep(1.5)  # the two running dates finish; nothing else may start
    assert len(started) == 2, started


def test_a_backfill_in_worker_processes_fails_only_the_date_whose_audit_failed(
    prefect_server, landing, tmp_path, monkeypatch
):
    """Executor `processes`: 2022-02-11 is published, then its arrivals shrink to one short report, so its
    rerun fails the audit (fewer than half the rows published before) inside a worker process; the backfill
    fails naming that date, the ledger records why, the other dates publish and the old facts stay. The
    rerun replaces its worker processes after each date (two pools: the failure of the first is kept)."""
    import flows.backfill
    from flows.backfill import backfill_flow

    root = tmp_path / "root"
    backfill_flow(START, END, str(landing), str(root), "missing", 2, "processes")
    before = snapshot(root)
    day = landing / "2022-02-11"
    for f in day.iterdir():
        f.unlink()
    (day / "short.txt").write_text(
        "平武县报告\n今年以来，全县开发公益性岗位1200个，新识别纳入监测对象86户302人，持续巩固拓展脱贫攻坚成果。",
        encoding="utf-8",
    )
    monkeypatch.setattr(flows.backfill, "DATES_PER_WORKER_PROCESS", 1)
    state = backfill_flow(START, END, str(landing), str(root), "all", 2, "processes", return_state=True)
    assert_only_failed(state, root, before, "failed its audit")


def assert_only_failed(state, root, before: dict, reason: str) -> None:
    """The backfill failed naming 2022-02-11, the ledger says why, the other dates went on, and the
    failed partition kept what was published before."""
    assert state.is_failed() and "2022-02-11" in str(state.message)
    records = ledger.read_ledger(root)
    assert records[date(2022, 2, 11)].status == "failed" and reason in records[date(2022, 2, 11)].message
    assert {records[d].status for d in (date(2022, 2, 9), date(2022, 2, 12))} <= {"published", "flagged"}
    assert snapshot(root) == before


def test_a_local_backfill_runs_every_date_in_this_process_with_the_facts_of_the_library(
    prefect_server, landing, tmp_path, monkeypatch
):
    """Executor `local`, chosen by the WAREHOUSE_EXECUTOR setting (no parameter): each date one after
    another in the backfill's own process, cleaning and extraction over WAREHOUSE_WORKERS processes; the
    facts of the library run date by date (the executors' equality: test_cluster); a date whose input
    fails is the only failed date. The flow's parameter wins over the setting."""
    import os

    import flows.backfill
    from flows.backfill import backfill_flow
    from warehouse import pipeline

    calls: list[tuple[int, int]] = []
    real_run = pipeline.run_partition

    def spy(*args, **kwargs):
        calls.append((os.getpid(), kwargs["workers"]))
        return real_run(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run_partition", spy)
    monkeypatch.setenv("WAREHOUSE_EXECUTOR", "local")
    monkeypatch.setenv("WAREHOUSE_WORKERS", "2")
    local = tmp_path / "local"
    backfill_flow(START, END, str(landing), str(local), "missing", 2)
    assert calls == [(os.getpid(), 2)] * len(ARRIVALS)
    reference = tmp_path / "library"
    for day in sorted(ARRIVALS):
        files = sorted((landing / day.isoformat()).iterdir())
        real_run(files, day, landing, reference, "library", quality=False)
    assert snapshot(local) == snapshot(reference)
    chosen: list[str] = []
    monkeypatch.setattr(flows.backfill, "_run_here", lambda *a: chosen.append("local") or {})
    monkeypatch.setattr(flows.backfill, "_run_children", lambda *a: chosen.append("threads") or {})
    backfill_flow(START, END, str(landing), str(tmp_path / "threads"), "missing", 2, "threads")
    assert chosen == ["threads"]
    monkeypatch.undo()

    import warehouse.ingest

    real_read = warehouse.ingest.read_landing

    def corrupt(files, arrival_date, source, *limits):
        if arrival_date == date(2022, 2, 11):
            raise OSError("corrupt input: unreadable file")
        return real_read(files, arrival_date, source, *limits)

    monkeypatch.setattr(warehouse.ingest, "read_landing", corrupt)
    monkeypatch.setenv("WAREHOUSE_EXECUTOR", "local")
    before = snapshot(local)
    state = backfill_flow(START, END, str(landing), str(local), "all", 2, return_state=True)
    assert_only_failed(state, local, before, "corrupt input")
