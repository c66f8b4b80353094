"""The temporary Prefect API server of a CLI run, started from a pre-migrated database.

A run without PREFECT_API_URL needs a Prefect server for the length of the run. Left to itself, Prefect
starts one on first use and migrates a new SQLite database (~9 s here) and registers its block types
(~2 s) every time. Instead the CLI starts the server itself, at once, so it boots while the run imports
its libraries:

- `template_database`: a migrated database with the block types registered, built once per install and
  Prefect version (``<venv>/var/warehouse/prefect-<version>.db``; `make install` builds it);
- `start`: a copy of it in the run's own temporary folder (never the ``$PREFECT_HOME`` database of a
  long-running server), migration and block registration off, served by uvicorn on a free 127.0.0.1 port
  through `flows.tether` (the server dies with the run, even a SIGKILLed one) and stopped at exit;
- `wait_until_ready`: the run's first API call waits for the server's health check.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
STOP_GRACE_S = 3.0  # a stopped server that has not exited by then is killed


def template_database() -> Path:
    """The migrated template database of this install's Prefect version, built first if missing."""
    path = Path(sys.prefix) / "var" / "warehouse" / f"prefect-{version('prefect')}.db"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    env = {**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp}"}
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "flows.temporary_server", "--build-template"],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"could not build the Prefect template database: {done.stderr[-2000:]}")
    os.replace(tmp, path)
    return path


def _build_template() -> None:
    """In a process whose database URL names the template: migrate it and register the block types."""
    import asyncio

    from prefect.server.database import provide_database_interface
    from prefect.server.models.block_registration import run_block_auto_registration

    async def build() -> None:
        db = provide_database_interface()
        await db.create_db()
        session = await db.session()
        async with session:
            await run_block_auto_registration(session=session)
            await session.commit()

    asyncio.run(build())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(folder: str | Path) -> tuple[str, subprocess.Popen[bytes]]:
    """Start a server on a copy of the template database in `folder`; its API URL and its process (stopped
    when this process exits)."""
    database = Path(folder) / "prefect.db"
    shutil.copyfile(template_database(), database)
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}",
        "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
        "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",  # Prefect's own temporary-server mode: no scheduler, no UI
        "PREFECT__SERVER_FINAL": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(CHECKOUT), os.environ.get("PYTHONPATH", "")) if p),
    }
    env.pop("PREFECT_API_URL", None)
    args = ["--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--log-level", "error", "--lifespan", "on"]
    proc = subprocess.Popen([sys.executable, "-m", "flows.tether", str(os.getpid()), *args], env=env)
    atexit.register(stop, proc)
    return f"http://127.0.0.1:{port}/api", proc


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> float:
    """Block until the server answers its health check; the seconds waited. Raises if it exits or does not
    answer within `timeout` (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS in the CLI)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the temporary Prefect server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - began
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"the temporary Prefect server at {url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__" and sys.argv[1:] == ["--build-template"]:
    _build_template()
