"""Each hostile case of `tests/hostile.py` alone beside one good report, in a partition of its own, run in
a child process: outcome, wall seconds, peak RSS of the child, and the good report's facts (rows lost = 0
when they are all there). Plus the issue's larger bombs: a .docx of 3 GB of zeros, a 9-level YAML bomb.

    .venv/bin/python benchmarks/bench_hostile.py [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests"))

from hostile import CASES, GOOD, SAMPLE, STAGED, Case, build  # noqa: E402

from warehouse import storage  # noqa: E402

DAY = date(2024, 6, 1)


def _bomb_3g(path: Path) -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package,
        package.open("word/document.xml", "w", force_zip64=True) as entry,
    ):
        for _ in range(3072):
            entry.write(b"\0" * 2**20)
    path.write_bytes(buffer.getvalue())


def _long(megabytes: int) -> Callable[[Path], None]:
    """One report of about `megabytes` MB: the good report's paragraphs over and over."""

    def make(path: Path) -> None:
        body = next(SAMPLE.glob(f"*/{GOOD}")).read_text(encoding="utf-8").split("\n", 1)[1]
        reps = megabytes * 10**6 // len(body.encode()) + 1
        path.write_text("某县衔接工作报告（长文）\n" + body * reps, encoding="utf-8")

    return make


EXTRA = [
    Case("bomb3g.docx", ".docx zip bomb, 3 GB of zeros", _bomb_3g, STAGED, "refused before inflating"),
    Case("long8.txt", "one 8 MB report (within the limits)", _long(8), None),
    Case("long50.txt", "one 50 MB report", _long(50), STAGED, "too long"),
]


def measure(case: Case | None, work: Path) -> tuple[str, float, float, int, int]:
    """(outcome, seconds, peak RSS MB, good facts, hostile file bytes) of one case (None: the good report
    alone, the baseline)."""
    zone = build(work / "zone" / DAY.isoformat(), [case] if case else [])
    shutil.copy(next(SAMPLE.glob(f"*/{GOOD}")), zone / GOOD)
    size = (zone / case.name).lstat().st_size if case else 0
    root = work / "root"
    driver = [
        sys.executable,
        str(PROJECT / "tests" / "faults.py"),
        "none",
        str(root),
        str(zone.parent),
        str(DAY),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(driver, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        return f"CRASHED: {proc.stderr.read().decode()[-300:] if proc.stderr else ''}", seconds, 0, 0, size
    outcome = "published"
    for table in ("raw/documents", "staged/documents", "curated/indicators"):
        q = storage.read_table(root, "quarantine", table)
        for name, reason in q.select("source_file", "reason").iter_rows() if q is not None else []:
            if case and name == case.name:
                outcome = f"quarantine/{table}: {reason}"
    facts = storage.read_table(root, "curated", "indicators")
    good = facts.filter(facts["source_file"] == GOOD).height if facts is not None else 0
    return outcome, seconds, usage.ru_maxrss / 1024, good, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="case file names, comma-separated")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) - {""}
    cases = [c for c in [*CASES, *EXTRA] if not wanted or c.name in wanted]
    print(f"{'case':<52} {'bytes':>12} {'s':>6} {'RSS MB':>7} {'good facts':>10}  outcome")
    for case in [None, *cases]:
        with tempfile.TemporaryDirectory() as work:
            outcome, s, rss, good, size = measure(case, Path(work))
        fault = case.fault if case else "(baseline: the good report alone)"
        print(f"{fault[:52]:<52} {size:>12,} {s:>6.1f} {rss:>7.0f} {good:>10}  {outcome[:110]}", flush=True)


if __name__ == "__main__":
    main()
