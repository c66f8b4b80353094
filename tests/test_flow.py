"""The one integration test under a real (temporary) Prefect API."""

from datetime import date

import pytest
from conftest import SAMPLE

from warehouse import pipeline, storage

pytestmark = pytest.mark.prefect


def test_run_flow_writes_every_layer(prefect_server, tmp_path):
    from flows.partition import run_flow

    summaries = run_flow(str(SAMPLE), str(tmp_path))
    assert len(summaries) == 5
    assert sum(s["documents"] for s in summaries) == 5
    assert sum(s["facts"] for s in summaries) > 50
    for layer, table in pipeline.TABLES:
        assert storage.read_table(tmp_path, layer, table) is not None
    assert {s["status"] for s in summaries} <= {"published", "flagged"}

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.partition import artifact_key

    key = artifact_key("audit", tmp_path, date(2022, 2, 9))
    assert key.startswith(f"audit-{tmp_path.name.lower()}-".replace("_", "-"))  # names the warehouse
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert artifacts, "each partition run leaves an audit artifact"
    body = str(artifacts[0].data)
    assert "Audit of partition 2022-02-09" in body and "quality" in body

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from warehouse.settings import warehouse_name

    flagged = next(s for s in summaries if s["status"] == "flagged")  # the undated Word export
    name = f"partition-{flagged['arrival_date']}@{warehouse_name(tmp_path)}"
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    assert run.state.is_completed() and run.state_name == "Flagged"
    assert "published_date" in run.state.message  # the warning, visible without opening the artifact


def test_partition_flow_task_can_be_called_without_a_server(tmp_path):
    from flows.partition import clean_task, ingest_task

    files = sorted(str(p) for p in (SAMPLE / "2022-02-09").iterdir())
    batch = ingest_task.fn(files, date(2022, 2, 9), str(SAMPLE), "fn")
    assert clean_task.fn(batch).staged.height == 1
