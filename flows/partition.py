"""Prefect 3 flows: one arrival-date partition (ingest → clean → extract → validate → publish as tasks),
and a flow over every partition found in a landing zone. Each task handles a whole partition: per-task
overhead (~0.2 s) rules out one task per document. Publishing is write-audit-publish (see
`warehouse.pipeline.publish_step`); each partition run leaves a Markdown artifact with its audit."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from warehouse import ingest, pipeline
from warehouse.pipeline import AuditFailed, Batch


@task(name="ingest", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def ingest_task(files: list[str], arrival_date: date, source: str, run_id: str) -> Batch:
    return pipeline.ingest_step([Path(f) for f in files], arrival_date, Path(source), run_id)


@task(name="clean", cache_policy=NO_CACHE)
def clean_task(batch: Batch) -> Batch:
    return pipeline.stage_step(batch)


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(batch: Batch) -> Batch:
    return pipeline.extract_step(batch)


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(batch: Batch) -> Batch:
    return pipeline.validate_step(batch)


@task(name="audit-publish", cache_policy=NO_CACHE)
def publish_task(batch: Batch, root: str) -> dict[str, Any]:
    """Write-audit-publish; the audit becomes a Markdown artifact whether it passed or not."""
    key = f"audit-{batch.arrival_date.isoformat()}"
    try:
        summary = pipeline.publish_step(batch, Path(root))
    except AuditFailed as failed:
        create_markdown_artifact(
            pipeline.audit_markdown(failed.summary), key=key, description="audit: failed"
        )
        raise
    create_markdown_artifact(
        pipeline.audit_markdown(summary), key=key, description=f"audit: {summary.status}"
    )
    return summary.as_dict()


@flow(name="warehouse-partition", flow_run_name="partition-{arrival_date}")
def partition_flow(source: str, root: str, arrival_date: date, files: list[str]) -> dict[str, Any]:
    """Process one arrival-date partition of the landing zone into every layer under `root`."""
    run_id = str(flow_run.get_id() or "local")
    batch = ingest_task(files, arrival_date, source, run_id)
    batch = validate_task(extract_task(clean_task(batch)))
    summary = publish_task(batch, root)
    get_run_logger().info("partition %s: %s", arrival_date, summary["status"])
    return summary


@flow(name="warehouse-run")
def run_flow(source: str, root: str, default_date: date | None = None) -> list[dict[str, Any]]:
    """Every partition of the landing zone (date folders; loose files dated `default_date`). A failed
    partition does not stop the others; the run fails at the end naming the failed dates."""
    parts = ingest.discover_partitions(Path(source), default_date or date.today())
    summaries, failed = [], []
    for day, files in sorted(parts.items()):
        state = partition_flow(source, root, day, [str(p) for p in files], return_state=True)
        if state.is_completed():
            summaries.append(state.result())
        else:
            failed.append(f"{day}: {state.message}")
    if failed:
        raise RuntimeError(f"{len(failed)} partition(s) failed: " + " | ".join(failed))
    return summaries
