import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")  # what the crash automation expects

# Tests that start a service (a Prefect server, PostgreSQL, the S3 server, a Dask cluster, chromium) are
# `slow`: `pytest -m "not slow"` is the quick subset; `make test` (what CI runs) runs every test.
SERVICE_MARKERS = {"prefect", "s3", "browser"}
SERVICE_FIXTURES = {"prefect_server", "postgres", "s3_endpoint", "s3_environment", "dask_cluster"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = {m.name for m in item.iter_markers()}
        if names & SERVICE_MARKERS or SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT / "sample" / "landing"
DEV_GOLD = PROJECT / "sample" / "gold" / "dev.jsonl"


def sample_landing(folder: Path, arrivals: dict) -> Path:
    """A landing zone under `folder` whose date folders (keys: dates or YYYY-MM-DD) hold copies of the
    sample's date folders (values: YYYY-MM-DD)."""
    import shutil

    source = folder / "landing"
    for day, sample_day in arrivals.items():
        shutil.copytree(SAMPLE / sample_day, source / str(day))
    return source


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


@dataclass
class PrefectServer:
    """A real `prefect server start` subprocess on 127.0.0.1 with a PREFECT_HOME (and database) of its own."""

    url: str  # http://127.0.0.1:<port>/api
    home: Path
    log: Path
    process: subprocess.Popen

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a client subprocess (CLI, worker) of this server."""
        return os.environ | {"PREFECT_API_URL": self.url, "PREFECT_HOME": str(self.home)} | extra

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def errors_since(self, offset: int) -> list[str]:
        """ERROR lines, tracebacks and failed automation actions the server logged after `offset`."""
        with self.log.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
        # A heartbeat the engine's thread sends just after a run's final state makes the crash automation
        # fire 90 s later on a finished run; the server refuses that (not forced) and says so: no error.
        refused = "already in terminal state"
        found = (line for line in text.splitlines() if re.search(r"\bERROR\b|Traceback|Action failed", line))
        return [line for line in found if refused not in line]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BUCKET = "wh-test"  # the S3 server's bucket
KEYS = {"key": "test-key", "secret": "test-secret", "region": "us-east-1"}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """http://127.0.0.1:PORT of a real S3 server (moto's, a process of its own) with the bucket `wh-test`,
    for the session; stopped at its end."""
    import boto3

    folder = tmp_path_factory.mktemp("s3")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with (folder / "moto.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=KEYS["key"],
            aws_secret_access_key=KEYS["secret"],
            region_name=KEYS["region"],
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        _stop(process)


@pytest.fixture
def s3_environment(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process (and its children) reaches the S3 server through the standard AWS_* variables, with
    its state folder (the work folders of s3:// roots) under tmp_path; returns that state folder."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEYS["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEYS["secret"])
    monkeypatch.setenv("AWS_REGION", KEYS["region"])
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def _stop(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    with contextlib.suppress(ProcessLookupError):  # children left in the group (uvicorn, flow runs)
        os.killpg(process.pid, signal.SIGKILL)


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed (make test installs Debian's postgresql)")
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the session's own (initdb in a temporary folder, 127.0.0.1, a free port, trust
    auth), stopped at the end; yields the SQLAlchemy URL of an empty database `prefect`."""
    import pwd
    import shutil

    bin_dir = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="warehouse-pg-"))  # not under pytest's root-only folders
    data, port = folder / "data", _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use Debian's postgres account
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True, cwd=folder)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=200 -c fsync=off"
    pg_ctl = str(bin_dir / "pg_ctl")
    run(pg_ctl, "-D", str(data), "-l", str(folder / "postgres.log"), "-o", options, "-w", "start")
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "prefect")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory, postgres: str):
    """One real Prefect server for the whole session, on PostgreSQL as the README advises for a server that
    runs schedules (its SQLite backend logs "database is locked" under concurrent load). Slow to start: keep
    Prefect tests few. The tests' own flow runs go to it too (PREFECT_API_URL for this process and its
    subprocesses)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    folder = tmp_path_factory.mktemp("prefect-server")
    home, log = folder / "home", folder / "server.log"
    port = _free_port()
    dropped = ("PREFECT_API_", "PREFECT_SERVER_DATABASE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres,
    }
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder
        )
    server = PrefectServer(f"http://127.0.0.1:{port}/api", home, log, process)
    try:
        _wait_healthy(server, timeout=180)
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = server.url
        with temporary_settings(updates={PREFECT_API_URL: server.url}):
            yield server
    finally:
        if "previous" in locals():
            os.environ.pop("PREFECT_API_URL", None)
            if previous is not None:
                os.environ["PREFECT_API_URL"] = previous
        _stop(process)


def _wait_healthy(server: PrefectServer, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"prefect server exited: {server.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"prefect server not healthy after {timeout} s: {server.log.read_text()[-3000:]}")


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
