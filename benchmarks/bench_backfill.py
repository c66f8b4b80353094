"""The real `warehouse backfill` over generated corpora (`benchmarks/corpus.py`) of 1k / 10k / 100k documents.

For each size it prints: documents/s and MB/s end to end, peak RSS (the largest process, and the whole
process tree sampled every 0.5 s: worker processes and the temporary Prefect server included), CPU seconds
(user + system of the tree) against wall seconds, the seconds per step summed over partitions (from the
audit trail), an I/O floor measured in the same run (reading the same bytes and writing as many rows as
Parquet, per partition) and the end-to-end share of it, and the score of the generated gold.

With `--s3` the warehouse root is ``s3://bench/root-N`` on a moto S3 server started here on 127.0.0.1 (the
landing zone stays local); files per table are then those of the bucket.

    .venv/bin/python benchmarks/bench_backfill.py [--docs 1000,10000] [--per-date 100] [--work DIR] [--s3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "benchmarks"))

import bench_cluster  # noqa: E402
import corpus  # noqa: E402

from warehouse import evaluate, read, storage  # noqa: E402
from warehouse.location import Root, work_dir  # noqa: E402


@dataclass
class Measured:
    wall: float
    cpu: float
    peak_process_mb: float
    peak_tree_mb: float
    exit_code: int


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants (MB)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        child = int(status.parent.name)
        parents[child] = int(fields.get("PPid", "0"))
        rss[child] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        kids = [c for c, p in parents.items() if p == parent and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(rss.get(p, 0) for p in tree) / 1024


def run_backfill(landing: Path, root: Root, start: date, end: date) -> Measured:
    args = ["backfill", "--start", start.isoformat(), "--end", end.isoformat()]
    cmd = [sys.executable, "-m", "warehouse", *args, "--source", str(landing), "--root", str(root)]
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL)
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    stop.set()
    sampler.join()
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(
        time.perf_counter() - began, cpu, usage.ru_maxrss / 1024, peak[0], os.waitstatus_to_exitcode(status)
    )


def io_floor(landing: Path, rows_per_day: dict[str, int], out: Path) -> float:
    """Seconds to read every landed file and write, per date, its bytes and as many rows as the run published
    (an id and a value each) as Parquet: what any warehouse must at least do with these documents."""
    began = time.perf_counter()
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        files = sorted(folder.iterdir())
        raw = pl.DataFrame({"name": [f.name for f in files], "content": [f.read_bytes() for f in files]})
        raw.write_parquet(out / f"{folder.name}.raw.parquet", compression="zstd")
        n = rows_per_day.get(folder.name, 0)
        rows = pl.DataFrame(
            {"id": [f"{folder.name}:{i}" for i in range(n)], "value": [float(i) for i in range(n)]}
        )
        rows.write_parquet(out / f"{folder.name}.rows.parquet", compression="zstd")
    return time.perf_counter() - began


def step_seconds(root: Root) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in (work_dir(root) / storage.AUDIT / "runs.jsonl").read_text(encoding="utf-8").splitlines():
        for step, s in json.loads(line).get("seconds", {}).items():
            totals[step] = totals.get(step, 0.0) + s
    return {k: round(v, 1) for k, v in totals.items()}


def published_rows(root: Root) -> dict[str, int]:
    rows: dict[str, int] = {}
    for table in ("raw/documents", "staged/documents", "staged/mentions", "curated/indicators"):
        layer, name = table.split("/")
        scan = storage.scan_table(root, layer, name, columns=[])
        counts = scan.group_by("arrival_date").agg(pl.len()).collect() if scan is not None else None
        for day, n in counts.iter_rows() if counts is not None else ():
            rows[day.isoformat()] = rows.get(day.isoformat(), 0) + n
    return rows


def files_per_table(root: Path) -> dict[str, str]:
    """Data files and bytes of every table's current version, and what its folder holds in all (older
    versions' files until vacuum, the commit log)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    out = {}
    for name in storage.versions(root):
        current = pa.table(DeltaTable(str(root / name)).get_add_actions(flatten=True)).to_pydict()
        every = [p for p in (root / name).rglob("*") if p.is_file()]
        log = [p for p in every if "_delta_log" in p.parts]
        out[name] = (
            f"{len(current['path'])} files {sum(current['size_bytes']) / 1e6:.1f} MB current; "
            f"folder {len(every) - len(log)} data + {len(log)} log files, "
            f"{sum(p.stat().st_size for p in every) / 1e6:.1f} MB"
        )
    return out


def bench(docs: int, per_date: int, work: Path, s3: dict[str, str] | None = None) -> None:
    dates = max(1, docs // per_date)
    where = work / f"corpus-{docs}-{dates}"
    if not (where / "corpus.json").exists():
        shutil.rmtree(where, ignore_errors=True)
        corpus.generate(where, docs, dates)
    meta = json.loads((where / "corpus.json").read_text())
    root: Root = work / f"root-{docs}"
    shutil.rmtree(root, ignore_errors=True)
    if s3 is not None:
        root = f"s3://{bench_cluster.BUCKET}/root-{docs}-{int(time.time())}"
    start = corpus.FIRST_DATE
    m = run_backfill(where / "landing", root, start, start + timedelta(days=dates - 1))
    floor_dir = work / "floor"
    shutil.rmtree(floor_dir, ignore_errors=True)
    floor_dir.mkdir(parents=True)
    floor = io_floor(where / "landing", published_rows(root), floor_dir)
    facts = read.snapshot(root).indicators().collect()
    score = evaluate.score_table(facts, evaluate.load_gold(where / "gold.jsonl"))
    mb = meta["bytes"] / 1e6
    print(
        f"{docs:>7,} docs {dates:>5} dates {mb:>7.1f} MB | exit {m.exit_code} | wall {m.wall:7.1f} s "
        f"| {docs / m.wall:6.1f} docs/s {mb / m.wall:5.2f} MB/s | peak RSS {m.peak_process_mb:6.0f} MB process, "
        f"{m.peak_tree_mb:6.0f} MB tree | CPU {m.cpu:7.1f} s = {m.cpu / m.wall:.2f} x wall "
        f"| I/O floor {floor:6.1f} s, end to end {floor / m.wall:.1%} of it "
        f"| P {score.precision:.3f} R {score.recall:.3f} F1 {score.f1:.3f}",
        flush=True,
    )
    print(f"        steps (s, summed over partitions): {step_seconds(root)}", flush=True)
    if s3 is not None:
        for name, (n, size, logs) in bench_cluster.files_per_table(str(root), s3).items():
            print(f"        {name}: {n} data files {size / 1e6:.1f} MB current + older, {logs} log files")
        return
    assert isinstance(root, Path)
    for name, line in files_per_table(root).items():
        print(f"        {name}: {line}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--docs", default="1000,10000", help="corpus sizes, comma-separated (100000 takes long)"
    )
    parser.add_argument("--per-date", type=int, default=100, help="documents per arrival date")
    parser.add_argument("--work", type=Path, default=Path("/tmp/warehouse-bench-backfill"))
    parser.add_argument("--s3", action="store_true", help="the root on a moto S3 server started here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    s3 = None
    if args.s3:
        s3, server = bench_cluster.start_s3(args.work)
        s3["XDG_STATE_HOME"] = str(args.work / "state")
        os.environ.update(s3)  # this process reads the bucket back; the backfill inherits it
    try:
        for docs in (int(d) for d in args.docs.split(",")):
            bench(docs, args.per_date, args.work, s3)
    finally:
        if args.s3:
            bench_cluster.stop([server])


if __name__ == "__main__":
    main()
