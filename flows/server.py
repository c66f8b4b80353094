"""What a Prefect server needs before it runs the warehouse's deployments, set up idempotently.

- the process work pool the deployments in `prefect.yaml` name;
- an automation that marks a flow run Crashed when its heartbeats stop (its process was SIGKILLed, OOM-killed
  or its machine was lost). Setting the Crashed state releases the run's deployment concurrency slot, so the
  next `daily` or `backfill` run is not held behind a run that will never finish.

Flow-run processes send a heartbeat every `HEARTBEAT_SECONDS` (the deployments set
`PREFECT_FLOWS_HEARTBEAT_FREQUENCY` in their job variables); a run that went Pending or Running or sent a
heartbeat, and then no further event and no final state for `crash_after` seconds, is marked Crashed. Detection therefore takes between `crash_after - HEARTBEAT_SECONDS`
and `crash_after` seconds after the process died, plus the server's proactive-trigger granularity (5 s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from prefect.automations import Automation

POOL = "warehouse-pool"
HEARTBEAT_SECONDS = 30  # Prefect's minimum
CRASH_AFTER_SECONDS = 90
AUTOMATION = "warehouse: crash flow runs without heartbeats"
FLAGGED = "Flagged"  # the Completed state of a partition published with warnings (flows.partition)
# events are named after the state *name*: every final state name a run of ours can end in
STARTED_EVENTS = ("Pending", "Running", "heartbeat")  # each must be followed by a later one or a final one
FINAL_EVENTS = ("Completed", "Cached", FLAGGED, "Failed", "TimedOut", "Cancelled", "Crashed")


@dataclass(frozen=True)
class SetupResult:
    pool: Literal["created", "exists"]
    automation: Literal["created", "updated"]


def crash_automation(crash_after: int = CRASH_AFTER_SECONDS) -> Automation:
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    if crash_after <= HEARTBEAT_SECONDS:
        raise ValueError(f"crash_after must exceed the heartbeat interval ({HEARTBEAT_SECONDS} s)")
    return Automation(
        name=AUTOMATION,
        description=(
            f"A flow run that went Pending, Running or sent a heartbeat and then nothing for {crash_after} s, "
            "without reaching a final state, lost its process: mark it Crashed (this releases its "
            "concurrency slot)."
        ),
        trigger=EventTrigger(
            # from Pending on, not only from the first heartbeat: a run whose process is lost while it
            # starts (pull step, imports) is caught too
            after={f"prefect.flow-run.{s}" for s in STARTED_EVENTS},
            expect={
                *(f"prefect.flow-run.{s}" for s in STARTED_EVENTS[1:]),
                *(f"prefect.flow-run.{s}" for s in FINAL_EVENTS),
            },
            match={"prefect.resource.id": "prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=crash_after),
        ),
        actions=[
            ChangeFlowRunState(
                name=None,
                state=StateType.CRASHED,
                message=f"no heartbeat for {crash_after} s: the flow run's process is gone",
                force=False,
            )
        ],
    )


def setup(pool: str = POOL, crash_after: int = CRASH_AFTER_SECONDS) -> SetupResult:
    """Create the work pool if missing and create or update the crash automation (safe to run again)."""
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            pool_status: Literal["created", "exists"] = "created"
        except ObjectAlreadyExists:
            pool_status = "exists"
    wanted = crash_automation(crash_after)
    try:
        existing: Any = Automation.read(name=AUTOMATION)
    except ValueError:
        wanted.create()
        return SetupResult(pool_status, "created")
    wanted.id = existing.id
    wanted.update()
    return SetupResult(pool_status, "updated")


def worker_checkout(directory: str | None = None) -> dict[str, str]:
    """Deployment pull step: run from the checkout of the worker that picked the run up.

    The flow-run process imports this package from the worker's own install, so its checkout is where the
    code is, wherever that machine keeps it; ``WAREHOUSE_CHECKOUT`` (or `directory`) overrides it. Relative
    paths in deployment parameters (``source``, ``root``) are relative to this directory."""
    import os
    from pathlib import Path

    chosen = Path(directory or os.environ.get("WAREHOUSE_CHECKOUT") or Path(__file__).resolve().parents[1])
    if not (chosen / "prefect.yaml").is_file():
        raise FileNotFoundError(f"{chosen} is not a warehouse checkout (no prefect.yaml)")
    os.chdir(chosen)
    return {"directory": str(chosen)}


def crash_unfinished(reason: Callable[[Any, Any], str | None], **filters: Any) -> list[str]:
    """Mark Crashed each Running or Pending flow run that matches `filters` (fields of Prefect's
    `FlowRunFilter`, plus `flow_filter`) and for which `reason(client, run)` gives a message (None leaves
    the run alone). Returns the names marked."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    flow_filter = filters.pop("flow_filter", None)
    unfinished = FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
    runs = FlowRunFilter(state=FlowRunFilterState(type=unfinished), **filters)
    marked = []
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_filter=flow_filter, flow_run_filter=runs):
            message = reason(client, run)
            if message is not None:
                client.set_flow_run_state(run.id, Crashed(message=message), force=True)
                marked.append(run.name)
    return marked


def crash_orphaned_children(flow_name: str = "warehouse-partition") -> list[str]:
    """Mark Crashed the child runs of `flow_name` still Running or Pending under a parent run that has
    already ended (its process died before the child's first heartbeat reached the server, so the crash
    automation never saw it). Run by backfills and full runs when they start. Returns the names marked."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilterParentTaskRunId

    def parent_ended(client: Any, child: Any) -> str | None:
        parent_run_id = client.read_task_run(child.parent_task_run_id).flow_run_id
        parent = client.read_flow_run(parent_run_id) if parent_run_id else None
        if parent is None or parent.state is None or not parent.state.is_final():
            return None
        return f"its parent run {parent.name} ended {parent.state_name} while it was running"

    return crash_unfinished(
        parent_ended,
        flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
        parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=False),
    )
