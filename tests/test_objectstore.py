"""The warehouse on object storage: a real S3 endpoint (`moto_server` on 127.0.0.1, started for the
session and stopped after). A published snapshot copied there reads as it does locally (read API, `sql`,
`report`; connection settings given once, `ObjectStore`, and spelled for fsspec, polars and pyarrow
apart); runs and backfills write an s3:// root themselves and give the facts of a local run."""

import json
import os
from datetime import date

import polars as pl
import pytest
from conftest import BUCKET, DEV_GOLD, KEYS, SAMPLE
from typer.testing import CliRunner

from warehouse import ledger, read, sql, storage
from warehouse.cli import app
from warehouse.objectstore import ObjectStore

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def remote(s3_endpoint, sample_run):
    """The sample's published curated layer copied to s3://wh-test/warehouse; (url, store)."""
    import s3fs

    store = ObjectStore(endpoint_url=s3_endpoint, **KEYS)
    fs = s3fs.S3FileSystem(**store.fsspec_options())
    fs.put(str(sample_run / "curated"), f"{BUCKET}/warehouse/curated", recursive=True)
    return f"s3://{BUCKET}/warehouse", store


@pytest.fixture
def no_aws_environment(monkeypatch):
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


def test_each_library_gets_the_settings_in_its_own_spelling():
    store = ObjectStore(endpoint_url="http://127.0.0.1:9000", key="k", secret="s", region="eu-west-1")
    assert store.fsspec_options() == {
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"},
    }
    assert store.polars_options() == {
        "aws_endpoint_url": "http://127.0.0.1:9000",
        "aws_region": "eu-west-1",
        "aws_access_key_id": "k",
        "aws_secret_access_key": "s",
        "aws_allow_http": "true",
    }
    fs = store.arrow_filesystem()
    assert fs.region == "eu-west-1"  # its endpoint is exercised by the sql test below
    assert ObjectStore().fsspec_options() == {} and ObjectStore().polars_options() == {}  # the default chain
    env = {"AWS_ENDPOINT_URL": "http://h:1", "AWS_DEFAULT_REGION": "r", "AWS_PROFILE": "p"}
    assert ObjectStore.from_env(env) == ObjectStore(endpoint_url="http://h:1", region="r", profile="p")


def test_the_read_api_over_s3_gives_the_local_tables(remote, sample_run, no_aws_environment):
    url, store = remote
    there, here = read.snapshot(url, store), read.snapshot(sample_run)
    assert there.manifest == here.manifest
    for name in read.TABLES:
        assert there.table(name).collect().equals(here.table(name).collect()), name
    filtered = read.panel(url, region="四川省", store=store).collect()
    assert filtered.height > 0 and filtered.equals(read.panel(sample_run, region="四川省").collect())


def test_sql_over_s3_reads_through_arrow_without_duckdb_extensions(remote, sample_run, no_aws_environment):
    url, store = remote
    statement = "SELECT indicator, count(*) AS n, sum(value) AS total FROM indicators GROUP BY 1 ORDER BY 1"
    got = sql.query(url, statement, store)
    assert got.height > 0 and got.equals(sql.query(sample_run, statement))
    joined = "SELECT count(*) FROM indicator_panel p JOIN regions r USING (region_code)"
    assert sql.query(url, joined, store).item() == sql.query(sample_run, joined).item() > 0


def test_a_profile_of_the_aws_files_is_resolved_for_every_library(remote, sample_run, tmp_path, monkeypatch):
    url, store = remote
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[wh]\naws_access_key_id = {KEYS['key']}\naws_secret_access_key = {KEYS['secret']}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    by_profile = ObjectStore(endpoint_url=store.endpoint_url, region="us-east-1", profile="wh")
    assert by_profile.resolved().key == KEYS["key"]
    assert read.documents(url, store=by_profile).collect().equals(read.documents(sample_run).collect())
    with pytest.raises(Exception, match="wh-missing"):
        ObjectStore(profile="wh-missing").resolved()


def test_the_cli_reads_an_s3_root_with_the_environment_settings(remote, tmp_path, monkeypatch):
    url, store = remote
    monkeypatch.setenv("AWS_ENDPOINT_URL", store.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEYS["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEYS["secret"])
    monkeypatch.setenv("AWS_REGION", KEYS["region"])
    runner = CliRunner()
    out = tmp_path / "result.parquet"
    done = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM indicators", "--root", url, "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert pl.read_parquet(out)["n"].item() == read.indicators(url).collect().height > 0
    page = tmp_path / "report.html"
    done = runner.invoke(app, ["report", "--root", url, "--out", str(page)])
    assert done.exit_code == 0 and page.read_text(encoding="utf-8").count("<svg") > 0, done.output
    assert runner.invoke(app, ["report", "--root", url]).exit_code == 2  # where would it go?
    missing = runner.invoke(app, ["sql", "SELECT 1", "--root", f"s3://{BUCKET}/nothing-here"])
    assert missing.exit_code == 2 and "error:" in missing.output


# Runs and backfills writing a root on S3: Delta tables, manifests and ledger records are objects of the
# bucket; staging, cache, locks and GX stores are in the machine's work folder (XDG_STATE_HOME here).


def _upload_sample(prefix):
    """The sample landing zone copied to s3://wh-test/<prefix>; its URL."""
    from warehouse import location

    fs = location._fs(f"s3://{BUCKET}")
    fs.put(str(SAMPLE), f"{BUCKET}/{prefix}", recursive=True)
    return f"s3://{BUCKET}/{prefix}"


def _facts(root, store=None):
    return read.indicators(root, store=store).collect().drop("arrival_date").sort("fact_id")


@pytest.mark.prefect
def test_a_run_and_a_backfill_write_an_s3_root_that_every_reader_reads(
    prefect_server, s3_environment, sample_run, tmp_path, monkeypatch
):
    from warehouse import location

    monkeypatch.chdir(tmp_path)
    zone, url, runner = _upload_sample("runs/landing"), f"s3://{BUCKET}/runs/wh", CliRunner()
    done = runner.invoke(app, ["run", "--source", zone, "--root", url])
    assert done.exit_code == 0, done.output
    assert _facts(url).equals(_facts(sample_run)) and _facts(url).height > 0
    raw = storage.read_table(url, "raw", "documents").select("doc_id", "source_path").sort("doc_id")
    assert raw.equals(storage.read_table(sample_run, "raw", "documents").select(raw.columns).sort("doc_id"))
    records = location.names(url, "_ledger", ".json")
    assert len(records) == len(ledger.read_ledger(sample_run)) == 5  # the ledger is on the root
    assert not any(p.name.startswith("s3:") for p in tmp_path.rglob("*"))  # nothing local named after it
    work = location.work_dir(url)
    assert work.is_relative_to(s3_environment) and (work / "quality" / "index.html").is_file()
    assert not list((work / storage.STAGING).glob("*"))  # staged, audited, committed, removed
    first = read.manifest(url)

    # the ledger on the bucket is what a rerun trusts: nothing to do
    args = ["backfill", "--start", "2020-10-14", "--end", "2024-01-02", "--source", zone, "--root", url]
    done = runner.invoke(app, args)
    assert done.exit_code == 0 and done.output.count("│ skipped │") == 5, done.output
    done = runner.invoke(app, [*args, "--mode", "all", "--executor", "processes"])
    assert done.exit_code == 0, done.output
    assert _facts(url).equals(_facts(sample_run))  # partitions replaced, not duplicated
    assert read.manifest(url)["snapshot"] != first["snapshot"]
    statement = "SELECT count(*) AS n FROM indicators"
    assert sql.query(url, statement).item() == sql.query(sample_run, statement).item()
    page = tmp_path / "report.html"
    done = runner.invoke(app, ["report", "--root", url, "--out", str(page)])
    assert done.exit_code == 0 and page.read_text(encoding="utf-8").count("<svg") > 0, done.output
    scored = runner.invoke(app, ["evaluate", "--gold", str(DEV_GOLD), "--root", url, "--json"])
    assert scored.exit_code == 0 and json.loads(scored.output)["f1"] == 1.0, scored.output

    done = runner.invoke(app, ["vacuum", "--root", url, "--retention-hours", "0"])
    assert done.exit_code == 0, done.output
    assert location.names(url, "curated/_snapshots", ".json") == [f"{read.manifest(url)['snapshot']}.json"]
    with pytest.raises(FileNotFoundError):
        read.snapshot(url, snapshot_id=first["snapshot"])
    assert _facts(url).equals(_facts(sample_run))  # the current snapshot stays whole


@pytest.mark.prefect
def test_a_backfill_of_an_s3_root_in_worker_processes_gives_the_local_facts(
    prefect_server, s3_environment, sample_run
):
    from flows.backfill import backfill_flow

    url = f"s3://{BUCKET}/backfill/wh"
    table = backfill_flow(date(2020, 10, 14), date(2024, 1, 2), str(SAMPLE), url, "missing", 2, "processes")
    assert {r["status"] for r in table if r["status"] != "empty"} <= {"published", "flagged"}
    assert _facts(url).equals(_facts(sample_run))
    assert sorted(storage.versions(url)) == sorted(storage.versions(sample_run))  # the same 11 tables


def _machine(name: str, first: str, last: str, zone: str, root: str, state: object, *args: str):
    """`python -m warehouse backfill` as another machine would run it: a process with a work folder of
    its own (its staging, locks and publish intents: nothing in common with the other but the bucket)."""
    import subprocess
    import sys

    from conftest import PROJECT

    env = os.environ | {"XDG_STATE_HOME": f"{state}/{name}"}
    command = [sys.executable, "-m", "warehouse", "backfill", "--start", first, "--end", last]
    command += ["--source", zone, "--root", root, "--executor", "local", *args]
    return subprocess.Popen(
        command, env=env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.prefect
def test_two_machines_backfilling_one_s3_root_at_once_lose_nothing(
    prefect_server, s3_environment, sample_run
):
    """Two machines backfill different dates of one S3 root at the same time: every date and every fact
    is kept, and the snapshot covers all five dates whichever machine wrote its manifest last. (One date
    written by two writers at once: test_storage, on S3 too; snapshot tables replaced by two machines at
    once: test_snapshot.)"""
    from warehouse import snapshot

    zone, url = _upload_sample("machines/landing"), f"s3://{BUCKET}/machines/wh"
    a = _machine("a", "2020-10-14", "2021-12-31", zone, url, s3_environment)
    b = _machine("b", "2022-01-01", "2024-01-02", zone, url, s3_environment)
    outputs = [m.communicate(timeout=600)[0] for m in (a, b)]
    assert [a.returncode, b.returncode] == [0, 0], outputs
    records = ledger.read_ledger(url)
    assert len(records) == 5 and {r.status for r in records.values()} <= {"published", "flagged"}
    assert _facts(url).equals(_facts(sample_run)) and snapshot.is_current(url)
    assert len(read.manifest(url)["partitions"]) == 5


@pytest.mark.parametrize("name", ["partition_flow", "run_flow", "backfill_flow"])
def test_a_flow_run_with_a_root_it_cannot_write_fails_at_once_saying_why(name, s3_environment, tmp_path):
    """A deployment's run is not checked by the CLI: the flow probes its root before any work."""
    import flows.backfill
    import flows.partition

    flow = getattr(flows.backfill, name, None) or getattr(flows.partition, name)
    day, url = date(2022, 2, 9), "s3://no-such-bucket/wh"
    args = {
        "partition_flow": (day, str(SAMPLE), url),
        "run_flow": (str(SAMPLE), url),
        "backfill_flow": (day, day, str(SAMPLE), url),
    }[name]
    with pytest.raises(ValueError, match="cannot write to the warehouse root s3://no-such-bucket/wh"):
        flow.fn(*args)
    assert not list((tmp_path / "state").glob("**/_staging/*"))  # nothing was staged


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("s3://no-such-bucket/wh", "cannot write to the warehouse root s3://no-such-bucket/wh"),
        ("gs://bucket/wh", "only local folders (or file:///path) and s3://bucket/prefix URLs are supported"),
        ("s3://", "names no bucket"),
    ],
)
def test_a_root_that_cannot_be_written_is_a_usage_error_before_anything_runs(
    root, message, s3_environment, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["run", "--root", root])
    assert done.exit_code == 2 and message in done.output, done.output
    assert list(tmp_path.iterdir()) == [tmp_path / "state"] or list(tmp_path.iterdir()) == []


def test_a_publish_that_died_between_commits_on_s3_is_completed_by_the_next_run(
    s3_environment, sample_run, monkeypatch
):
    from warehouse import location, pipeline

    day, url = date(2022, 2, 9), f"s3://{BUCKET}/crash/wh"
    files = sorted((SAMPLE / day.isoformat()).iterdir())
    real, calls = storage.commit_partition, []

    def dies_before_the_fourth(root, layer, table, *args):
        calls.append(f"{layer}/{table}")
        if len(calls) == 4:  # raw, staged documents and mentions committed; curated not
            raise KeyboardInterrupt("the machine went away")
        return real(root, layer, table, *args)

    monkeypatch.setattr(storage, "commit_partition", dies_before_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_partition(files, day, SAMPLE, url, "crashed", quality=False)
    monkeypatch.setattr(storage, "commit_partition", real)
    assert (
        calls[-1] == "curated/indicators" and storage.read_partition(url, *calls[-1].split("/"), day) is None
    )
    assert ledger.read_record(url, day) is None and ledger.intent_path(url, day).exists()
    assert ledger.intent_path(url, day).is_relative_to(location.work_dir(url))  # this machine's
    assert ledger.plan(day, day, SAMPLE, url)[0].reason.startswith("publish interrupted")

    assert ledger.recover(url) == [day]  # what the next run does first
    assert ledger.read_record(url, day).status == "published" and not ledger.intent_path(url, day).exists()
    for layer, table in pipeline.TABLES:
        got = storage.read_partition(url, layer, table, day).drop("ingested_at", strict=False)
        want = storage.read_partition(sample_run, layer, table, day).drop("ingested_at", strict=False)
        assert sorted(got["doc_id"]) == sorted(want["doc_id"]) and got.height == want.height, table


def test_an_s3_landing_zone_is_mirrored_exactly_and_only_what_changed_is_downloaded(s3_environment, tmp_path):
    from warehouse import landing, location

    zone = _upload_sample("mirror/landing")
    fs, key = location._fs(zone), zone[len("s3://") :]
    fs.pipe_file(f"{key}/loose.txt", b"loose")
    first = landing.mirror(zone, tmp_path)
    local = sorted(p.relative_to(first.folder).as_posix() for p in first.folder.rglob("*") if p.is_file())
    assert local == sorted(k[len(key) + 1 :] for k in fs.find(key)) and first.downloaded == 6
    assert landing.mirror(zone, tmp_path).downloaded == 0  # nothing changed: nothing fetched

    day = sorted(p.name for p in SAMPLE.iterdir())[0]
    (name,) = [p.name for p in (SAMPLE / day).iterdir()]
    fs.pipe_file(f"{key}/{day}/{name}", b"changed")  # a document replaced under the same key
    fs.pipe_file(f"{key}/2030-01-01/new.txt", b"new")
    fs.rm(f"{key}/2022-02-09", recursive=True)  # a whole date folder withdrawn
    fs.pipe_file(f"{key}/2030-01-02/../escape.txt", b"x")
    fs.pipe_file(f"{key}/2030-01-03/a", b"a file")
    fs.pipe_file(f"{key}/2030-01-03/a/b", b"and a folder of the same name")
    again = landing.mirror(zone, tmp_path, (date(2020, 1, 1), date(2030, 12, 31)))
    assert (again.folder / day / name).read_bytes() == b"changed"
    assert (again.folder / "2030-01-01" / "new.txt").read_bytes() == b"new"
    assert not (again.folder / "2022-02-09").exists() and again.removed == 1  # the date is gone, folder too
    assert again.downloaded == 3 and not (tmp_path / "escape.txt").exists()
    assert any("2030-01-02/../escape.txt" in r for r in again.refused)
    assert any("2030-01-03/a/b" in r and "clashes" in r for r in again.refused)
    assert not [p for p in again.folder.rglob("*") if p.name.startswith(".")]  # no partial downloads in it

    fs.pipe_file(f"{key}/2030-01-01/new.txt", b"newer")
    one = landing.mirror(zone, tmp_path, date(2030, 1, 1))  # one date: only its folder is listed
    assert one.downloaded == 1 and (one.folder / "2030-01-01" / "new.txt").read_bytes() == b"newer"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        landing.mirror(f"s3://{BUCKET}/mirror/nothing", tmp_path)
