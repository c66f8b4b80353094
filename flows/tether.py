"""Prefect's temporary API server dies with the process that started it, even one killed by SIGKILL.

A run without PREFECT_API_URL makes Prefect start a temporary server: a `python -m uvicorn` child. When
the run's process is killed hard (kill -9, the OOM killer) its `atexit` never stops that child, which then
lives on as an orphan holding a port and a database. `tie_temporary_server()` makes Prefect launch the
server as ``python -m flows.tether PARENT_PID <uvicorn arguments>`` instead: uvicorn runs in that process
as before, beside a thread that sees the parent go (the process is re-parented) and stops uvicorn.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

POLL_S = 0.5  # how often the tether looks at its parent
GRACE_S = 5.0  # how long uvicorn has to shut down before the tether exits anyway


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own graceful shutdown
    time.sleep(GRACE_S)
    os._exit(0)


def tie_temporary_server() -> None:
    """Launch Prefect's temporary server through this module from now on (idempotent). The arguments and
    environment are Prefect's own (`SubprocessASGIServer._run_uvicorn_command`, prefect 3.8)."""
    from prefect.server.api import server as api
    from prefect.settings import get_current_settings

    if getattr(api.SubprocessASGIServer._run_uvicorn_command, "tethered", False):
        return

    def command(self: Any) -> subprocess.Popen[Any]:
        checkout = str(Path(__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **get_current_settings().to_environment_variables(exclude_unset=True),
        }
        env["PYTHONPATH"] = os.pathsep.join(p for p in (checkout, env.get("PYTHONPATH", "")) if p)
        args = ["--app-dir", str(api.prefect.__module_path__.parent), "--factory"]
        args += ["prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--log-level", "error", "--lifespan", "on"]
        return subprocess.Popen([sys.executable, "-m", "flows.tether", str(os.getpid()), *args], env=env)

    command.tethered = True  # type: ignore[attr-defined]
    api.SubprocessASGIServer._run_uvicorn_command = command  # type: ignore[method-assign]


def main() -> None:
    parent = int(sys.argv[1])
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="tether").start()
    sys.argv = ["uvicorn", *sys.argv[2:]]
    from uvicorn.main import main as uvicorn_main

    uvicorn_main()


if __name__ == "__main__":
    main()
