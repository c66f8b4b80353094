import os
import tempfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

# Prefect and GX read these at import time: keep tests off ~/.prefect and the network.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT / "sample" / "landing"
DEV_GOLD = PROJECT / "sample" / "gold" / "dev.jsonl"


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample processed once (plain library calls) into a temporary root."""
    from warehouse import ingest, pipeline, snapshot

    root = tmp_path_factory.mktemp("warehouse")
    for day, files in ingest.discover_partitions(SAMPLE, date(2026, 1, 1)).items():
        pipeline.run_partition(files, day, SAMPLE, root, run_id="test")
    snapshot.publish(root)
    return root


@pytest.fixture(scope="session")
def sample_facts(sample_run: Path) -> pl.DataFrame:
    from warehouse import storage

    facts = storage.read_table(sample_run, "curated", "indicators")
    assert facts is not None
    return facts


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect API for the whole session (slow to start: keep Prefect tests few)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
