"""A published snapshot read from object storage: a real S3 endpoint (`moto_server` on 127.0.0.1, started
here and stopped after) holding the sample's curated layer; the read API, `sql` and `report` give what
they give on the local root. Connection settings are given once (`ObjectStore`) and spelled for fsspec,
polars and pyarrow apart."""

import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import _free_port, _stop
from typer.testing import CliRunner

from warehouse import read, sql
from warehouse.cli import app
from warehouse.objectstore import ObjectStore

BUCKET = "wh-test"
KEYS = {"key": "test-key", "secret": "test-secret", "region": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """http://127.0.0.1:PORT of a moto S3 server with the bucket `wh-test`."""
    import boto3

    folder = tmp_path_factory.mktemp("s3")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with (folder / "moto.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=KEYS["key"],
            aws_secret_access_key=KEYS["secret"],
            region_name=KEYS["region"],
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        _stop(process)


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
