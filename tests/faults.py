"""Fault injection for the reliability tests: run one partition the way a flow does (recover, run the
partition, rebuild the snapshot) and die with `os._exit` at a named step boundary, as a `kill -9` would.

    python tests/faults.py BOUNDARY ROOT LANDING[,LANDING…] YYYY-MM-DD

exits with CRASHED when it died at BOUNDARY; with BOUNDARY `none` it runs the date from each landing zone
in turn and exits 0.

Nothing here is imported by the warehouse: the crash is injected by wrapping library functions in the
dying process only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from warehouse import ingest, ledger, pipeline, snapshot, storage
from warehouse.results import PartitionResult

CRASHED = 70


def run(root: Path, landing: Path, day: date, run_id: str | None = None) -> PartitionResult:
    """One partition as `partition_flow` does it, without Prefect (each run its own id, as flow runs)."""
    run_id = run_id or f"run-{uuid.uuid4().hex[:8]}"
    ledger.recover(root)
    files = ingest.discover_partitions(landing, day).get(day, [])
    result = pipeline.run_partition(files, day, landing, root, run_id, quality=False)
    snapshot.publish_if_stale(root)
    return result


@dataclass(frozen=True)
class ChildRun:
    exit_code: int
    seconds: float
    peak_rss_mb: float
    stderr: str


def run_in_child(root: Path, landing: Path, day: date, boundary: str = "none") -> ChildRun:
    """This module as a child process (`boundary` `none`: a whole run), with its wall time and peak RSS."""
    driver = [sys.executable, __file__, boundary, str(root), str(landing), day.isoformat()]
    started = time.perf_counter()
    proc = subprocess.Popen(
        driver, cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    return ChildRun(
        os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage.ru_maxrss / 1024, stderr
    )


def _die() -> None:
    sys.stdout.flush()
    os._exit(CRASHED)


def _before(module: Any, name: str, nth: int = 1) -> None:
    """Die when `module.name` is called for the `nth` time, before it runs."""
    original, calls = getattr(module, name), [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == nth:
            _die()
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def _after(module: Any, name: str, when: Callable[..., bool] = lambda *a, **k: True) -> None:
    """Die right after a call of `module.name` for which `when(*args)` holds."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        if when(*args, **kwargs):
            _die()
        return out

    setattr(module, name, wrapper)


def _on_move(n: int) -> None:
    """Die before the n-th table commit of the publish: raw, staged documents, mentions, curated, quarantine."""
    original, commits = storage.commit_partition, [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        commits[0] += 1
        if commits[0] == n:
            _die()
        return original(*args, **kwargs)

    storage.commit_partition = wrapper  # type: ignore[assignment]


BOUNDARIES: dict[str, Callable[[], None]] = {
    "after ingest": lambda: _before(pipeline, "stage_step"),
    "writing the staging files": lambda: _before(storage.PartitionAppender, "append", nth=3),
    "before the audit": lambda: _before(pipeline, "audit_partition"),
    "after the publish intent": lambda: _after(
        storage, "write_text_atomically", lambda target, *_: target.name.endswith(".publishing.json")
    ),
    "before the first move (raw)": lambda: _on_move(1),
    "between staged documents and mentions": lambda: _on_move(3),
    "between staged and curated": lambda: _on_move(4),
    "between curated and quarantine": lambda: _on_move(5),
    "after the ledger record": lambda: _after(ledger, "write_record"),
    "before the audit line": lambda: _before(pipeline, "_record_run"),
    "snapshot files written, manifest not": lambda: _before(snapshot, "_write_manifest"),
    "after the manifest switch": lambda: _before(snapshot, "vacuum"),
}


def main() -> None:
    boundary, root, landings, day = sys.argv[1:5]
    if boundary != "none":  # `none`: runs that do not crash (for runs at the same time)
        BOUNDARIES[boundary]()
    for landing in landings.split(","):  # several landing zones: the date run from each in turn
        run(Path(root), Path(landing), date.fromisoformat(day))
    sys.exit(0)  # the boundary was never reached


if __name__ == "__main__":
    main()
