"""Command-line conventions: tables for results, files on request, exit codes (0 ok, 1 failed, 2 bad use)."""

import polars as pl
from typer.testing import CliRunner

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
