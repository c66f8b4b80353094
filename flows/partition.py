"""Prefect 3 flows over arrival-date partitions.

- `partition_flow`: one partition, ingest → clean → extract → validate → write as tasks over chunks of
  files (each task handles a whole chunk, the partition when it fits one: per-task overhead rules out one
  task per document), then one audit-publish. With no date it takes the
  day before its scheduled start in Asia/Shanghai (the daily deployment; runs the server creates without
  parameters). Publishing records the partition in the ledger in the same step (`warehouse.ledger.publish`);
  a failure is recorded by the flow. A flagged partition (published with warnings) ends in a Completed state
  named `Flagged` with the warnings as its message. Each run leaves a Markdown artifact with the audit.
  Run names and artifact keys carry the warehouse's name (`warehouse.settings.warehouse_name`).
- `run_flow`: every partition found in a landing zone.
The library (`warehouse`) does the work; this module only wires it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, State
from prefect.tasks import exponential_backoff

from flows.server import FLAGGED, crash_orphaned_children
from warehouse import ingest, landing, ledger, location, pipeline, snapshot, workers
from warehouse.location import Root, parse_root, work_dir
from warehouse.pipeline import AuditFailed, Batch, StagedPartition
from warehouse.results import PartitionResult
from warehouse.settings import DASK, Settings, dask_address, warehouse_name

P = ParamSpec("P")
R = TypeVar("R")
NO_DATE = date(1, 1, 1)  # loose files (outside date folders) are only processed by `run_flow`


def retry_on_io_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O failures (a file system hiccup); an audit or contract failure fails at once, and so does a
    timeout (TimeoutError is an OSError, but a second try would only time out again: a slow document is
    quarantined by its own budget, `Limits.max_document_seconds`, long before a task times out)."""
    try:
        state.result()
    except TimeoutError:
        return False
    except OSError:
        return True
    except Exception:
        return False
    return False


def io_task(name: str, timeout_seconds: int) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that touches files: retried twice with exponential backoff (1 s, 2 s, jittered) on I/O errors."""
    return task(
        name=name,
        timeout_seconds=timeout_seconds,
        cache_policy=NO_CACHE,
        retries=2,
        retry_delay_seconds=exponential_backoff(backoff_factor=1),
        retry_jitter_factor=0.5,
        retry_condition_fn=retry_on_io_error,
    )


@io_task("ingest", timeout_seconds=600)
def ingest_task(
    files: list[str], arrival_date: date, source: str, run_id: str, stage_paths: frozenset[str] | None = None
) -> Batch:
    limits = Settings.from_env().limits
    paths = [Path(f) for f in files]
    return pipeline.ingest_step(paths, arrival_date, Path(source), run_id, limits, stage_paths)


@task(name="clean", timeout_seconds=900, cache_policy=NO_CACHE)
def clean_task(batch: Batch) -> Batch:
    settings = Settings.from_env()
    return pipeline.stage_step(batch, settings.limits, settings.workers)


@io_task("extract", timeout_seconds=1800)
def extract_task(batch: Batch, root: str) -> Batch:
    settings = Settings.from_env()
    return pipeline.extract_step(batch, work_dir(parse_root(root)), settings.limits, settings.workers)


@io_task("clean-extract", timeout_seconds=2700)
def clean_extract_task(batch: Batch, root: str) -> Batch:
    """Clean and extract one chunk in this process: a chunk sent to a Dask worker (the cluster's workers
    are the parallelism, so no pool of processes here)."""
    limits = Settings.from_env().limits
    return pipeline.extract_step(pipeline.stage_step(batch, limits), work_dir(parse_root(root)), limits)


@task(name="validate", timeout_seconds=900, cache_policy=NO_CACHE)
def validate_task(batch: Batch) -> Batch:
    return pipeline.validate_step(batch)


def warehouse_of(root: str | Path) -> str:
    """The warehouse's name in run names and artifact keys (WAREHOUSE_NAME, else derived from `root`)."""
    return warehouse_name(root, Settings.from_env().name)


def artifact_key(kind: str, root: str | Path, day: date | None = None) -> str:
    """`audit-<warehouse>-<date>`, `backfill-<warehouse>`: keys of different roots never collide."""
    return f"{kind}-{warehouse_of(root)}" + (f"-{day.isoformat()}" if day else "")


@task(name="write", timeout_seconds=900, cache_policy=NO_CACHE)
def write_task(part: StagedPartition, batch: Batch) -> None:
    """Append a validated chunk to the partition's staging files (not retried: a half-appended chunk is
    caught by the audit's row counts)."""
    part.add(batch)


@task(name="audit-publish", timeout_seconds=900, cache_policy=NO_CACHE)
def publish_task(part: StagedPartition, root: str, docs: bool = True) -> PartitionResult:
    """Audit and publish (and the ledger record); the audit becomes a Markdown artifact whether it passed
    or not. Not retried: a publish interrupted after its intent was recorded is completed by the next run's
    recovery (`ledger.recover`)."""
    key = artifact_key("audit", root, part.arrival_date)
    try:
        summary = part.publish(docs=docs)
    except AuditFailed as failed:
        create_markdown_artifact(
            pipeline.audit_markdown(failed.summary), key=key, description="audit: failed"
        )
        raise
    create_markdown_artifact(
        pipeline.audit_markdown(summary), key=key, description=f"audit: {summary.status}"
    )
    return summary


def writable_root(root: str | Root) -> Root:
    """The warehouse root of a flow run, and for s3:// probed with a written and deleted object: a root
    the run cannot write fails it at once, saying why, before any work (the CLI checks the same; a
    deployment's run is checked here)."""
    dst = parse_root(root)
    location.check_writable(dst)
    return dst


def local_zone(source: Root, root: Root, days: landing.Days = None) -> Path:
    """The landing zone as a local folder (an s3:// zone's mirror, `days` brought up to date); keys of
    the bucket that cannot be read are logged as warnings."""
    found = landing.local_source(source, root, days)
    for refused in found.refused:
        get_run_logger().warning("landing zone %s: %s", source, refused)
    return found.folder


def _run_date() -> date:
    given = flow_run.parameters.get("arrival_date")
    if given:
        return given if isinstance(given, date) else date.fromisoformat(str(given)[:10])
    return ledger.default_arrival_date(flow_run.scheduled_start_time)


def _partition_run_name() -> str:
    name = warehouse_of(flow_run.parameters.get("root") or Settings.from_env().root)
    return f"partition-{_run_date().isoformat()}@{name}"


@task(name="snapshot", timeout_seconds=900, cache_policy=NO_CACHE)
def snapshot_task(root: str, own_process: bool = False) -> dict[str, Any] | None:
    """Rebuild the consumer snapshot (indicator panel, regions, documents) and switch the manifest to it,
    unless it already reflects every published partition; the new manifest or None. `own_process`: in a
    process of its own (a backfill's end: its memory is not added to the backfill's)."""
    if own_process:
        return workers.in_own_process(snapshot.publish_if_stale, parse_root(root))
    return snapshot.publish_if_stale(parse_root(root))


@task(name="quality-docs", timeout_seconds=1800, cache_policy=NO_CACHE)
def docs_task(root: str, own_process: bool = False) -> str:
    """Build the Data Docs of the partitions a run or backfill audited (once, at its end); `own_process`
    as for `snapshot_task`."""
    from warehouse import quality

    if own_process:
        return str(workers.in_own_process(quality.build_docs, work_dir(parse_root(root))))
    return str(quality.build_docs(work_dir(parse_root(root))))


def final_state(result: PartitionResult) -> State:
    """Completed for a published or empty partition; Completed named `Flagged`, warnings as the message,
    for a partition published with warnings (seen in the UI without opening the artifact)."""
    if result.status == "flagged":
        return Completed(name=FLAGGED, message="; ".join(result.reasons)[:2000], data=result)
    message = "no arrivals" if result.status == "empty" else result.status
    return Completed(message=f"partition {result.arrival_date}: {message}", data=result)


@flow(name="warehouse-partition", flow_run_name=_partition_run_name)
def partition_flow(
    arrival_date: date | None = None,
    source: str | None = None,
    root: str | None = None,
    files: list[str] | None = None,
    publish_snapshot: bool = True,
) -> State:
    """Process one arrival-date partition into every layer under `root` (default: yesterday in
    Asia/Shanghai; source and root default to WAREHOUSE_SOURCE / WAREHOUSE_ROOT), then rebuild the consumer
    snapshot and the Data Docs unless `publish_snapshot` is off (backfills and full runs rebuild both once
    at the end)."""
    settings = Settings.from_env()
    day = arrival_date or _run_date()
    dst = writable_root(root or settings.root)
    ledger.recover(dst)  # a publish interrupted by a crash is completed first
    run_id = str(flow_run.get_id() or "local")
    started = time.perf_counter()
    try:
        src = local_zone(parse_root(source or settings.source, "source"), dst, day)
        # files: paths relative to the landing zone (or absolute ones, as given)
        paths = [src / f for f in files] if files else ingest.discover_partitions(src, NO_DATE).get(day, [])
        if paths:
            result = _run_chunks(paths, day, src, dst, run_id, settings, publish_snapshot)
        else:
            result = pipeline.empty_result(dst, day, run_id)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        ledger.record_failure(dst, day, message, run_id, seconds=time.perf_counter() - started)
        raise
    get_run_logger().info("partition %s: %s", day, result.status)
    if publish_snapshot:
        snapshot_task(str(dst))  # an empty date too: rebuilt if an earlier run published and then crashed
    return final_state(result)


def _run_chunks(
    paths: list[Path], day: date, src: Path, dst: Root, run_id: str, settings: Settings, docs: bool
) -> PartitionResult:
    """The partition's steps as tasks, a chunk of `settings.limits.max_chunk_documents` files at a time
    (one chunk in memory), then one audit-publish; with the executor setting dask://HOST:PORT, cleaning
    and extraction on that cluster (`_run_chunks_on_dask`)."""
    if settings.executor.startswith(DASK):
        return _run_chunks_on_dask(paths, day, src, dst, run_id, settings, docs)
    with StagedPartition(dst, day, run_id) as part:
        for chunk in pipeline.plan_chunks(paths, day, src, settings.limits):
            batch = ingest_task([str(p) for p in chunk.files], day, str(src), run_id, chunk.stage_paths)
            write_task(part, validate_task(extract_task(clean_task(batch), str(dst))))
            del batch
        return publish_task(part, str(dst), docs)


CHUNKS_IN_FLIGHT_PER_THREAD = (
    2  # chunks of a partition sent to a Dask cluster and not yet written, per thread
)


def _run_chunks_on_dask(
    paths: list[Path], day: date, src: Path, dst: Root, run_id: str, settings: Settings, docs: bool
) -> PartitionResult:
    """A partition's cleaning and extraction on the workers of a running Dask cluster (prefect-dask's
    DaskTaskRunner): its files cut into about one chunk per worker thread (at most
    `max_chunk_documents` each), each chunk ingested here, cleaned and extracted by a worker, then
    validated and written here in chunk order, so the partition's rows are those of a local run; at most
    `CHUNKS_IN_FLIGHT_PER_THREAD` chunks per thread are out at once. The workers see `root` at the same
    path (for the extraction cache) and import this checkout."""
    from distributed import Client
    from prefect_dask import DaskTaskRunner

    address = dask_address(settings.executor)
    with Client(address, timeout=30) as client:
        threads = max(1, sum(client.nthreads().values()))
    size = max(1, min(settings.limits.max_chunk_documents, math.ceil(len(paths) / threads)))
    limits = replace(settings.limits, max_chunk_documents=size)
    out: deque[Any] = deque()  # futures of chunks cleaned and extracted on the cluster, in chunk order
    with (
        api_for_workers(),
        DaskTaskRunner(address=address) as runner,
        StagedPartition(dst, day, run_id) as part,
    ):
        for chunk in pipeline.plan_chunks(paths, day, src, limits):
            batch = ingest_task([str(p) for p in chunk.files], day, str(src), run_id, chunk.stage_paths)
            out.append(runner.submit(clean_extract_task, {"batch": batch, "root": str(dst)}))
            del batch
            while len(out) >= threads * CHUNKS_IN_FLIGHT_PER_THREAD:
                write_task(part, validate_task(out.popleft().result()))
        while out:
            write_task(part, validate_task(out.popleft().result()))
        return publish_task(part, str(dst), docs)


@contextlib.contextmanager
def api_for_workers() -> Iterator[None]:
    """Worker processes (a process pool's, a Dask cluster's) report to this run's API, a temporary
    server's too (its URL is not a setting: without it in their environment each worker would start a
    server of its own)."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        os.environ["PREFECT_API_URL"] = str(client.api_url)
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)


@flow(name="warehouse-run")
def run_flow(source: str, root: str, default_date: date | None = None) -> list[PartitionResult]:
    """Every partition of the landing zone (date folders; loose files dated `default_date`). A failed
    partition does not stop the others; the run fails at the end naming the failed dates."""
    dst = writable_root(root)
    ledger.recover(dst)
    crash_orphaned_children()
    src = local_zone(parse_root(source, "source"), dst)  # an s3:// zone: mirrored whole
    parts = ingest.discover_partitions(src, default_date or date.today())
    summaries, failed = [], []
    for day, files in sorted(parts.items()):
        relative = [str(p.relative_to(src)) for p in files]
        state = partition_flow(day, source, root, relative, False, return_state=True)
        if state.is_completed():
            summaries.append(cast(PartitionResult, state.result()))
        else:
            failed.append(f"{day}: {state.message}")
    snapshot_task(root)  # what was published, failed partitions or not
    if parts:
        docs_task(root)
    if failed:
        raise RuntimeError(f"{len(failed)} partition(s) failed: " + " | ".join(failed))
    return summaries
