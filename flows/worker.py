"""`prefect worker start` under a supervisor that makes one SIGTERM a graceful stop.

systemd and Kubernetes send one SIGTERM, then SIGKILL after a grace period. Prefect's process worker turns
SIGTERM into SIGINT for itself, and stopping cancels its task group: the flow-run processes it started
(each in a session of its own) lose their parent and are never marked finished, so they stay Running and
hold their deployment's concurrency slot until the crash automation notices the missing heartbeats.

On the first SIGTERM, SIGINT or SIGHUP the supervisor:
1. sends SIGTERM to each flow-run process of the worker: Prefect's engine marks the run Crashed at once
   ("Execution was aborted by a termination signal"), which releases its concurrency slot (a backfill also
   marks its running child partitions Crashed); nothing half-published stays visible, because publishing
   and the ledger record are one step, and the dates rerun with the next backfill in mode missing;
2. sends SIGINT to the worker, which stops polling and exits;
3. kills whatever is still alive after `grace_seconds`.
A second signal kills everything at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc: the PPid field of every process's stat)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _signal_group(pid: int, signum: int) -> None:
    """Signal the process group a flow-run process leads (the worker starts each in its own session)."""
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def run_worker(pool: str, extra_args: Sequence[str] = (), grace_seconds: float = 30.0) -> int:
    """Run a process worker for `pool` until it exits or is told to stop; returns its exit code (128 + the
    signal's number when a signal ended it, as a shell reports it)."""
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, *extra_args]
    env = os.environ | {
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": os.environ.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")
    }
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)

    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in stops}  # before the worker exists: no gap
    worker = subprocess.Popen(command, start_new_session=True, env=env)
    try:
        code = _supervise(worker, signals, grace_seconds)
    finally:  # whatever happened here, no worker (or flow run of it) outlives the supervisor
        if worker.poll() is None:
            for child in _children(worker.pid):
                _signal_group(child, signal.SIGKILL)
            _signal_group(worker.pid, signal.SIGKILL)
            worker.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def _supervise(worker: subprocess.Popen[bytes], signals: list[int], grace_seconds: float) -> int:
    """Wait for the worker; after a signal, stop its flow runs first (so they can report Crashed before the
    worker goes), then the worker; kill everything after the grace period or a second signal."""
    stopping_since: float | None = None
    terminated: set[int] = set()
    interrupted = False
    while True:
        try:
            return worker.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        if not signals:
            continue
        if stopping_since is None:
            stopping_since = time.monotonic()
            name = signal.Signals(signals[0]).name
            print(f"{name}: stopping the flow runs of the worker, then the worker", file=sys.stderr)
        flow_runs = _children(worker.pid)
        for child in set(flow_runs) - terminated:  # runs picked up meanwhile are stopped too
            _signal_group(child, signal.SIGTERM)
            terminated.add(child)
        overdue = time.monotonic() - stopping_since > grace_seconds
        if len(signals) > 1 or overdue:
            for child in flow_runs:
                _signal_group(child, signal.SIGKILL)
            _signal_group(worker.pid, signal.SIGKILL)
        elif not flow_runs and not interrupted:  # once: Prefect's worker takes a second SIGINT as SIGKILL
            worker.send_signal(signal.SIGINT)  # the worker stops polling and exits
            interrupted = True
