"""Each hostile case of `tests/hostile.py` alone beside one good report, in a partition of its own, run in
a child process: outcome, wall seconds, peak RSS of the child, and the good report's facts (rows lost = 0
when they are all there). Plus the issue's larger bombs: a .docx of 3 GB of zeros, a 9-level YAML bomb.

    .venv/bin/python benchmarks/bench_hostile.py [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests"))

from faults import run_in_child  # noqa: E402
from hostile import CASES, GOOD, SAMPLE, STAGED, Case, build, quarantine_reasons, zip_bomb  # noqa: E402

from warehouse import storage  # noqa: E402

DAY = date(2024, 6, 1)


def _long(megabytes: int) -> Callable[[Path], None]:
    """One report of about `megabytes` MB: the good report's paragraphs over and over."""

    def make(path: Path) -> None:
        body = next(SAMPLE.glob(f"*/{GOOD}")).read_text(encoding="utf-8").split("\n", 1)[1]
        reps = megabytes * 10**6 // len(body.encode()) + 1
        path.write_text("某县衔接工作报告（长文）\n" + body * reps, encoding="utf-8")

    return make


EXTRA = [
    Case(
        "bomb3g.docx",
        ".docx zip bomb, 3 GB of zeros",
        lambda p: p.write_bytes(zip_bomb(3072)),
        STAGED,
        "refused before inflating",
    ),
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
    child = run_in_child(root, zone.parent, DAY)
    if child.exit_code != 0:
        return f"CRASHED: {child.stderr[-300:]}", child.seconds, 0, 0, size
    found = quarantine_reasons(root).get(case.name) if case else None
    outcome = f"quarantine/{found[0]}: {found[1]}" if found else "published"
    facts = storage.read_table(root, "curated", "indicators")
    good = facts.filter(facts["source_file"] == GOOD).height if facts is not None else 0
    return outcome, child.seconds, child.peak_rss_mb, good, size


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
