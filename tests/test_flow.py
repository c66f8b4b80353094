"""The one integration test under a real (temporary) Prefect API."""

import shutil
from datetime import date

import pytest
from conftest import SAMPLE
from typer.testing import CliRunner

from warehouse import ledger, pipeline, storage
from warehouse.cli import app
from warehouse.results import PartitionResult

pytestmark = pytest.mark.prefect


def test_run_flow_writes_every_layer(prefect_server, tmp_path):
    from flows.partition import run_flow

    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE, landing)
    (landing / "2025-01-01").mkdir()  # an empty date folder goes through the same path as the others
    root = tmp_path / "root"
    summaries = run_flow(str(landing), str(root))
    assert len(summaries) == 6 and all(isinstance(s, PartitionResult) for s in summaries)
    assert sum(s.documents for s in summaries) == 5
    assert sum(s.facts for s in summaries) > 50
    for layer, table in pipeline.TABLES:
        assert storage.read_table(root, layer, table) is not None
    assert [s.status for s in summaries if s.arrival_date == "2025-01-01"] == ["empty"]
    assert {s.status for s in summaries} <= {"published", "flagged", "empty"}
    assert ledger.read_record(root, date(2025, 1, 1)).status == "empty"

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.partition import artifact_key

    key = artifact_key("audit", root, date(2022, 2, 9))
    assert key.startswith(f"audit-{root.name.lower()}-".replace("_", "-"))  # names the warehouse
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert artifacts, "each partition run leaves an audit artifact"
    body = str(artifacts[0].data)
    assert "Audit of partition 2022-02-09" in body and "quality" in body

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from warehouse.settings import warehouse_name

    flagged = next(s for s in summaries if s.status == "flagged")  # the undated Word export
    name = f"partition-{flagged.arrival_date}@{warehouse_name(root)}"
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    assert run.state.is_completed() and run.state_name == "Flagged"
    assert "published_date" in run.state.message  # the warning, visible without opening the artifact


def test_partition_flow_task_can_be_called_without_a_server(tmp_path):
    from flows.partition import clean_task, ingest_task

    files = sorted(str(p) for p in (SAMPLE / "2022-02-09").iterdir())
    batch = ingest_task.fn(files, date(2022, 2, 9), str(SAMPLE), "fn")
    assert clean_task.fn(batch).staged.height == 1


def test_cli_run_reports_an_empty_date_folder(prefect_server, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE / "2022-02-09", landing / "2022-02-09")
    (landing / "2025-01-01").mkdir()
    done = CliRunner().invoke(app, ["run", "--source", str(landing), "--root", str(tmp_path / "root")])
    assert done.exit_code == 0, done.output
    assert "2025-01-01: empty documents=0 mentions=0 facts=0 quarantined=0" in done.output
    assert "documents: 1\n" in done.output
