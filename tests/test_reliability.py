"""Crashes at every step boundary, runs at the same time, and the retry rule: readers always see one whole
snapshot (old or new), and the next run repairs everything."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from conftest import PROJECT, SAMPLE
from faults import BOUNDARIES, CRASHED, run, run_in_child

from warehouse import ledger, read, storage

D1, D2, D3 = date(2024, 1, 2), date(2024, 3, 1), date(2024, 5, 1)
X = ["000_7918e978ecdb11ee.txt", "001_a6102de60200c6f7.txt"]  # D2's first arrival
Y = ["000_7918e978ecdb11ee.txt", "003_f8938122c2925442.txt"]  # D2 again, one document changed
LATER = ["004_9fd3efb27d8e354d.txt"]  # D3


def _landing(folder: Path, days: dict[date, list[str]]) -> Path:
    for day, names in days.items():
        (folder / day.isoformat()).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(next(SAMPLE.glob(f"*/{name}")), folder / day.isoformat() / name)
    return folder


@pytest.fixture(scope="module")
def zones(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("zones")
    first = _landing(base / "first", {D1: ["002_a868361655b41d42.txt"], D2: X, D3: LATER})
    with (first / D3.isoformat() / LATER[0]).open("a", encoding="utf-8") as other:  # other bytes, same text
        other.write("\n")
    return {"first": first, "second": _landing(base / "second", {D2: Y, D3: LATER})}


def _published(root: Path, zones: dict[str, Path]) -> None:
    """The state before the crash: D1 and D2 (X) published, snapshot current."""
    run(root, zones["first"], D1)
    run(root, zones["first"], D2)


def state(root: Path) -> dict[str, frozenset[str]]:
    """What a consumer sees, after checking the snapshot's referential integrity."""
    snap = read.snapshot(root)
    facts = snap.indicators().collect()
    panel, documents = snap.panel().collect(), snap.documents().collect()
    assert set(panel["chosen_fact_id"]) <= set(facts["fact_id"]), "panel cites a fact not in indicators"
    assert set(facts["doc_id"]) <= set(documents["doc_id"]), "a fact cites a document not in documents"
    assert facts["fact_id"].is_unique().all()
    return {"facts": frozenset(facts["fact_id"]), "documents": frozenset(documents["doc_id"])}


@pytest.fixture(scope="module")
def reference(zones, tmp_path_factory) -> dict[str, dict[str, frozenset[str]]]:
    """The states of runs that never crashed: before; after D2 (Y); after D3 too."""
    root = tmp_path_factory.mktemp("reference")
    _published(root, zones)
    before = state(root)
    run(root, zones["second"], D2)
    middle = state(root)
    run(root, zones["second"], D3)
    assert len({before["facts"], middle["facts"], state(root)["facts"]}) == 3  # the runs change facts
    return {"before": before, "middle": middle, "after": state(root)}


def _crash(boundary: str, root: Path, landing: Path, day: date) -> None:
    proc = subprocess.run(
        [sys.executable, str(PROJECT / "tests" / "faults.py"), boundary, str(root), str(landing), str(day)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT,
    )
    assert proc.returncode == CRASHED, (
        f"did not die at {boundary!r}: {proc.returncode}\n{proc.stderr[-2000:]}"
    )


def _repaired(root: Path) -> None:
    """Nothing half-done is left: no publish intent, no staging folder, a current snapshot, one JSON
    object per audit line."""
    assert ledger.pending_publishes(root) == set()
    assert [p.name for p in (root / storage.STAGING).glob("*")] == []
    manifest = read.manifest(root)
    published = {
        d.isoformat(): r.run_id for d, r in ledger.read_ledger(root).items() if r.status == "published"
    }
    assert manifest["partitions"] == published
    for line in (root / storage.AUDIT / "runs.jsonl").read_text(encoding="utf-8").splitlines():
        json.loads(line)


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
def test_a_crash_at_any_step_leaves_one_whole_snapshot_and_the_next_runs_repair_it(
    boundary, zones, reference, tmp_path
):
    root = tmp_path / "root"
    _published(root, zones)
    _crash(boundary, root, zones["second"], D2)
    seen = state(root)  # a reader right after the crash: the old snapshot, or the new one, whole
    assert seen == reference["middle" if boundary == "after the manifest switch" else "before"]
    run(root, zones["second"], D3)  # another partition's run first: its snapshot is whole too
    state(root)
    run(root, zones["second"], D2)  # then the crashed date again
    assert state(root) == reference["after"]
    _repaired(root)


@pytest.mark.parametrize("days", [(D2, D3), (D2, D2)], ids=["two dates", "one date"])
def test_two_runs_at_once_on_one_root_leave_a_whole_snapshot(days, zones, reference, tmp_path):
    """Two processes start together, each running its date (two dates, or both one date) four times from
    alternating landing zones, so publishes and snapshot builds overlap; a reader keeps reading meanwhile.
    Every read is one whole snapshot, and the end state is the one of the last runs."""
    root = tmp_path / "root"
    _published(root, zones)
    landings = ",".join(str(zones[z]) for z in ("first", "second") * 4)
    driver = [sys.executable, str(PROJECT / "tests" / "faults.py"), "none", str(root), landings]
    procs = [subprocess.Popen([*driver, str(day)], cwd=PROJECT, stderr=subprocess.PIPE) for day in days]
    reads = 0
    while any(p.poll() is None for p in procs):
        state(root)
        reads += 1
    for p in procs:
        assert p.wait() == 0, p.stderr.read().decode()[-2000:] if p.stderr else ""
    assert reads > 0
    assert state(root) == reference["after" if days == (D2, D3) else "middle"]
    _repaired(root)


@pytest.mark.parametrize(
    ("error", "retried"),
    [(TimeoutError("task timed out"), False), (OSError(5, "EIO"), True), (ValueError("contract"), False)],
)
def test_io_errors_are_retried_timeouts_and_other_failures_are_not(error, retried):
    from flows.partition import retry_on_io_error

    class State:
        def result(self):
            raise error

    assert retry_on_io_error(None, None, State()) is retried


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes whose parent is `pid`."""
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields["PPid"]) == pid and not fields["State"].startswith("Z"):
            out.append((int(status.parent.name), cmdline))
    return out


def _alive(pid: int) -> bool:
    try:
        return not (Path(f"/proc/{pid}/status").read_text().split("State:\t", 1)[1].startswith("Z"))
    except (OSError, IndexError):
        return False


@pytest.mark.prefect
def test_the_temporary_server_dies_with_a_run_killed_by_sigkill(tmp_path):
    import os
    import signal
    import time

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PREFECT_API_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
    }
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    cli = [
        sys.executable,
        "-m",
        "warehouse",
        "run",
        "--source",
        str(SAMPLE),
        "--root",
        str(tmp_path / "root"),
    ]
    proc = subprocess.Popen(cli, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, server = time.monotonic() + 180, None
    while server is None and time.monotonic() < deadline and proc.poll() is None:
        server = next((pid for pid, cmd in _children(proc.pid) if "server:create_app" in cmd), None)
        time.sleep(0.2)
    assert server is not None, "the run started no temporary server"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(server), "the temporary server outlived its killed parent"


PEAK_RSS_BOUND_MB = 1024


def _facts_by_file(root: Path) -> dict[str, set[tuple]]:
    facts = storage.read_table(root, "curated", "indicators")
    out: dict[str, set[tuple]] = {}
    for f in facts.iter_rows(named=True) if facts is not None else []:
        out.setdefault(f["source_file"], set()).add(
            (f["indicator"], f["region_code"], f["year"], f["value"], f["role"])
        )
    return out


def test_a_hostile_landing_zone_is_quarantined_case_by_case_and_good_documents_keep_their_facts(tmp_path):
    """Every hostile case beside the five sample documents in one partition, run in a child process: it
    does not crash, each case gets its quarantine record with its reason (or, for odd encodings and names,
    the facts of the document it was made from), every file is accounted for, the sample documents' facts
    are those of a run without the hostile files, and the peak memory stays bounded."""

    from hostile import CASES, TRADITIONAL, build, quarantine_reasons

    day = date(2024, 6, 1)
    good = sorted(SAMPLE.glob("*/*.txt"))
    clean_zone = tmp_path / "clean" / day.isoformat()
    clean_zone.mkdir(parents=True)
    for path in [*good, TRADITIONAL]:
        shutil.copy(path, clean_zone / path.name)
    run(tmp_path / "clean-root", clean_zone.parent, day)
    expected = _facts_by_file(tmp_path / "clean-root")

    zone = build(tmp_path / "hostile" / day.isoformat())
    for path in good:
        shutil.copy(path, zone / path.name)
    root = tmp_path / "root"
    child = run_in_child(root, zone.parent, day)
    assert child.exit_code == 0, child.stderr[-3000:]
    assert child.peak_rss_mb < PEAK_RSS_BOUND_MB
    quarantined = quarantine_reasons(root)
    staged = set(storage.read_table(root, "staged", "documents")["source_file"])
    assert staged | set(quarantined) == {p.name for p in zone.iterdir()}, (
        "a file neither staged nor quarantined"
    )
    facts = _facts_by_file(root)
    for case in CASES:
        if case.layer is None:
            assert case.name in staged and facts[case.name] == expected[case.same_as], case.fault
        else:
            table, reason = quarantined[case.name]
            assert (table, case.reason in reason) == (case.layer, True), f"{case.fault}: {table}: {reason}"
    for path in good:
        assert facts.get(path.name, set()) == expected.get(path.name, set()), path.name
    assert not Path("/tmp/pwned").exists()
