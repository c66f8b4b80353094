"""Backfill of a date range: one child `partition_flow` run per date, at most N at once.

Which dates run is decided by `warehouse.ledger.plan` from the partition ledger (missing, failed or all).
Dates without arrivals are recorded as empty. A failed partition does not stop the others; the backfill
ends failed naming the failed dates. Rerunning after an interruption finishes only what is missing.
"""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.partition import partition_flow, snapshot_task
from warehouse import ledger
from warehouse.settings import Settings


class _ThreadTimeoutNotice(logging.Filter):
    """Child runs execute in worker threads, where Prefect warns on every task that its timeout cannot
    interrupt blocking I/O (the timeout still applies when the call returns). Said once here instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "running in a worker thread" not in record.getMessage()


logging.getLogger("prefect.task_runs").addFilter(_ThreadTimeoutNotice())


@flow(name="warehouse-backfill", flow_run_name="backfill-{start}-to-{end}-{mode}")
def backfill_flow(
    start: date,
    end: date,
    source: str | None = None,
    root: str | None = None,
    mode: str = "missing",
    max_concurrency: int = 2,
) -> list[dict[str, Any]]:
    """Process every arrival date in [start, end] that `mode` selects (missing, failed or all)."""
    settings = Settings.from_env()
    src, dst = Path(source or settings.source), Path(root or settings.root)
    items = ledger.plan(start, end, src, dst, mode)
    for item in items:
        if item.action == "empty":
            ledger.record_run(dst, item.arrival_date, [], src, summary=None)
    to_run = [item for item in items if item.action == "run"]
    with ThreadPoolExecutor(max_workers=max(1, max_concurrency)) as pool:
        futures = {
            item.arrival_date: pool.submit(_child, contextvars.copy_context(), item.arrival_date, src, dst)
            for item in to_run
        }
    errors = {}
    for day, future in futures.items():
        state: Any = future.result()  # a prefect State (return_state=True)
        if not state.is_completed():
            errors[day] = str(state.message or state.name)
    table = ledger.report(items, dst, errors)
    snapshot_task(str(dst))  # consumers see the new partitions together
    create_table_artifact(
        table, key="backfill", description=f"backfill {start}..{end} ({mode}): {len(to_run)} partitions run"
    )
    get_run_logger().info("backfill %s..%s: %d run, %d failed", start, end, len(to_run), len(errors))
    if errors:
        raise RuntimeError("backfill failed for " + ", ".join(d.isoformat() for d in sorted(errors)))
    return table


def _child(context: contextvars.Context, day: date, source: Path, root: Path) -> Any:
    """One partition as a child flow run, in the parent's context so the UI links it to the backfill."""
    return context.run(partition_flow, day, str(source), str(root), None, False, return_state=True)
