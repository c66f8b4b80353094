"""Command-line conventions: tables for results, files on request, exit codes (0 ok, 1 failed, 2 bad use)."""

import json
import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from warehouse import read
from warehouse.cli import app

runner = CliRunner()


def test_sql_prints_a_table_and_writes_files(sample_run, tmp_path):
    done = runner.invoke(
        app,
        ["sql", "SELECT indicator, count(*) AS n FROM indicator_panel GROUP BY 1", "--root", str(sample_run)],
    )
    assert done.exit_code == 0 and "indicator" in done.stdout and "rows" in done.stdout
    out = tmp_path / "panel.csv"
    done = runner.invoke(app, ["sql", "SELECT * FROM regions", "--root", str(sample_run), "-o", str(out)])
    assert done.exit_code == 0 and pl.read_csv(out).height > 3000


def test_sql_errors_have_exit_codes(sample_run, tmp_path):
    assert runner.invoke(app, ["sql", "SELEC 1", "--root", str(sample_run)]).exit_code == 1
    assert runner.invoke(app, ["sql", "SELECT 1", "--root", str(tmp_path)]).exit_code == 2
    assert (
        runner.invoke(
            app, ["sql", "SELECT 1", "--root", str(sample_run), "-o", str(tmp_path / "x.json")]
        ).exit_code
        == 2
    )


def test_sql_csv_export_writes_nested_columns_as_json(sample_run, tmp_path):
    out = tmp_path / "panel.csv"
    done = runner.invoke(
        app, ["sql", "SELECT * FROM indicator_panel", "--root", str(sample_run), "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    panel = pl.read_csv(out)
    nested = [c for c, t in read.panel(sample_run).collect_schema().items() if t.is_nested()]
    assert nested, "the panel has list columns"
    for column in nested:
        assert all(isinstance(json.loads(v), list) for v in panel[column].drop_nulls())


def test_usage_errors_are_one_line_and_exit_2_before_any_work(sample_run, tmp_path):
    missing = tmp_path / "no-such-folder" / "panel.csv"
    done = runner.invoke(app, ["sql", "SELECT 1", "--root", str(sample_run), "-o", str(missing)])
    assert done.exit_code == 2 and done.output.strip().splitlines() == [
        f"error: --output folder {missing.parent} does not exist"
    ]
    assert not missing.parent.exists()


def test_the_indicator_catalog_is_a_view_and_a_table(sample_run):
    from warehouse import read, sql

    got = sql.query(sample_run, "SELECT code, unit FROM catalog WHERE name_zh = '衔接资金'")
    assert got.rows() == [("bridging_funds", "CNY")]
    catalog = read.catalog_table().collect()
    assert catalog.height == 32 and {"code", "name_zh", "unit", "definition"} <= set(catalog.columns)


def test_backfill_dry_run_lists_what_would_run_and_why(tmp_path):
    done = runner.invoke(
        app,
        ["backfill", "--start", "2022-02-08", "--end", "2022-02-10", "--root", str(tmp_path), "--dry-run"],
    )
    assert done.exit_code == 0, done.output
    assert "1 of 3 dates would run" in done.stdout and "never run" in done.stdout
    assert not (tmp_path / "_ledger").exists()  # nothing ran
    assert (
        runner.invoke(
            app, ["backfill", "--start", "2022-02-10", "--end", "2022-02-08", "--dry-run"]
        ).exit_code
        == 2
    )


def test_flow_runs_on_the_temporary_server_send_no_heartbeats(monkeypatch, tmp_path):
    """The temporary server has no crash automation: its runs send no heartbeats (Prefect waits out the
    heartbeat thread's sleep at the end of every flow run); against a named server they do (every 30 s)."""
    from prefect.settings import get_current_settings

    from flows import temporary_server
    from warehouse.cli import _temporary_server

    monkeypatch.setenv("PREFECT_API_URL", os.environ.get("PREFECT_API_URL", ""))  # restored afterwards
    monkeypatch.setattr(temporary_server, "start", lambda folder: ("http://127.0.0.1:9/api", None))
    waited = []
    monkeypatch.setattr(temporary_server, "wait_until_ready", lambda *args: waited.append(args) or 0.0)

    def interval() -> int | None:
        return get_current_settings().flows.heartbeat_frequency

    assert _temporary_server(None)(interval) == 30
    assert _temporary_server(str(tmp_path))(interval) is None and len(waited) == 1
    assert interval() == 30  # only inside the run


def test_cli_runs_get_a_prefect_folder_of_their_own_unless_a_server_is_named(tmp_path):
    from warehouse.cli import prefect_environment

    env: dict[str, str] = {"PREFECT_HOME": str(tmp_path / "home")}
    folder = prefect_environment(env)
    assert folder is not None and Path(folder).is_dir() and str(tmp_path / "home") not in folder
    assert not any("DATABASE" in k for k in env) and "PREFECT_API_URL" not in env
    assert env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    assert prefect_environment(second := {}) != folder and second  # every run its own
    named = {"PREFECT_API_URL": "http://127.0.0.1:4200/api"}
    assert prefect_environment(named) is None and "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in named
    chosen = {"PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://h/db"}
    assert prefect_environment(chosen) is None and len([k for k in chosen if "DATABASE" in k]) == 1


@pytest.mark.prefect
def test_the_temporary_server_serves_a_copy_of_the_migrated_template_and_stops(tmp_path):
    import urllib.request

    from flows import temporary_server

    template = temporary_server.template_database()
    before = template.read_bytes()
    url, proc = temporary_server.start(tmp_path)
    try:
        assert temporary_server.wait_until_ready(url, proc, timeout=120) < 120
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(f"{url}/flow_runs/filter", data=b"{}", method="POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read()) == []  # a fresh database: no runs of earlier servers
        assert (tmp_path / "prefect.db").is_file()
    finally:
        temporary_server.stop(proc)
    assert proc.poll() is not None and template.read_bytes() == before  # the template is never served
    with pytest.raises(RuntimeError, match="exited"):
        temporary_server.wait_until_ready(url, proc, timeout=5)


def test_server_commands_need_a_server(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import PROJECT

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path)  # an empty profile: no server named anywhere
    for command in ("server-setup", "worker"):
        done = subprocess.run(
            [sys.executable, "-m", "warehouse", command], capture_output=True, text=True, env=env, cwd=PROJECT
        )
        assert done.returncode == 2 and "PREFECT_API_URL" in done.stderr, done.stderr


def test_usage_errors_name_the_problem_in_one_line(sample_run, tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    cases = [
        (
            ["run", "--source", "sample/landing", "--root", str(tmp_path / "r"), "--date", "2022/01/01"],
            "--date must be a date",
        ),
        (["run", "--source", "sample/landing", "--root", str(a_file)], "is a file, not a folder"),
        (
            ["backfill", "--start", "2022-02-09", "--end", "2022-02-10", "--root", str(a_file), "--dry-run"],
            "is a file",
        ),
        (["backfill", "--start", "2022-2-9", "--end", "2022-02-10", "--dry-run"], "--start must be a date"),
        (
            ["evaluate", "--gold", str(tmp_path / "missing.jsonl"), "--root", str(sample_run)],
            "does not exist",
        ),
        (["sql", "SELECT 1", "--root", str(a_file)], "is a file"),
        (["report", "--root", str(a_file)], "is a file"),
        (["report", "--root", str(sample_run), "--out", str(tmp_path / "no" / "r.html")], "does not exist"),
    ]
    for args, message in cases:
        done = runner.invoke(app, args)
        lines = done.output.strip().splitlines()
        assert done.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (args, done.output)
        assert message in lines[0], (args, lines)
    assert not (tmp_path / "r").exists()  # nothing was started


def test_sql_is_read_only_towards_the_file_system(sample_run, tmp_path):
    """COPY … TO, read_text of other files, ATTACH and INSTALL fail; results go out only through -o."""
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read", encoding="utf-8")
    hostile = [
        f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
        f"SELECT * FROM read_text('{secret}')",
        f"ATTACH '{tmp_path / 'x.duckdb'}'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
    ]
    for statement in hostile:
        done = runner.invoke(app, ["sql", statement, "--root", str(sample_run)])
        assert done.exit_code == 1 and "error:" in done.output, (statement, done.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]
    done = runner.invoke(
        app, ["sql", "SELECT typeof(arrival_date) AS t FROM indicators LIMIT 1", "--root", str(sample_run)]
    )
    assert done.exit_code == 0 and "DATE" in done.output


def test_backfill_dry_run_says_when_the_snapshot_is_older_than_the_ledger(tmp_path):
    """A run that published and died before the snapshot: nothing to run, but the dry run says the backfill
    will rebuild the snapshot."""
    from conftest import SAMPLE

    from warehouse import ingest, pipeline

    day, files = sorted(ingest.discover_partitions(SAMPLE, date(2026, 1, 1)).items())[0]
    pipeline.run_partition(files, day, SAMPLE, tmp_path, "r", quality=False)  # no snapshot after it
    args = ["backfill", "--start", day.isoformat(), "--end", day.isoformat(), "--root", str(tmp_path)]
    done = runner.invoke(app, [*args, "--source", str(SAMPLE), "--dry-run"])
    assert done.exit_code == 0, done.output
    assert "0 of 1 dates would run" in done.stdout and "snapshot: older than the ledger" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--source", "gs://landing/zone"], "only local folders (or file:///path) and s3://bucket/"),
        (["run", "--root", "gs://bucket/warehouse"], "only local folders (or file:///path) and s3://bucket/"),
        (["sql", "select 1", "--root", "az://container/w"], "only local folders (or file:///path) and s3://"),
        (["run", "--root", "file://host/srv/w"], "a file URL names a local path"),
        (["migrate", "--root", "s3://wh-test/w"], "migrate converts a local root"),
    ],
)
def test_a_url_that_cannot_be_used_is_a_usage_error_and_nothing_is_written_to_a_folder_named_after_it(
    args, message, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert list(tmp_path.iterdir()) == []  # no ./s3:/… nor ./gs:/…


@pytest.mark.parametrize(
    ("value", "root"),
    [
        ("s3://b/w", "s3://b/w"),
        ("s3://b/w/", "s3://b/w"),
        ("s3:/b/w", "s3://b/w"),  # what a Path makes of s3://b/w
        ("file:///srv/w", Path("/srv/w")),
        ("file:///srv/a%20b", Path("/srv/a b")),
        ("file://host/w", None),
        ("gs://b/w", None),
        ("s3://", None),
        ("data", Path("data")),
        ("/srv/w", Path("/srv/w")),
        ("C:/w", Path("C:/w")),
        ("./a:b", Path("./a:b")),
    ],
)
def test_settings_take_a_local_or_s3_root_and_landing_zone(value, root):
    from warehouse.settings import Settings

    for name, field in (("WAREHOUSE_ROOT", "root"), ("WAREHOUSE_SOURCE", "source")):
        if root is None:
            with pytest.raises(ValueError, match=name):
                Settings.from_env({name: value})
        else:
            assert getattr(Settings.from_env({name: value}), field) == root


@pytest.mark.parametrize(
    ("executor", "message"),
    [
        ("cluster", "executor must be local, processes, threads, pool or dask://HOST:PORT"),
        ("dask://127.0.0.1", "executor must be"),
        ("dask://h:8786/x", "executor must be"),
        ("pool", "name their server with PREFECT_API_URL"),  # a temporary server has no workers
    ],
)
def test_a_backfill_executor_that_cannot_run_is_a_usage_error(executor, message, tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    args = ["backfill", "--start", "2022-02-08", "--end", "2022-02-09", "--root", str(tmp_path / "r")]
    result = runner.invoke(app, [*args, "--executor", executor])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "r").exists()


def test_the_executor_setting_is_checked_before_a_backfill_plans(tmp_path, monkeypatch):
    """WAREHOUSE_EXECUTOR is the default of --executor: a value that cannot run is a usage error naming it
    (test_backfill: the flow's parameter wins over the setting)."""
    from warehouse.settings import Settings

    monkeypatch.setenv("WAREHOUSE_EXECUTOR", "cluster")
    args = ["backfill", "--start", "2022-02-08", "--end", "2022-02-09", "--root", str(tmp_path / "r")]
    result = runner.invoke(app, [*args, "--dry-run"])
    assert result.exit_code == 2 and "WAREHOUSE_EXECUTOR: executor must be local" in result.output
    monkeypatch.setenv("WAREHOUSE_EXECUTOR", "local")
    result = runner.invoke(app, [*args, "--dry-run", "--source", str(tmp_path)])
    assert result.exit_code == 0 and "dry run: 0 of" in result.output, result.output
    assert Settings.from_env({"WAREHOUSE_EXECUTOR": "dask://h:8786"}).executor == "dask://h:8786"
    assert Settings.from_env({}).executor == "processes"


@pytest.mark.parametrize(("executor", "address"), [("dask://127.0.0.1:8786", "tcp://127.0.0.1:8786")])
def test_a_dask_executor_names_its_scheduler(executor, address):
    from warehouse.settings import check_executor, dask_address

    check_executor(executor)
    assert dask_address(executor) == address


def test_migrate_converts_a_plain_parquet_root_and_rebuilds_its_snapshot(sample_run, tmp_path):
    """A root of the layout before Delta tables (arrival_date=…/part-0.parquet files, a manifest listing
    files) is refused by readers, then converted in place by `warehouse migrate` with the same rows."""
    import shutil

    from warehouse import snapshot, storage

    old = tmp_path / "old"
    for name in storage.versions(sample_run):
        layer, table = name.split("/", 1)
        if name.startswith("curated/") and table in snapshot.SNAPSHOT_MODELS:
            continue  # the snapshot's tables were files of its snapshot folder
        df = storage.read_table(sample_run, layer, table)
        for (day,), part in df.partition_by("arrival_date", as_dict=True).items():
            path = storage.layer_path(old, layer, table, day) / storage.PART_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            part.drop("arrival_date").write_parquet(path)
    shutil.copytree(sample_run / "_ledger", old / "_ledger")
    (old / "curated" / snapshot.SNAPSHOTS / "20250101T000000-abcdef").mkdir(parents=True)
    manifest = {"snapshot": "20250101T000000-abcdef", "tables": {"indicator_panel": ["x.parquet"]}}
    (old / "curated" / snapshot.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(RuntimeError, match="warehouse migrate"):
        read.panel(old)
    done = runner.invoke(app, ["migrate", "--root", str(old)])
    assert done.exit_code == 0, done.output
    assert "curated/indicators" in done.output and not list(old.rglob(storage.PART_FILE))
    for name in ("indicators", "indicator_panel", "documents"):
        key = {"indicators": "fact_id", "documents": "doc_id"}.get(name, "chosen_fact_id")
        got, want = (
            read.table(name, old).collect().sort(key),
            read.table(name, sample_run).collect().sort(key),
        )
        assert got.select(want.columns).equals(want), name
    again = runner.invoke(app, ["migrate", "--root", str(old)])
    assert again.exit_code == 0 and "(no rows)" in again.output  # converted already: nothing to do


def _deleted(output: str, table: str) -> str:
    return next(line for line in output.splitlines() if table in line).split()[-2]


def test_vacuum_command_deletes_replaced_files_past_the_retention(sample_run, tmp_path):
    import shutil

    from warehouse import snapshot

    root = tmp_path / "root"
    shutil.copytree(sample_run, root)
    snapshot.publish(root)  # the first snapshot's panel, regions and documents are replaced
    kept = runner.invoke(app, ["vacuum", "--root", str(root)])
    assert kept.exit_code == 0 and "curated/indicator_panel" in kept.output and "warning" not in kept.output
    half = runner.invoke(app, ["vacuum", "--root", str(root), "--retention-hours", "0.5"])
    assert half.exit_code == 0 and "not committed yet" in half.output, half.output
    assert _deleted(half.output, "curated/indicator_panel") == "0"  # half an hour is kept, not cut to 0
    done = runner.invoke(app, ["vacuum", "--root", str(root), "--retention-hours", "0"])
    assert done.exit_code == 0, done.output
    assert _deleted(done.output, "curated/indicator_panel") == "1"  # one file deleted
    assert read.panel(root).collect().height > 0
    bad = runner.invoke(app, ["vacuum", "--root", str(root), "--retention-hours", "-1"])
    assert bad.exit_code == 2 and "zero or more" in bad.output
