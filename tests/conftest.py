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


# --- browser tests: Debian's chromium driven by Playwright, network off ----------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless chromium, once per session. Skipped when missing unless WAREHOUSE_REQUIRE_BROWSER is set
    (CI sets it, so there a missing browser fails)."""
    required = bool(os.environ.get("WAREHOUSE_REQUIRE_BROWSER"))
    if not CHROMIUM.exists():
        if required:
            pytest.fail(f"{CHROMIUM} is missing and WAREHOUSE_REQUIRE_BROWSER is set")
        pytest.skip(f"{CHROMIUM} is missing (set WAREHOUSE_REQUIRE_BROWSER to make this a failure)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def offline_page(chromium):
    """A page that may load file:// URLs only; yields (page, problems, requests)."""
    context = chromium.new_context(offline=True, viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    requests: list[str] = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            problems.append(f"routed away: {r.request.url}")
            r.abort()

    context.route("**/*", route)
    context.on("request", lambda req: requests.append(req.url))
    page = context.new_page()
    console: list[tuple[str, str]] = []
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield page, problems, requests
    context.close()
    assert [m for m in console if m[0] == "error"] == []
