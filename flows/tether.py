"""The CLI's temporary Prefect API server dies with the process that started it, even one killed by SIGKILL.

A run's temporary server (`flows.temporary_server`) is a uvicorn process. When the run's process is killed
hard (kill -9, the OOM killer) its `atexit` never stops that child, which would live on as an orphan holding
a port and a database. So the server is launched as ``python -m flows.tether PARENT_PID <uvicorn
arguments>``: uvicorn runs in that process beside a thread that sees the parent go (the process is
re-parented) and stops uvicorn.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

POLL_S = 0.5  # how often the tether looks at its parent
GRACE_S = 5.0  # how long uvicorn has to shut down before the tether exits anyway


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own graceful shutdown
    time.sleep(GRACE_S)
    os._exit(0)


def main() -> None:
    parent = int(sys.argv[1])
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="tether").start()
    sys.argv = ["uvicorn", *sys.argv[2:]]
    from uvicorn.main import main as uvicorn_main

    uvicorn_main()


if __name__ == "__main__":
    main()
