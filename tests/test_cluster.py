"""A backfill on a real `dask.distributed` cluster: `dask scheduler` and two `dask worker` processes on
127.0.0.1, started here and stopped after. The facts equal those of a local backfill of the same dates."""

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import PROJECT, SAMPLE, _free_port, _stop, sample_landing

from warehouse import ledger, storage

pytestmark = pytest.mark.prefect
START, END = date(2022, 2, 8), date(2022, 2, 12)
ARRIVALS = {date(2022, 2, 9): "2022-02-09", date(2022, 2, 11): "2022-05-17", date(2022, 2, 12): "2021-12-29"}


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """tcp://127.0.0.1:PORT of a scheduler with two single-threaded worker processes. The workers import
    this checkout (PYTHONPATH) and know nothing of the Prefect server: the task runner tells them."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env["PYTHONPATH"] = str(PROJECT)
    dask = str(Path(sys.executable).parent / "dask")  # the `dask` command of this venv
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = [dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1"]
    worker += ["--no-dashboard", "--local-directory", str(folder / "workers")]
    processes = []
    with (folder / "dask.log").open("wb") as log:
        for command in (scheduler, worker):
            processes.append(
                subprocess.Popen(
                    command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
            time.sleep(0.5)
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture
def landing(tmp_path):
    return sample_landing(tmp_path, ARRIVALS)


def facts(root) -> pl.DataFrame:
    table = storage.read_table(root, "curated", "indicators")
    assert table is not None
    return table.sort("fact_id")


def test_a_backfill_on_a_dask_cluster_runs_its_dates_on_the_workers_with_the_facts_of_a_local_one(
    prefect_server, dask_cluster, landing, tmp_path
):
    from distributed import Client, get_task_stream

    from flows.backfill import backfill_flow

    local, remote = tmp_path / "local", tmp_path / "cluster"
    backfill_flow(START, END, str(landing), str(local), "missing", 2, "processes")
    with Client(dask_cluster) as client, get_task_stream(client) as stream:
        table = backfill_flow(
            START, END, str(landing), str(remote), "missing", 2, "dask://" + dask_cluster[6:]
        )
    statuses = {r["partition"]: r["status"] for r in table}
    assert {statuses[d.isoformat()] for d in ARRIVALS} <= {"published", "flagged"}
    ran = [t for t in stream.data if str(t["key"]).startswith("partition")]
    assert len(ran) == len(ARRIVALS) and len({t["worker"] for t in ran}) == 2  # both workers ran dates
    assert facts(remote).equals(facts(local))
    assert set(ledger.read_ledger(remote)) == set(ARRIVALS)


def test_a_partition_cleaned_and_extracted_on_a_dask_cluster_has_the_rows_of_a_local_run(
    prefect_server, dask_cluster, tmp_path, monkeypatch
):
    """The executor setting dask://HOST:PORT sends a partition's cleaning and extraction to the cluster:
    its five documents go out as chunks (about one per worker thread), both workers clean and extract
    one, and the tables written are row for row those of a run on this machine."""
    import shutil

    from distributed import Client, get_task_stream

    from flows.partition import run_flow

    day = tmp_path / "landing" / "2022-02-09"
    day.mkdir(parents=True)
    for f in SAMPLE.rglob("*.txt"):
        shutil.copy(f, day / f.name)
    local, remote = tmp_path / "local", tmp_path / "cluster"
    run_flow(str(day.parent), str(local))
    monkeypatch.setenv("WAREHOUSE_EXECUTOR", "dask://" + dask_cluster[len("tcp://") :])
    with Client(dask_cluster) as client, get_task_stream(client) as stream:
        run_flow(str(day.parent), str(remote))
    ran = [t for t in stream.data if str(t["key"]).startswith("clean_extract_task")]
    assert len(ran) == 2 and len({t["worker"] for t in ran}) == 2  # chunks of 3 and 2 documents
    assert facts(remote).equals(facts(local)) and facts(local).height > 0
    for layer, table in (("staged", "documents"), ("staged", "mentions")):
        mine, theirs = storage.read_table(remote, layer, table), storage.read_table(local, layer, table)
        assert mine is not None and theirs is not None and mine.equals(theirs)
