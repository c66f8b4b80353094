"""The warehouse on a real Prefect server, as an operator runs it: `server-setup`, `prefect deploy --all`,
workers (the `python -m warehouse worker` supervisor) in their own processes, runs that the server's scheduler
creates, a run whose processes are SIGKILLed, and one SIGTERM. Every test fails if the server logs an error."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import PROJECT, PrefectServer, sample_landing

from flows.server import CRASH_AFTER_SECONDS
from warehouse import ledger, snapshot
from warehouse.settings import warehouse_name

pytestmark = pytest.mark.prefect
SHANGHAI = ZoneInfo("Asia/Shanghai")
SAMPLE_RANGE = {
    "start": "2020-10-01",
    "end": "2024-01-31",
    "source": "sample/landing",
}  # 5 dates with arrivals
FLOW_NAMES = {
    "daily": "warehouse-partition",
    "backfill": "warehouse-backfill",
    "partition": "warehouse-partition",
    "sample-run": "warehouse-run",
}


def cli(server: PrefectServer, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        env=server.env(),
        cwd=PROJECT,
        timeout=300,
        **kwargs,
    )


class Worker:
    """`python -m warehouse worker` started from a folder that is not the checkout (the pull step finds it)."""

    def __init__(self, server: PrefectServer, folder, *extra: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "worker.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "warehouse", "worker", "--pool", "warehouse-pool", *extra],
                env=server.env(PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5"),
                cwd=folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tree(self) -> list[int]:
        """The supervisor, the Prefect worker and the flow-run processes it started."""
        pids, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            with contextlib.suppress(OSError):
                todo += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return pids

    def kill_everything(self) -> None:
        for pid in self.tree():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill_everything()


def wait_for(predicate, timeout: float, every: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def runs_of(client, deployment_id, states=None):
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )

    run_filter = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=states)) if states else None
    )
    return client.read_flow_runs(
        flow_run_filter=run_filter,
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
    )


@pytest.fixture(scope="module")
def deployed(prefect_server):
    """`python -m warehouse server-setup` and `prefect deploy --all`, as the README says."""
    offset = prefect_server.log_offset()
    setup = cli(prefect_server, "warehouse", "server-setup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "crash automation" in setup.stdout
    again = cli(prefect_server, "warehouse", "server-setup")  # idempotent
    assert again.returncode == 0 and "exists" in again.stdout and "updated" in again.stdout
    done = cli(prefect_server, "prefect", "--no-prompt", "deploy", "--all")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from prefect.client.orchestration import get_client

    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text())
    with get_client(sync_client=True) as client:
        deployments = {
            spec["name"]: client.read_deployment_by_name(f"{FLOW_NAMES[spec['name']]}/{spec['name']}")
            for spec in config["deployments"]
        }
    for deployment in deployments.values():
        assert deployment.work_pool_name == "warehouse-pool"
        assert str(PROJECT) not in str(deployment.pull_steps)  # nothing of the deploying checkout's path
        assert deployment.job_variables["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    yield deployments
    assert prefect_server.errors_since(offset) == []


def test_the_crash_automation_knows_every_final_state_our_runs_end_in():
    """Prefect names state events after the state's name: a run ending `Flagged` must count as finished."""
    from flows.server import FLAGGED, crash_automation

    trigger = crash_automation().trigger
    assert f"prefect.flow-run.{FLAGGED}" in trigger.expect
    assert {
        f"prefect.flow-run.{s}" for s in ("Completed", "Failed", "Crashed", "Cancelled")
    } <= trigger.expect
    assert trigger.after == {f"prefect.flow-run.{s}" for s in ("Pending", "Running", "heartbeat")}
    assert "prefect.flow-run.Pending" not in trigger.expect  # Pending must be followed by Running or more
    assert trigger.within.total_seconds() == 90
    with pytest.raises(ValueError, match="heartbeat interval"):
        crash_automation(30)


def test_scheduler_creates_daily_runs_and_a_worker_completes_one(prefect_server, deployed, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import IntervalSchedule

    offset = prefect_server.log_offset()
    daily = deployed["daily"]
    (schedule,) = daily.schedules
    assert schedule.schedule.timezone == "Asia/Shanghai" and schedule.active
    assert "arrival_date" not in daily.parameters  # a run without parameters takes yesterday
    with get_client(sync_client=True) as client:
        upcoming = wait_for(
            lambda: runs_of(client, daily.id, ["SCHEDULED"]), 90, 1, "the scheduler's daily runs"
        )
        times = sorted(r.expected_start_time.astimezone(SHANGHAI) for r in upcoming)
        print("upcoming daily runs (Asia/Shanghai):", [t.isoformat() for t in times])
        assert len(times) >= 3 and all(r.auto_scheduled for r in upcoming)
        assert {(t.hour, t.minute, t.second) for t in times} == {(6, 30, 0)}
        assert all(b - a == timedelta(days=1) for a, b in zip(times, times[1:], strict=False))
        assert times[0] > datetime.now(UTC) and times[0] - datetime.now(UTC) <= timedelta(days=1)
        # seen: now keep the test's workers from ever running a real daily run into the checkout's ./data
        client.pause_deployment(daily.id)

        # the same deployment, scheduled 15 s from now: the scheduler creates the run, a worker runs it
        root = tmp_path / "root"
        soon = client.create_deployment(
            flow_id=daily.flow_id,
            name="daily-soon",
            entrypoint=daily.entrypoint,
            pull_steps=daily.pull_steps,
            work_pool_name=daily.work_pool_name,
            job_variables=daily.job_variables,
            parameters={"arrival_date": "2022-02-09", "source": "sample/landing", "root": str(root)},
            schedules=[
                DeploymentScheduleCreate(
                    schedule=IntervalSchedule(
                        interval=timedelta(hours=1), anchor_date=datetime.now(UTC) + timedelta(seconds=15)
                    ),
                    active=True,
                )
            ],
        )
        worker = Worker(prefect_server, tmp_path / "worker")
        try:
            finished = wait_for(
                lambda: [r for r in runs_of(client, soon) if r.state and r.state.is_final()],
                240,
                1,
                "a scheduled run to finish",
            )
            run = finished[0]
            assert run.auto_scheduled, "the server's scheduler created it"
            assert run.state.is_completed() and run.state_name in ("Completed", "Flagged"), run.state
            assert run.name == f"partition-2022-02-09@{warehouse_name(root)}"
            record = ledger.read_record(root, date(2022, 2, 9))
            assert record is not None and record.status in ("published", "flagged") and record.facts > 0
            assert record.run_id == str(run.id) and snapshot.is_current(root)

            # one SIGTERM stops an idle worker
            worker.process.send_signal(signal.SIGTERM)
            assert worker.process.wait(30) == 0
        finally:
            worker.close()
    assert prefect_server.errors_since(offset) == []


def test_a_sigkilled_backfill_is_marked_crashed_and_frees_its_slot(prefect_server, deployed, tmp_path):
    from prefect.client.orchestration import get_client

    offset = prefect_server.log_offset()
    backfill = deployed["backfill"]
    root = tmp_path / "root"
    parameters = SAMPLE_RANGE | {"root": str(root)}
    worker = Worker(prefect_server, tmp_path / "worker-1")
    try:
        with get_client(sync_client=True) as client:
            first = trigger(client, deployed["backfill"], parameters)

            def a_partition_is_running():
                running = client.read_flow_run(first.id).state_name == "Running"
                children = [r for r in _children(client, first.id) if r.state_name == "Running"]
                return running and children

            wait_for(a_partition_is_running, 180, 0.2, "the backfill's first partition to run")
            worker.kill_everything()  # a lost machine: worker and flow-run processes, SIGKILL
            killed = time.monotonic()
            crashed = wait_for(
                lambda: (r := client.read_flow_run(first.id)).state_name != "Running" and r,
                CRASH_AFTER_SECONDS + 60,
                1,
                "the killed backfill to be marked Crashed",
            )
            seconds_to_crash = time.monotonic() - killed
            print(f"SIGKILLed backfill marked {crashed.state_name} after {seconds_to_crash:.1f} s")
            assert crashed.state_name == "Crashed" and "heartbeat" in crashed.state.message
            assert seconds_to_crash <= CRASH_AFTER_SECONDS + 15
            limit = client.read_deployment(backfill.id).global_concurrency_limit
            assert limit is not None and limit.limit == 1 and limit.active_slots == 0  # slot freed

            # the next backfill gets the slot and finishes what the crash left
            worker = Worker(prefect_server, tmp_path / "worker-2")
            asked = time.monotonic()
            second = trigger(client, deployed["backfill"], parameters)
            done = wait_for(
                lambda: (r := client.read_flow_run(second.id)).state and r.state.is_final() and r,
                240,
                1,
                "the next backfill to finish",
            )
            print(
                f"next backfill finished {done.state_name} {time.monotonic() - asked:.1f} s after it was asked"
            )
            assert done.state.is_completed(), done.state
            # children of the killed run: Crashed by the automation, or by the next backfill when their
            # process died before their first heartbeat reached the server
            assert {r.state_name for r in _children(client, first.id)} == {"Crashed"}
            records = ledger.read_ledger(root)
            assert {r.status for r in records.values() if r.status != "empty"} <= {"published", "flagged"}
            assert len([r for r in records.values() if r.status != "empty"]) == 5
            assert not list((root / "_ledger").glob("*.publishing.json")) and snapshot.is_current(root)
    finally:
        worker.close()
    assert prefect_server.errors_since(offset) == []


def test_one_sigterm_stops_the_worker_and_ends_its_runs_cleanly(prefect_server, deployed, tmp_path):
    from prefect.client.orchestration import get_client

    offset = prefect_server.log_offset()
    parameters = SAMPLE_RANGE | {"root": str(tmp_path / "root")}
    worker = Worker(prefect_server, tmp_path / "worker")
    try:
        with get_client(sync_client=True) as client:
            run = trigger(client, deployed["backfill"], parameters)
            wait_for(
                lambda: [r for r in _children(client, run.id) if r.state_name == "Running"],
                180,
                0.2,
                "a partition of the backfill to run",
            )
            signalled = time.monotonic()
            worker.process.send_signal(signal.SIGTERM)  # what systemd and Kubernetes send, once
            assert worker.process.wait(40) == 0
            stopped = time.monotonic() - signalled
            ended = client.read_flow_run(run.id)
            print(f"worker stopped {stopped:.1f} s after one SIGTERM; backfill {ended.state_name}")
            assert ended.state_name == "Crashed" and "termination signal" in ended.state.message
            wait_for(
                lambda: all(r.state.is_final() for r in _children(client, run.id)),
                10,
                0.5,
                "its partitions to end",
            )
            limit = client.read_deployment(run.deployment_id).global_concurrency_limit
            assert limit.active_slots == 0
    finally:
        worker.close()
    assert prefect_server.errors_since(offset) == []


def trigger(client, deployment, parameters):
    """`prefect deployment run`: a flow run of `deployment` for the workers to pick up."""
    return client.create_flow_run_from_deployment(deployment.id, parameters=parameters)


def _children(client, parent_id):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id]))
    )


def test_two_workers_on_one_pool_share_one_backfill(prefect_server, deployed, tmp_path):
    """Executor `pool`: the backfill creates a run of the `partition` deployment per date, two at a time;
    two workers (one run at a time each) take them, both run dates, every date is published once and
    the snapshot is built at the end by the backfill."""
    from prefect.client.orchestration import get_client

    from flows.backfill import backfill_flow

    offset = prefect_server.log_offset()
    days = {"2022-02-09": "2022-02-09", "2022-02-10": "2022-05-17", "2022-02-11": "2021-12-29"}
    source, root = sample_landing(tmp_path, days), tmp_path / "root"
    workers = [Worker(prefect_server, tmp_path / f"w{i}", "--limit", "1", "--name", f"w{i}") for i in (1, 2)]
    try:
        table = backfill_flow(
            date(2022, 2, 9), date(2022, 2, 11), str(source), str(root), "missing", 2, "pool"
        )
    finally:
        for worker in workers:
            worker.close()
    assert {r["partition"]: r["status"] in ("published", "flagged") for r in table} == dict.fromkeys(
        days, True
    )
    with get_client(sync_client=True) as client:
        runs = runs_of(client, deployed["partition"].id)
    mine = [r for r in runs if r.parameters.get("root") == str(root)]
    assert len(mine) == 3 and all(r.state.is_completed() for r in mine)
    assert {r.labels["prefect.worker.name"] for r in mine} == {"w1", "w2"}  # both workers ran dates
    records = ledger.read_ledger(root)
    assert {d.isoformat() for d in records} == set(days)
    assert {str(records[date.fromisoformat(d)].run_id) for d in days} == {str(r.id) for r in mine}
    assert snapshot.is_current(root)
    assert prefect_server.errors_since(offset) == []
