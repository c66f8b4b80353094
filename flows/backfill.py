"""Backfill of a date range, at most N dates at once, by one of five executors (`--executor`, the flow's
`executor` parameter, else ``WAREHOUSE_EXECUTOR``):

- `local`: each date is one `partition` task run in the backfill's own process, one date after another,
  its cleaning and extraction spread over ``WAREHOUSE_WORKERS`` processes (as `warehouse run` does): no
  pool of date processes, for a small range or a machine where one date at a time is enough;
- `processes` (the default): each date is one `partition` task of the backfill run, executed in a pool of N
  worker processes (Prefect's ProcessPoolTaskRunner), every step of the partition inside it: every core
  works and the per-date orchestration is one task, not a flow run of five;
- `threads`: each date is a child `partition_flow` run (its own flow run with ingest, clean, extract,
  validate and audit-publish tasks) in a thread of the backfill's process;
- `pool`: each date is a flow run of the `partition` deployment (`POOL_DEPLOYMENT`, in prefect.yaml),
  picked up by whichever worker of its work pool is free (several processes or machines; `root` and
  `source` must be paths every worker sees). At most N are created and not finished at a time. They are
  runs of their own, not child runs: a worker's run goes on when the backfill's process dies;
- `dask://HOST:PORT`: each date is one `partition` task on the workers of a running `dask.distributed`
  cluster (prefect-dask's DaskTaskRunner; `dask scheduler` and `dask worker` processes, on this machine or
  others). Its workers import this checkout's `flows` and `warehouse`, and see `source` and `root` at the
  same paths (a shared or mounted folder); they report to this run's Prefect API. Dates run at most as
  many at once as the cluster has worker threads.

The snapshot and the Data Docs are rebuilt once, at the end, each in a process of its own (so their memory
is not added to what the backfill holds by then).

Which dates run is decided by `warehouse.ledger.plan` from the partition ledger (missing, failed or all).
Dates without arrivals are recorded as empty (once: an unchanged empty record is not rewritten). A failed
partition does not stop the others; the backfill ends failed naming the failed dates. Rerunning after an
interruption finishes only what is missing. If the backfill's own process is terminated, its child runs
still running are marked Crashed with it, so none is left Running.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import date
from typing import Any, cast

from prefect import State, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.runtime import flow_run, task_run
from prefect.tasks import exponential_backoff

from flows.partition import (
    api_for_workers,
    artifact_key,
    docs_task,
    final_state,
    local_zone,
    partition_flow,
    retry_on_io_error,
    snapshot_task,
    warehouse_of,
    writable_root,
)
from flows.server import crash_orphaned_children, crash_unfinished
from warehouse import ledger, pipeline
from warehouse.location import Root, parse_root
from warehouse.pipeline import AuditFailed
from warehouse.settings import DASK, Settings, check_executor, dask_address
from warehouse.workers import settle_memory


class _ThreadTimeoutNotice(logging.Filter):
    """Child runs execute in worker threads, where Prefect warns on every task that its timeout cannot
    interrupt blocking I/O (the timeout still applies when the call returns). Said once here instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "running in a worker thread" not in record.getMessage()


logging.getLogger("prefect.task_runs").addFilter(_ThreadTimeoutNotice())


def _backfill_run_name() -> str:
    p = flow_run.parameters
    name = warehouse_of(p.get("root") or Settings.from_env().root)
    return f"backfill-{p['start']}-to-{p['end']}-{p.get('mode', 'missing')}@{name}"


def _crash_children(flow: Any, parent: Any, state: Any) -> None:  # a Prefect FlowStateHook
    """on_crashed: child partition runs share this process, so they died with it; mark the ones still
    running Crashed now rather than leaving them to the heartbeat automation."""
    from prefect.client.schemas.filters import FlowRunFilterParentFlowRunId

    message = f"its backfill {parent.name} crashed: {state.message}"
    crash_unfinished(
        lambda client, run: message, parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
    )


@flow(name="warehouse-backfill", flow_run_name=_backfill_run_name, on_crashed=[_crash_children])  # type: ignore[list-item]
def backfill_flow(
    start: date,
    end: date,
    source: str | None = None,
    root: str | None = None,
    mode: str = "missing",
    max_concurrency: int = 2,
    executor: str | None = None,
) -> list[dict[str, Any]]:
    """Process every arrival date in [start, end] that `mode` selects (missing, failed or all), at most
    `max_concurrency` at once, by `executor` (default ``WAREHOUSE_EXECUTOR``, else processes): in this
    process one date after another (local), in worker processes (processes), as child flow runs in threads
    (threads), as runs of the partition deployment (pool) or on a Dask cluster (dask://HOST:PORT)."""
    settings = Settings.from_env()
    executor = executor or settings.executor
    check_executor(executor)
    given, dst = parse_root(source or settings.source, "source"), writable_root(root or settings.root)
    ledger.recover(dst)  # a publish interrupted by a crash is completed first
    orphans = crash_orphaned_children()
    if orphans:
        get_run_logger().warning("marked Crashed, their backfill had ended: %s", ", ".join(orphans))
    src = local_zone(given, dst, (start, end))  # s3://: the range mirrored
    items = ledger.plan(start, end, src, dst, mode)
    known = ledger.read_ledger(dst)  # one listing: a date never recorded is not looked up one by one
    for item in items:
        if item.action == "empty" and item.arrival_date in known:
            ledger.record_empty(dst, item.arrival_date, only_changes=True)
    # each date's files relative to the zone: a worker elsewhere reads them from its own copy or mirror
    to_run = [
        replace(item, files=tuple(f.relative_to(src) for f in item.files))
        for item in items
        if item.action == "run"
    ]
    items = [replace(item, files=()) for item in items]  # the report needs no file lists: not held twice
    zone = str(given)
    if executor == "local":
        errors = _run_here(to_run, zone, dst, settings.workers)
    elif executor == "processes":
        errors = _run_in_processes(to_run, zone, dst, max_concurrency)
    elif executor == "pool":
        errors = _run_on_pool(to_run, zone, dst, max_concurrency)
    elif executor.startswith(DASK):
        errors = _run_on_dask(to_run, zone, dst, dask_address(executor))
    else:
        errors = _run_children([item.arrival_date for item in to_run], zone, dst, max_concurrency)
    table = ledger.report(items, dst, errors)
    snapshot_task(str(dst), own_process=True)  # consumers see the new partitions together
    if to_run:
        docs_task(str(dst), own_process=True)
    create_markdown_artifact(
        ledger.report_markdown(table, f"Backfill {start}..{end} ({mode})"),
        key=artifact_key("backfill", dst),
        description=f"backfill {start}..{end} ({mode}): {len(to_run)} partitions run, {len(errors)} failed",
    )
    get_run_logger().info("backfill %s..%s: %d run, %d failed", start, end, len(to_run), len(errors))
    if errors:
        raise RuntimeError("backfill failed for " + ", ".join(d.isoformat() for d in sorted(errors)))
    return table


@task(
    name="partition",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=1),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on_io_error,
)
def partition_task(day: date, files: list[str], source: str, root: str, workers: int = 1) -> State:
    """Every step of one date in this worker process, cleaning and extraction in `workers` processes (the
    quality check runs; its Data Docs page is built at the end of the backfill). Failures are recorded in
    the ledger; the audit is an artifact."""
    settings = Settings.from_env()
    dst, run_id, started = parse_root(root), str(task_run.get_id() or "local"), time.perf_counter()
    key = artifact_key("audit", root, day)
    try:
        src = local_zone(parse_root(source, "source"), dst, day)
        paths = [src / f for f in files]  # relative to the zone (absolute ones stay as they are)
        result = pipeline.run_partition(
            paths, day, src, dst, run_id, limits=settings.limits, workers=workers, docs=False
        )
    except AuditFailed as failed:
        create_markdown_artifact(
            pipeline.audit_markdown(failed.summary), key=key, description="audit: failed"
        )
        ledger.record_failure(dst, day, str(failed), run_id, seconds=time.perf_counter() - started)
        raise
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        ledger.record_failure(dst, day, message, run_id, seconds=time.perf_counter() - started)
        raise
    finally:
        settle_memory()  # a pool's worker process runs ~100 dates: what each left is given back
    create_markdown_artifact(pipeline.audit_markdown(result), key=key, description=f"audit: {result.status}")
    return final_state(result)


DATES_PER_WORKER_PROCESS = 100  # then the pool's processes are replaced (Prefect's engine grows in them)


def _run_here(items: list[ledger.PlanItem], source: str, root: Root, workers: int) -> dict[date, str]:
    """One `partition` task per date in this process, one after another; the failed dates and why."""
    return _failures(
        {
            item.arrival_date: partition_task(
                **_parameters(item, source, root), workers=workers, return_state=True
            )
            for item in items
        }
    )


def _failures(states: dict[date, State]) -> dict[date, str]:
    """The dates whose final state is not Completed, and why."""
    return {day: str(s.message or s.name) for day, s in states.items() if not s.is_completed()}


def _run_in_processes(items: list[ledger.PlanItem], source: str, root: Root, workers: int) -> dict[date, str]:
    """One `partition` task per date in `workers` processes; the failed dates and why. A pool runs at
    most `DATES_PER_WORKER_PROCESS` dates per process, then new processes take the next dates: a worker
    process grew by ~0.2 MB a date (518 -> 606 MB over 500 dates), so a long backfill's memory is that of
    a short one."""
    if not items:
        return {}
    errors: dict[date, str] = {}
    workers = max(1, workers)
    size = workers * DATES_PER_WORKER_PROCESS
    with api_for_workers():
        for start in range(0, len(items), size):
            errors |= _run_in_pool(items[start : start + size], source, root, workers)
    return errors


def _run_in_pool(items: list[ledger.PlanItem], source: str, root: Root, workers: int) -> dict[date, str]:
    from prefect.task_runners import ProcessPoolTaskRunner

    with ProcessPoolTaskRunner(max_workers=workers) as runner:
        return _submit_dates(runner, items, source, root)


def _run_on_dask(items: list[ledger.PlanItem], source: str, root: Root, address: str) -> dict[date, str]:
    """One `partition` task per date on the Dask cluster at `address`; the failed dates and why."""
    if not items:
        return {}
    from prefect_dask import DaskTaskRunner

    with api_for_workers(), DaskTaskRunner(address=address) as runner:
        return _submit_dates(runner, items, source, root)


def _submit_dates(runner: Any, items: list[ledger.PlanItem], source: str, root: Root) -> dict[date, str]:
    """One `partition` task per date on an entered task runner, all awaited; the failed dates and why."""
    futures = {
        item.arrival_date: runner.submit(partition_task, _parameters(item, source, root)) for item in items
    }
    for future in futures.values():
        future.wait()
    return _failures({day: future.state for day, future in futures.items()})


POOL_DEPLOYMENT = "warehouse-partition/partition"
POOL_POLL_SECONDS = 1.0


def _run_on_pool(items: list[ledger.PlanItem], source: str, root: Root, at_once: int) -> dict[date, str]:
    """One flow run of `POOL_DEPLOYMENT` per date, at most `at_once` created and not finished at a time;
    the failed dates and why."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    waiting = list(reversed(items))
    running: dict[date, Any] = {}  # date: flow run id
    errors: dict[date, str] = {}
    tags = [f"backfill:{flow_run.get_id()}"]
    with get_client(sync_client=True) as client:
        while waiting or running:
            while waiting and len(running) < max(1, at_once):
                item = waiting.pop()
                parameters = {"arrival_date": item.arrival_date, "source": str(source), "root": str(root)}
                parameters["publish_snapshot"] = False  # the backfill builds it once, at the end
                run = run_deployment(
                    POOL_DEPLOYMENT, parameters=parameters, timeout=0, as_subflow=False, tags=tags
                )
                running[item.arrival_date] = cast(FlowRun, run).id
            time.sleep(POOL_POLL_SECONDS)
            for day, run_id in list(running.items()):
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    del running[day]
                    if not state.is_completed():
                        errors[day] = str(state.message or state.name)
    return errors


def _parameters(item: ledger.PlanItem, source: str, root: Root) -> dict[str, Any]:
    files = [str(f) for f in item.files]
    return {"day": item.arrival_date, "files": files, "source": str(source), "root": str(root)}


def _run_children(days: list[date], source: str, root: Root, max_concurrency: int) -> dict[date, str]:
    """One child run per date, at most `max_concurrency` at once; the failed dates and why. When this
    process is told to stop (SIGTERM), dates not started yet are dropped instead of run on the way out: the
    main thread wakes every 0.1 s to take the signal (it may land on another thread)."""
    stop = threading.Event()

    def guarded(context: contextvars.Context, day: date) -> Any:
        return None if stop.is_set() else _child(context, day, source, root)

    pool = ThreadPoolExecutor(max_workers=max(1, max_concurrency))
    try:
        futures = {day: pool.submit(guarded, contextvars.copy_context(), day) for day in days}
        pending = set(futures.values())
        while pending:
            _, pending = wait(pending, timeout=0.1)
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return _failures({day: future.result() for day, future in futures.items()})  # prefect States


def _child(context: contextvars.Context, day: date, source: str, root: Root) -> Any:
    """One partition as a child flow run, in the parent's context so the UI links it to the backfill."""
    return context.run(partition_flow, day, str(source), str(root), None, False, return_state=True)
