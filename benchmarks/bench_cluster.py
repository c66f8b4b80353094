"""The sample backfill (`warehouse backfill` over the bundled sample's dates) by each executor: one date
after another in the backfill's process, worker processes, child flow runs in threads, and a
`dask.distributed` cluster of real `dask scheduler` and `dask worker` processes on 127.0.0.1 (started here,
N single-threaded workers), into a local root and into an s3:// root on a moto S3 server on 127.0.0.1
(started here). Prints the wall time of each (the CLI's temporary Prefect server included), the cluster's
start-up time, whether every run published the same facts, and the files and bytes of every table of a
local and an S3 root.

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


def start_cluster(
    workers: int, folder: Path, extra_env: dict[str, str]
) -> tuple[str, list[subprocess.Popen[bytes]], float]:
    from distributed import Client

    began = time.perf_counter()
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(PROJECT), **extra_env}  # workers reach S3 with their own settings
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


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
}
BUCKET = "bench"


def start_s3(folder: Path) -> tuple[dict[str, str], subprocess.Popen[bytes]]:
    """A moto S3 server on 127.0.0.1 with the bucket `bench`; the AWS_* variables that reach it."""
    import boto3

    port = _free_port()
    env = S3_ENV | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    log = (folder / "moto.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    for _ in range(300):
        try:
            client.create_bucket(Bucket=BUCKET)
            return env, proc
        except Exception:
            time.sleep(0.2)
    raise RuntimeError("the S3 server did not start")


def backfill(root: str, executor: str, env: dict[str, str]) -> float:
    days = sorted(d.name for d in SAMPLE.iterdir() if d.is_dir())
    cmd = [sys.executable, "-m", "warehouse", "backfill", "--start", days[0], "--end", days[-1]]
    cmd += ["--source", str(SAMPLE), "--root", root, "--mode", "all", "--executor", executor]
    began = time.perf_counter()
    subprocess.run(cmd, cwd=PROJECT, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **env})
    return time.perf_counter() - began


def facts(root: str, env: dict[str, str]) -> object:
    import polars as pl

    from warehouse.objectstore import ObjectStore

    options = ObjectStore.from_env(env).polars_options() | _keys(env) if root.startswith("s3://") else None
    return pl.read_delta(f"{root}/curated/indicators", storage_options=options).sort("fact_id")


def _keys(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def files_per_table(root: str, env: dict[str, str]) -> dict[str, tuple[int, int, int]]:
    """(data files, their bytes, commit-log files) of every table of `root`, by ``layer/table``."""
    from warehouse.storage import DELTA_LOG

    if root.startswith("s3://"):
        import s3fs

        fs = s3fs.S3FileSystem(
            key=env["AWS_ACCESS_KEY_ID"],
            secret=env["AWS_SECRET_ACCESS_KEY"],
            client_kwargs={"endpoint_url": env["AWS_ENDPOINT_URL"]},
        )
        prefix = root[len("s3://") :]
        listing = {k[len(prefix) + 1 :]: v["size"] for k, v in fs.find(prefix, detail=True).items()}
    else:
        listing = {
            p.relative_to(root).as_posix(): p.stat().st_size for p in Path(root).rglob("*") if p.is_file()
        }
    out: dict[str, list[int]] = {}
    for key, size in listing.items():
        if f"/{DELTA_LOG}/" in key:
            out.setdefault(key.split(f"/{DELTA_LOG}/")[0], [0, 0, 0])[2] += 1
        elif key.endswith(".parquet") and not key.startswith("_"):
            table = "/".join(p for p in key.split("/")[:-1] if not p.startswith("arrival_date="))
            counts = out.setdefault(table, [0, 0, 0])
            counts[0], counts[1] = counts[0] + 1, counts[1] + size
    return {k: (v[0], v[1], v[2]) for k, v in sorted(out.items())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/warehouse-bench-cluster"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    s3_env, s3 = start_s3(args.work)
    s3_env["XDG_STATE_HOME"] = str(args.work / "state")  # the s3 roots' work folders
    address, procs, startup = start_cluster(args.workers, args.work, s3_env)
    procs.insert(0, s3)
    print(f"dask cluster: scheduler + {args.workers} worker processes ready in {startup:.1f} s")
    runs = [
        ("local", "local", False),
        ("processes", "processes", False),
        ("threads", "threads", False),
        ("dask", f"dask://{address}", False),
        ("s3 processes", "processes", True),
        ("s3 dask", f"dask://{address}", True),
    ]
    try:
        results = {}
        for name, executor, on_s3 in runs:
            slug = name.replace(" ", "-")
            roots = [
                f"s3://{BUCKET}/{slug}-{i}" if on_s3 else str(args.work / f"{slug}-{i}")
                for i in range(args.repeat)
            ]
            env = s3_env if on_s3 else {}
            walls = [backfill(root, executor, env) for root in roots]
            results[name] = facts(roots[0], env)
            print(
                f"{name:>12}: sample backfill {' / '.join(f'{w:.1f}' for w in walls)} s wall (mode all, fresh root)"
            )
        same = all(results["processes"].equals(f) for f in results.values())  # type: ignore[attr-defined]
        print(f"same facts from every run: {same} ({len(results['processes'])} facts)")  # type: ignore[arg-type]
        for title, root, env in (
            ("local root", str(args.work / "processes-0"), {}),
            ("s3 root", f"s3://{BUCKET}/s3-processes-0", s3_env),
        ):
            print(f"files per table, {title} (data files, MB, commit files):")
            for table, (n, size, logs) in files_per_table(root, env).items():
                print(f"  {table:<28} {n:>4} {size / 2**20:>8.3f} {logs:>4}")
    finally:
        stop(procs)


if __name__ == "__main__":
    main()
