"""Command line: `python -m warehouse run|backfill|sql|report|evaluate|dictionary|vacuum|migrate|server-setup|worker`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, MutableMapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from flows import server  # constants and set-up only: Prefect itself is imported when a command runs
from warehouse import location
from warehouse.landing import Days
from warehouse.location import Root, parse_root
from warehouse.settings import RETENTION_HOURS, Settings, check_executor

T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Rural-revitalization indicator warehouse.",
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,  # plain help: flags read as flags (the rich layout shows them as <bool>)
)

SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="landing zone: a folder (default: the bundled sample; env WAREHOUSE_SOURCE) or s3://BUCKET/PREFIX "
        "(mirrored into the root's work folder)",
    ),
]
RootOption = Annotated[
    str | None,
    typer.Option(
        "--root",
        help="warehouse root: a folder (default ./data; env WAREHOUSE_ROOT) or s3://BUCKET/PREFIX (reached "
        "through AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE or the AWS_* keys)",
    ),
]
ReadRootOption = Annotated[
    str | None,
    typer.Option(
        "--root",
        help="warehouse root (default ./data; env WAREHOUSE_ROOT), or s3://BUCKET/PREFIX of a published "
        "snapshot (reached through AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE or the AWS_* keys)",
    ),
]

PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "GX_ANALYTICS_ENABLED": "false",
    # against a server, runs send a heartbeat every 30 s: what the crash automation (server-setup) expects
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
}
DATABASE_SETTINGS = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")


def _prefect_defaults(env: MutableMapping[str, str]) -> None:
    for key, value in PREFECT_DEFAULTS.items():
        env.setdefault(key, value)


def prefect_environment(environ: MutableMapping[str, str] | None = None) -> str | None:
    """Set Prefect's defaults before it is imported. Without PREFECT_API_URL (or a database setting) a run
    needs a temporary server: returns the run's own temporary folder for it (removed at exit), never the
    ``$PREFECT_HOME`` of a long-running `prefect server start`; None when a server is named."""
    import atexit
    import shutil
    import tempfile

    env = os.environ if environ is None else environ
    _prefect_defaults(env)
    if env.get("PREFECT_API_URL") or any(env.get(k) for k in DATABASE_SETTINGS):
        return None
    folder = tempfile.mkdtemp(prefix="warehouse-prefect-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _temporary_server(folder: str | None) -> Callable[[Callable[[], T]], T]:
    """With `folder` (no server named), start the run's temporary server now (`flows.temporary_server`:
    a pre-migrated database; it boots while the run imports Prefect) and point this process at it. Returns
    what runs the flows: on the temporary server it waits for the server to answer, and the flow runs send
    no heartbeats (that server has no crash automation and dies with the run; and Prefect joins a flow run's
    heartbeat thread when the run ends, which waits out its 1 s sleep: ~0.5 s per flow run, ~2 s of the
    six flow runs of `make run`). Against a named server, heartbeats as configured (30 s by default)."""
    if folder is None:
        return lambda work: work()
    from flows import temporary_server

    url, proc = temporary_server.start(folder)
    os.environ["PREFECT_API_URL"] = url
    timeout = float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])

    def on_server(work: Callable[[], T]) -> T:
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        temporary_server.wait_until_ready(url, proc, timeout)
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return work()

    return on_server


@app.command()
def run(
    source_: SourceOption = None,
    root_: RootOption = None,
    date_: Annotated[
        str | None, typer.Option("--date", help="arrival date for loose files (YYYY-MM-DD; default today)")
    ] = None,
) -> None:
    """Run the Prefect flow over SOURCE and write raw/staged/curated/quarantine under ROOT."""
    root = _root(root_, write=True)
    zone, source = _source(source_, root)
    default_date = _date(date_, "--date") if date_ else None
    on_server = _temporary_server(prefect_environment())
    import great_expectations  # noqa: F401  slow to import (~2 s): now, while the server boots

    from flows.partition import run_flow  # Prefect is imported only for runs
    from warehouse import ingest

    for problem in ingest.landing_problems(source):  # reported, never fatal
        typer.echo(f"skipped {problem.path.name}: {problem.reason}", err=True)
    try:
        dates = list(ingest.discover_partitions(source, default_date or date.today()))
        summaries = _with_progress(
            "partitions",
            dates,
            root,
            lambda: on_server(lambda: run_flow(str(zone), str(root), default_date)),
        )
    except Exception as exc:  # the flow names every failed partition; published ones stay published
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"partitions: {len(summaries)}  root: {root}")
    for s in summaries:
        typer.echo(
            f"  {s.arrival_date}: {s.status} documents={s.documents} mentions={s.mentions} "
            f"facts={s.facts} quarantined={s.quarantined}"
        )
        for reason in s.reasons:
            typer.echo(f"    - {reason}")
    for name in ("documents", "mentions", "facts", "quarantined"):
        typer.echo(f"{name}: {sum(getattr(s, name) for s in summaries)}")
    from warehouse import read

    try:
        manifest = read.manifest(root)
    except FileNotFoundError:  # only empty dates: nothing was ever published
        typer.echo("snapshot: none (nothing published yet)")
    else:
        rows = manifest["rows"]["indicator_panel"]
        typer.echo(f"snapshot: {manifest['snapshot']} (indicator_panel {rows} rows)")
    docs = next((s.quality_docs for s in reversed(summaries) if s.quality_docs), None)
    if docs:
        typer.echo(f"data docs: {docs}")


@app.command()
def backfill(
    start: Annotated[str, typer.Option(help="first arrival date (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option(help="last arrival date (YYYY-MM-DD), inclusive")],
    source_: SourceOption = None,
    root_: RootOption = None,
    mode: Annotated[str, typer.Option(help="missing | failed | all")] = "missing",
    concurrency: Annotated[int, typer.Option(min=1, help="partitions processed at once")] = 2,
    executor: Annotated[
        str | None,
        typer.Option(
            help="local (one date after another in this process) | processes (one task per date in worker "
            "processes; the default, env WAREHOUSE_EXECUTOR) | threads (child flow runs) | pool (flow runs of "
            "the partition deployment, on a work pool's workers) | dask://HOST:PORT (one task per date on a "
            "running Dask cluster)"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list what would run and why; run nothing")
    ] = False,
) -> None:
    """Backfill every arrival date in [START, END], at most CONCURRENCY dates at once, by the executor chosen
    (by default one `partition` task per date in a pool of worker processes)."""
    from warehouse import ledger, snapshot

    root = _root(root_, write=not dry_run)  # a dry run writes nothing, not even the probe
    first, last = _date(start, "--start"), _date(end, "--end")
    zone, source = _source(source_, root, (first, last))
    if executor is None:
        executor = _settings().executor
    try:
        check_executor(executor)
    except ValueError as exc:
        _fail(f"--{exc}")
    try:
        items = ledger.plan(first, last, source, root, mode)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    if dry_run:
        runs = [i for i in items if i.action == "run"]
        typer.echo(f"dry run: {len(runs)} of {len(items)} dates would run (mode {mode})")
        _print_table(
            [
                {
                    "partition": i.arrival_date.isoformat(),
                    "action": i.action,
                    "files": len(i.files),
                    "why": i.reason,
                }
                for i in items
                if i.action != "empty" or len(items) <= 31
            ]
        )
        if snapshot.published_partitions(root) and not snapshot.is_current(root):
            typer.echo(
                "snapshot: older than the ledger (a run published and stopped before rebuilding it); "
                "the backfill rebuilds it, even with no date to run"
            )
        return
    folder = prefect_environment()
    if folder is not None and executor == "pool":
        _fail("--executor pool runs dates on a work pool's workers: name their server with PREFECT_API_URL")
    on_server = _temporary_server(folder)
    from flows.backfill import backfill_flow

    to_run = [i.arrival_date for i in items if i.action == "run"]
    state = _with_progress(
        "backfill",
        to_run,
        root,
        lambda: on_server(
            lambda: backfill_flow(
                first, last, str(zone), str(root), mode, concurrency, executor, return_state=True
            )
        ),
    )
    rows = ledger.report(items, root)
    shown = [r for r in rows if r["status"] != "empty"]
    typer.echo(
        f"backfill {first}..{last} ({mode}): {len(rows)} dates, {len(rows) - len(shown)} without arrivals"
    )
    _print_table(shown)
    if not state.is_completed():
        typer.echo(f"error: {state.message}", err=True)
        raise typer.Exit(1)


def _fail(message: str) -> NoReturn:
    """A usage error: one `error:` line on stderr and exit status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _read_root(value: str | None) -> Root:
    """A root to read a snapshot from (a folder or an s3:// URL; see `_root`)."""
    return _root(value)


def _source(value: str | None, root: Root, days: Days = None) -> tuple[Root, Path]:
    """The landing zone as given (settings when not) and as a local folder: itself, or for s3:// its
    mirror with the dates `days` brought up to date (`warehouse.landing.local_source`; keys that cannot be
    paths are printed). A zone that is not a folder, or that cannot be read, is a usage error."""
    from warehouse import landing

    try:
        zone = parse_root(value, "--source") if value else _settings().source
        found = landing.local_source(zone, root, days)
        for refused in found.refused:
            typer.echo(f"skipped {refused}", err=True)
        local = found.folder
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    except typer.Exit:  # a WAREHOUSE_* setting that does not parse: already said
        raise
    except Exception as exc:  # s3fs/botocore: no credentials, no endpoint, no permission
        _fail(f"cannot read the landing zone {value or zone}: {exc}")
    if not local.is_dir():
        _fail(f"landing zone {local} is not a folder")
    return zone, local


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:  # a WAREHOUSE_* variable that does not parse
        _fail(str(exc))


def _date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{flag} must be a date written YYYY-MM-DD, not {value!r}")


def _root(value: str | None, *, write: bool = False) -> Root:
    """The warehouse root (settings when not given): a local folder or an s3:// URL. A root that is a
    file, a URL of another kind, or (with `write`) an s3:// root this process cannot write is a usage
    error, before anything runs."""
    try:
        root = parse_root(value, "--root") if value else _settings().root
        if write:
            location.check_writable(root)
    except ValueError as exc:
        _fail(str(exc))
    if isinstance(root, Path) and root.exists() and not root.is_dir():
        _fail(f"warehouse root {root} is a file, not a folder")
    return root


def _print_table(rows: list[dict[str, Any]], title: str | None = None) -> None:
    """Rows as a rich table on stdout (plain text when not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    if not rows:
        typer.echo("(no rows)")
        return
    table = Table(title=title, show_lines=False)
    for column in rows[0]:
        numeric = all(isinstance(r[column], int | float) for r in rows)
        table.add_column(str(column), justify="right" if numeric else "left", overflow="fold")
    for r in rows:
        table.add_row(*("" if v is None else str(v) for v in r.values()))
    Console(width=max(100, Console().width)).print(table)


def _with_progress(label: str, dates: list[date], root: Root, work: Callable[[], T]) -> T:
    """Run `work` under a progress bar advanced by the partition ledger (each finished date records itself)."""
    import threading
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

    from warehouse import ledger

    started = datetime.now(UTC).isoformat(timespec="seconds")
    wanted = set(dates)

    def done() -> int:  # reads only the records of the dates being run, not the whole ledger
        if location.is_remote(root):  # one listing, not a GET per date
            since = datetime.fromisoformat(started).timestamp()
            written = location.modified(root, ledger.LEDGER)
            return sum(1 for d in wanted if written.get(f"{d.isoformat()}.json", 0.0) >= since)
        records = (ledger.read_record(root, d) for d in wanted)
        return sum(1 for r in records if r is not None and r.updated_at >= started)

    columns = (SpinnerColumn(), "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task(label, total=len(wanted))
        stop = threading.Event()

        every = 5.0 if location.is_remote(root) else 0.5  # a listing request per poll on object storage

        def poll() -> None:
            while not stop.wait(every):
                progress.update(bar, completed=done())

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            return work()
        finally:
            stop.set()
            poller.join()


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="one SQL statement (DuckDB dialect)")],
    root_: ReadRootOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the result to a .csv or .parquet file")
    ] = None,
    limit: Annotated[int, typer.Option(help="rows printed (the file gets all)")] = 50,
) -> None:
    """Query the current snapshot: views indicators, indicator_panel, regions, documents."""
    import duckdb

    from warehouse import sql as warehouse_sql

    root = _read_root(root_)
    if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
        _fail("--output must end in .csv or .parquet")
    if output is not None and not output.parent.is_dir():
        _fail(f"--output folder {output.parent} does not exist")
    try:
        result = warehouse_sql.query(root, statement)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except (duckdb.Error, OSError) as exc:  # a bad statement; an object store that refused
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if output is not None:
        if output.suffix.lower() == ".csv":
            warehouse_sql.write_csv(result, output)
        else:
            result.write_parquet(output)
        typer.echo(f"{result.height} rows written to {output}")
        return
    _print_table(
        result.head(limit).to_dicts(),
        title=f"{result.height} rows" + (f" (first {limit})" if result.height > limit else ""),
    )


@app.command()
def report(
    root_: ReadRootOption = None,
    out: Annotated[Path | None, typer.Option(help="HTML file (default <root>/report/index.html)")] = None,
) -> None:
    """Write a static HTML report of the snapshot: a chart per indicator, values linked to their evidence."""
    from warehouse.report import build_report

    root = _read_root(root_)
    if out is not None and not out.parent.is_dir():
        _fail(f"--out folder {out.parent} does not exist")
    if out is None and isinstance(root, str):
        _fail("--out is required for an s3:// root")
    try:
        path = build_report(root, out)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except OSError as exc:  # an object store that refused
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"report: {path}")


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Option(help="gold JSONL file (shape of sample/gold/dev.jsonl)")],
    root_: RootOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="list false positives/negatives")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the scores as JSON")] = False,
) -> None:
    """Score the snapshot's curated/indicators against GOLD: precision, recall, F1, region and year accuracy."""
    from warehouse import evaluate as ev
    from warehouse import read

    root = _root(root_)
    if not gold.is_file():
        _fail(f"gold file {gold} does not exist")
    try:
        facts = read.indicators(root).collect()
    except FileNotFoundError:
        _fail(f"no snapshot under {root}; run `python -m warehouse run` first")
    try:
        gold_rows = ev.load_gold(gold)
    except (ValueError, json.JSONDecodeError) as exc:
        _fail(f"gold file {gold}: {exc}")
    result = ev.score_table(facts, gold_rows)
    if as_json:
        typer.echo(json.dumps(result.summary()))
        return
    for key, value in result.summary().items():
        typer.echo(f"{key}: {value}")
    if verbose:
        for p in result.false_positives:
            typer.echo(
                f"FP {p['source_file']} {p['indicator']}={p['value']:g} [{p['mention']}] {p['evidence'][:60]}"
            )
        for g in result.false_negatives:
            typer.echo(f"FN {g['doc']} {g['indicator']}={g['value']:g} {g.get('evidence', '')[:60]}")
        for p, g in result.wrong_region:
            typer.echo(
                f"REGION {p['source_file']} {p['indicator']}={p['value']:g} {p['region_name']} != {g['region']}"
            )
        for p, g in result.wrong_year:
            typer.echo(f"YEAR {p['source_file']} {p['indicator']}={p['value']:g} {p['year']} != {g['year']}")


@app.command()
def dictionary(
    write: Annotated[bool, typer.Option("--write", help="refresh the data dictionary in README.md")] = False,
) -> None:
    """Print the data dictionary generated from the pandera models (or write it into README.md)."""
    from warehouse import dictionary as dd

    if not write:
        typer.echo(dd.dictionary_markdown())
        return
    dd.README.write_text(dd.readme_with_dictionary(dd.README.read_text(encoding="utf-8")), encoding="utf-8")
    typer.echo(f"updated {dd.README}")


@app.command()
def vacuum(
    root_: RootOption = None,
    retention_hours: Annotated[
        float, typer.Option(help="keep what the versions of this many hours need (default one week)")
    ] = RETENTION_HOURS,
) -> None:
    """Delete the table files no version younger than the retention needs (readers can time-travel that
    far back, no further), and the snapshot history's older manifests. Every run does this with a week."""
    from warehouse import snapshot

    root = _root(root_, write=True)
    if retention_hours < 0:
        _fail("--retention-hours must be zero or more")
    if retention_hours < 1:
        typer.echo(
            "warning: a retention under an hour also deletes files that a run writing now (here or on another "
            "machine) has not committed yet; run it when no run is writing this root",
            err=True,
        )
    deleted = snapshot.vacuum(root, retention_hours)
    _print_table([{"table": name, "files deleted": n} for name, n in deleted.items()])


@app.command()
def migrate(root_: RootOption = None) -> None:
    """Convert a root written before layers were Delta tables (plain Parquet partitions) into Delta tables,
    one commit per partition, and rebuild the snapshot; a root already converted is left as it is."""
    import shutil

    from warehouse import snapshot, storage

    root = _root(root_)
    if not isinstance(root, Path):
        _fail("migrate converts a local root (the plain-Parquet layout was only ever written locally)")
    done = storage.migrate_plain_parquet(root)
    for old in (root / "curated" / snapshot.SNAPSHOTS).glob("*/"):  # hard-linked snapshots of the old layout
        shutil.rmtree(old, ignore_errors=True)
    if done:
        snapshot.publish(root)
    _print_table([{"table": name, "partitions converted": n} for name, n in done.items()])


def _require_server() -> None:
    """A server is named: PREFECT_API_URL in the environment or in the active Prefect profile."""
    _prefect_defaults(os.environ)
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        typer.echo(
            "error: name the server: export PREFECT_API_URL=http://127.0.0.1:4200/api "
            "(or `prefect config set PREFECT_API_URL=…`)",
            err=True,
        )
        raise typer.Exit(2)


@app.command("server-setup")
def server_setup(
    pool: Annotated[str, typer.Option(help="process work pool the deployments use")] = server.POOL,
    crash_after: Annotated[
        int,
        typer.Option(
            min=server.HEARTBEAT_SECONDS + 1,
            help="seconds without a heartbeat before a flow run is marked Crashed",
        ),
    ] = server.CRASH_AFTER_SECONDS,
) -> None:
    """Prepare a Prefect server (PREFECT_API_URL): the work pool and the automation that marks flow runs
    whose process died Crashed, releasing their concurrency slot. Safe to run again."""
    _require_server()
    result = server.setup(pool, crash_after)
    typer.echo(f"work pool {pool}: {result.pool}")
    typer.echo(f"crash automation ({crash_after} s without a heartbeat): {result.automation}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    pool: Annotated[str, typer.Option(help="work pool to take runs from")] = server.POOL,
    grace: Annotated[
        float, typer.Option(help="seconds the flow runs and the worker get to stop before being killed")
    ] = 30.0,
) -> None:
    """`prefect worker start --pool POOL` (extra arguments are passed on) that stops gracefully on one
    SIGTERM or Ctrl-C: running flow runs are marked Crashed at once (their slots freed), then the worker
    exits. Use it as the command of a systemd unit or a container."""
    _require_server()
    from flows.worker import run_worker

    raise typer.Exit(run_worker(pool, list(ctx.args), grace))


def main() -> None:
    """The console entry point. The process ends once non-daemon threads are joined, exit handlers have
    run (the temporary server stopped, its folder removed) and output is flushed: Python's own teardown of
    the Prefect and Great Expectations modules would add ~1 s to every command."""
    import atexit
    import logging
    import threading

    try:
        app(prog_name="python -m warehouse")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter does first at exit: join non-daemon threads
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
