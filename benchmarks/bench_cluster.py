"""The sample backfill (`warehouse backfill` over the bundled sample's dates) by each executor: worker
processes, child flow runs in threads, and a `dask.distributed` cluster of real `dask scheduler` and
`dask worker` processes on 127.0.0.1 (started here, N single-threaded workers). Prints the wall time of
each (the CLI's temporary Prefect server included), the cluster's start-up time, and whether every
executor published the same facts.

    .venv/bin/python benchmarks/bench_cluster.py [--workers 2] [--repeat 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT / "sample" / "landing"
DASK = Path(sys.executable).parent / "dask"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(workers: int, folder: Path) -> tuple[str, list[subprocess.Popen[bytes]], float]:
    from distributed import Client

    began = time.perf_counter()
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    commands = [
        [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        [str(DASK), "worker", f"tcp://{address}", "--nworkers", str(workers), "--nthreads", "1"]
        + ["--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(folder / "dask")],
    ]
    log = (folder / "dask.log").open("wb")
    procs = [
        subprocess.Popen(c, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for c in commands
    ]
    with Client(f"tcp://{address}", timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs, time.perf_counter() - began


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(30)


def backfill(root: Path, executor: str) -> float:
    days = sorted(d.name for d in SAMPLE.iterdir() if d.is_dir())
    cmd = [sys.executable, "-m", "warehouse", "backfill", "--start", days[0], "--end", days[-1]]
    cmd += ["--source", str(SAMPLE), "--root", str(root), "--mode", "all", "--executor", executor]
    began = time.perf_counter()
    subprocess.run(cmd, cwd=PROJECT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def facts(root: Path) -> object:
    import polars as pl

    return pl.read_delta(str(root / "curated" / "indicators")).sort("fact_id")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/warehouse-bench-cluster"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    address, procs, startup = start_cluster(args.workers, args.work)
    print(f"dask cluster: scheduler + {args.workers} worker processes ready in {startup:.1f} s")
    try:
        results = {}
        for executor in ("processes", "threads", f"dask://{address}"):
            name = executor.split(":")[0]
            walls = [backfill(args.work / f"{name}-{i}", executor) for i in range(args.repeat)]
            results[name] = facts(args.work / f"{name}-0")
            print(
                f"{name:>9}: sample backfill {' / '.join(f'{w:.1f}' for w in walls)} s wall (mode all, fresh root)"
            )
    finally:
        stop(procs)
    same = all(results["processes"].equals(f) for f in results.values())  # type: ignore[attr-defined]
    print(f"same facts from every executor: {same} ({len(results['processes'])} facts)")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
