"""Layer tables as Delta Lake tables, and the staging files a run audits before it commits.

Every layer table is a Delta table at ``<root>/<layer>/<table>/``, partitioned by arrival date: data files
under ``arrival_date=YYYY-MM-DD/``, commits in ``_delta_log/``. Each commit is a version; readers see one
version whole and may time-travel to an older one (`scan_table(version=…)`, polars ``scan_delta``,
``deltalake.DeltaTable``). The consumer snapshot records the versions it is made of (`warehouse.snapshot`).

Write-audit-publish: a run first writes every table of its partition as plain Parquet under a staging root
(``<root>/_staging/<run_id>/<layer>/<table>/arrival_date=YYYY-MM-DD/part-0.parquet``, outside the tables),
audits what it wrote, and only then `publish_staged` makes one commit per table that replaces exactly that
partition (an overwrite with the predicate ``arrival_date = 'YYYY-MM-DD'``); a failed audit commits
nothing. `vacuum` deletes the files no version younger than the retention (`RETENTION_HOURS`) needs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import itertools
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Collection, Container, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import NoReturn, cast

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import (
    CommitProperties,
    DeltaTable,
    PostCommitHookProperties,
    WriterProperties,
    write_deltalake,
)
from deltalake.exceptions import CommitFailedError

from schemas import registry
from schemas.registry import LAYERS, PARTITION  # the layers, and the partition column of their tables
from warehouse import location
from warehouse.location import Root
from warehouse.settings import RETENTION_HOURS

STAGING = "_staging"
AUDIT = "_audit"
PART_FILE = "part-0.parquet"  # a staged partition's file
DELTA_LOG = "_delta_log"
WRITER = WriterProperties(compression="ZSTD")
# A checkpoint every 10 commits (Delta's default is 100): loading a table reads the last checkpoint and the
# commits after it, so each commit reads at most 10 commit files. On an S3 server a commit took 0.07 s after
# 10 commits and 0.44 s after 90 with the default; 0.09-0.10 s throughout with 10 (set when a table is made).
TABLE_CONFIGURATION = {"delta.checkpointInterval": "10"}
# Commits leave expired log files to `vacuum`: the cleanup Delta runs after every commit lists the whole
# `_delta_log/` (two files a commit), ~9 ms a commit at 1,000 partitions here, for nothing until a month old.
HOOKS = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)


def table_configuration(layer: str, table: str) -> dict[str, str]:
    """The Delta properties a table is made with: the checkpoint interval, and for a table of the registry
    statistics on its columns but the free text (`schemas.registry.Table.stats_columns`)."""
    try:
        entry = registry.table(f"{layer}/{table}")
    except KeyError:  # not a table of the warehouse (a test's): Delta's defaults
        return dict(TABLE_CONFIGURATION)
    return TABLE_CONFIGURATION | {"delta.dataSkippingStatsColumns": ",".join(entry.stats_columns())}


def layer_path(root: Path, layer: str, table: str, arrival_date: date | None = None) -> Path:
    """Folder of a table, or of one arrival-date partition of it when `arrival_date` is given."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    path = Path(root) / layer / table
    return path if arrival_date is None else path / f"arrival_date={arrival_date.isoformat()}"


def replace_atomically(target: Path, write: Callable[[Path], object]) -> Path:
    """`write(tmp)` to a temporary file beside `target`, then rename it over `target`: readers see the old
    file or the new one, never half of one. The temporary file is removed if writing fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    except Exception as exc:
        _raise_explained(exc, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def append_line(path: Path, line: str) -> None:
    """Append one line with a single write; if it cannot be written whole (disk full), the file is cut back
    to where it was, so no torn line is ever left, and the error says what happened."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
        except OSError as exc:
            os.ftruncate(fd, size)
            _raise_explained(exc, path)
        if written != len(data):
            os.ftruncate(fd, size)
            raise OSError(
                errno.ENOSPC, f"disk full: only {written} of {len(data)} bytes of a line fit", str(path)
            )
    finally:
        os.close(fd)


def _explained(exc: Exception, path: Path | str) -> Exception:
    """A full disk said in words (an OSError ENOSPC, or polars', pyarrow's or delta-rs' own exception types
    carrying the OS message); any other error as it is."""
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in str(exc):
        return OSError(errno.ENOSPC, f"disk full while writing {path}; nothing was published", str(path))
    return exc


def _raise_explained(exc: Exception, path: Path | str) -> NoReturn:
    explained = _explained(exc, path)
    if explained is exc:
        raise exc
    raise explained from exc


def write_text_atomically(target: Path, text: str) -> Path:
    return replace_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def table_path(root: Path, layer: str, table: str) -> Path:
    """The folder of a layer table of a local root: a Delta table (data files by partition, commits in
    ``_delta_log``)."""
    return layer_path(root, layer, table)


def table_uri(root: Root, layer: str, table: str) -> str:
    """Where a layer table is, for deltalake and polars: a local folder or ``s3://…/<layer>/<table>``."""
    layer_path(Path("."), layer, table)  # an unknown layer is refused alike for both kinds of root
    return location.join(root, f"{layer}/{table}")


def is_table(uri: str | Path, options: dict[str, str] | None = None) -> bool:
    if options is None and not location.is_remote(str(uri)):
        return (Path(uri) / DELTA_LOG).is_dir()
    return bool(DeltaTable.is_deltatable(str(uri), storage_options=options))


def _delta(root: Root, name: str) -> DeltaTable:
    """The Delta table `name` (``curated/indicators``) of `root`, at its latest version."""
    return DeltaTable(location.join(root, name), storage_options=location.table_options(root))


def version(root: Root, layer: str, table: str) -> int | None:
    """The table's current version (its latest commit), or None if it was never written."""
    if not is_table(table_uri(root, layer, table), location.table_options(root)):
        return None
    return _delta(root, f"{layer}/{table}").version()


def table_names(root: Root) -> list[str]:
    """Every table under `root` (layer tables and the snapshot's), by path (``curated/indicators``,
    ``quarantine/raw/documents``): the folders holding a ``_delta_log``, two levels deep at most."""
    found = []
    for layer in LAYERS:
        for name in location.folders(root, layer):
            inner = location.folders(root, f"{layer}/{name}")
            if DELTA_LOG in inner:  # a table: its partition folders are not looked into
                found.append(f"{layer}/{name}")
                continue
            found += [
                f"{layer}/{name}/{sub}"
                for sub in inner
                if DELTA_LOG in location.folders(root, f"{layer}/{name}/{sub}")
            ]
    return sorted(found)


def versions(root: Root) -> dict[str, int]:
    """The current version of every table under `root` (layer tables and the snapshot's), by path
    (``curated/indicators``)."""
    return {name: _delta(root, name).version() for name in table_names(root)}


COMMIT_ATTEMPTS = 5  # a commit that loses a race for its partition is redone this many times at most


class ConcurrentCommitError(RuntimeError):
    """Another writer kept committing to the same partition: this commit was redone COMMIT_ATTEMPTS times."""


def commit_partition(
    root: Root, layer: str, table: str, arrival_date: date, data: Callable[[], pa.RecordBatchReader]
) -> None:
    """One Delta commit replacing the `arrival_date` partition of a table with the rows `data()` streams
    (that date's rows, a batch at a time: a partition larger than memory is never held whole). The table
    is created by its first commit; columns new to it are added (older partitions read them as null).
    Readers see the old partition or the new one: data files are written first, the commit names them.
    Commits to other partitions never conflict (Delta retries them itself); when another writer commits
    to the same partition meanwhile, the commit is redone from `data()` (the later one wins, whole), and
    after `COMMIT_ATTEMPTS` it fails with ConcurrentCommitError."""
    path = _prepared(root, layer, table)
    predicate = f"{PARTITION} = '{arrival_date.isoformat()}'"
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            target = _loaded(path) if not location.is_remote(root) else None
            made = table_configuration(layer, table) if target is None else None  # for a table made now
            write_deltalake(
                target or path, data(), mode="overwrite", partition_by=[PARTITION], predicate=predicate,
                schema_mode="merge", writer_properties=WRITER, storage_options=location.table_options(root),
                post_commithook_properties=HOOKS, configuration=made,
            )  # fmt: skip
            return
        except CommitFailedError as exc:
            _loaded_tables().pop(path, None)
            if attempt == COMMIT_ATTEMPTS:
                raise ConcurrentCommitError(
                    f"{layer}/{table} {arrival_date}: other writers committed to this partition "
                    f"{COMMIT_ATTEMPTS} times while it was written; nothing of this write was committed"
                ) from exc
            time.sleep(0.05 * attempt)
        except Exception as exc:
            _loaded_tables().pop(path, None)
            _raise_explained(exc, path)


# Local tables this process has committed to, kept loaded: a commit then reads only the commits made since
# (`update_incremental`), not the last checkpoint, which lists every file of the table (~1 MB for
# staged/mentions at 1,000 partitions: 37 -> 17 ms a commit). Each entry keeps the identity of the table's
# first commit file, so a table removed and made again at the same path is loaded afresh. Per thread: a
# loaded table is not shared between commits running at once. At most `TABLES_KEPT_LOADED` a thread (a
# root has 12 tables; a process that commits to many roots keeps the latest ones).
_THREAD = threading.local()
TABLES_KEPT_LOADED = 24


def _loaded_tables() -> dict[str, tuple[tuple[int, int], DeltaTable]]:
    if not hasattr(_THREAD, "tables"):
        _THREAD.tables = {}
    return cast(dict[str, tuple[tuple[int, int], DeltaTable]], _THREAD.tables)


def _loaded(path: str) -> DeltaTable | None:
    """The table at the local `path`, loaded and brought up to date, or None when there is no table yet."""
    loaded = _loaded_tables()
    try:
        first = os.stat(Path(path) / DELTA_LOG / f"{0:020d}.json")
        identity = (first.st_ino, first.st_mtime_ns)
    except FileNotFoundError:  # no table yet, or its first commits were cleaned up: loaded afresh
        loaded.pop(path, None)
        return DeltaTable(path) if is_table(path) else None
    kept = loaded.get(path)
    if kept is not None and kept[0] == identity:
        try:
            kept[1].update_incremental()
            return kept[1]
        except Exception:  # its log changed under it in a way it cannot follow: loaded afresh below
            pass
    table = DeltaTable(path) if is_table(path) else None
    if table is not None:
        loaded.pop(path, None)
        while len(loaded) >= TABLES_KEPT_LOADED:
            del loaded[next(iter(loaded))]  # the one loaded longest ago
        loaded[path] = (identity, table)
    return table


def write_table(df: pl.DataFrame | Iterator[pl.DataFrame], root: Root, layer: str, table: str) -> int:
    """One commit replacing a whole unpartitioned table (the snapshot's tables) with `df`, or with the frames
    an iterator yields (written as they come: one in memory at a time; all of the same columns); the
    version that commit made (found by a token in its commit info: another machine may commit the same
    table right after, so the table's latest version need not be this one)."""
    frames = iter([df]) if isinstance(df, pl.DataFrame) else df
    first = _arrow(next(frames))
    batches = itertools.chain(first.to_batches(), (b for f in frames for b in _arrow(f).to_batches()))
    path = _prepared(root, layer, table)
    reader = pa.RecordBatchReader.from_batches(first.schema, batches)
    token, options = uuid.uuid4().hex, location.table_options(root)
    write_deltalake(
        path, reader, mode="overwrite", schema_mode="overwrite", writer_properties=WRITER,
        storage_options=options, commit_properties=CommitProperties(custom_metadata={WRITE_TOKEN: token}),
        configuration=table_configuration(layer, table), post_commithook_properties=HOOKS,
    )  # fmt: skip
    for commit in DeltaTable(path, storage_options=options).history(COMMIT_ATTEMPTS * 20):
        if commit.get(WRITE_TOKEN) == token:
            return int(commit["version"])
    raise RuntimeError(f"{layer}/{table}: the commit just made is not in the table's recent history")


WRITE_TOKEN = "warehouse_write"  # commit info key: which write made a version


def _prepared(root: Root, layer: str, table: str) -> str:
    """The table's location, its folder made first on a local root (object stores have no folders)."""
    if not location.is_remote(root):
        table_path(Path(root), layer, table).mkdir(parents=True, exist_ok=True)
    return table_uri(root, layer, table)


def _arrow(df: pl.DataFrame) -> pa.Table:
    """`df` as Arrow without view types (string_view, binary_view: not Delta types)."""
    return df.to_arrow(compat_level=pl.CompatLevel.oldest())


def _dated(schema: pa.Schema, batches: Iterable[pa.RecordBatch], day: date) -> pa.RecordBatchReader:
    """`batches` with the partition column added (the staging files do not store it)."""
    out = schema.append(pa.field(PARTITION, pa.date32()))
    value = pa.scalar(day, pa.date32())
    dated = (
        pa.RecordBatch.from_arrays([*b.columns, pa.repeat(value, b.num_rows)], schema=out) for b in batches
    )
    return pa.RecordBatchReader.from_batches(out, dated)


def write_partition(df: pl.DataFrame, root: Root, layer: str, table: str, arrival_date: date) -> None:
    """Replace one partition of a table with `df` in one commit (see `commit_partition`)."""
    frame = _arrow(df.drop(PARTITION, strict=False))
    commit_partition(
        root, layer, table, arrival_date, lambda: _dated(frame.schema, frame.to_batches(), arrival_date)
    )


class PartitionAppender:
    """The tables of one partition written chunk by chunk: each `append` adds a row group to the table's
    file (under a hidden temporary name until `close` renames every file into place), so a partition larger
    than memory is written one chunk at a time. `abort` removes what was not closed."""

    def __init__(self, root: Path, arrival_date: date) -> None:
        self.root, self.arrival_date = Path(root), arrival_date
        self._open: dict[tuple[str, str], tuple[pq.ParquetWriter, Path, Path]] = {}

    def append(self, df: pl.DataFrame, layer: str, table: str) -> None:
        frame = df.drop("arrival_date", strict=False).to_arrow()
        if (layer, table) not in self._open:
            target = layer_path(self.root, layer, table, self.arrival_date) / PART_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            self._open[(layer, table)] = (
                pq.ParquetWriter(tmp, frame.schema, compression="zstd"),
                tmp,
                target,
            )
        writer, tmp, _ = self._open[(layer, table)]
        try:
            writer.write_table(frame.cast(writer.schema))
        except OSError as exc:
            _raise_explained(exc, tmp)

    def close(self) -> list[Path]:
        """Finish every file and rename it into place; the paths written."""
        done = []
        for writer, tmp, target in self._open.values():
            writer.close()
            os.replace(tmp, target)
            done.append(target)
        self._open.clear()
        return done

    def abort(self) -> None:
        for writer, tmp, _ in self._open.values():
            with contextlib.suppress(Exception):
                writer.close()
            tmp.unlink(missing_ok=True)
        self._open.clear()


def scan_table(
    root: Root,
    layer: str,
    table: str,
    columns: list[str] | None = None,
    skip: Collection[str] = (),
    version: int | None = None,
) -> pl.LazyFrame | None:
    """A table at `version` (default: the latest), lazily, with `arrival_date` last, only `columns` (and
    `arrival_date`) when given, without the partitions of the dates (YYYY-MM-DD) in `skip`; None if never
    written. Partitions written before a column existed read it as null."""
    uri, options = table_uri(root, layer, table), location.table_options(root)
    if not is_table(uri, options):
        if not location.is_remote(root):
            _refuse_plain_parquet(Path(uri))
        return None
    scan = pl.scan_delta(uri, version=version, storage_options=options)
    if skip:
        scan = scan.filter(~pl.col(PARTITION).is_in(sorted(date.fromisoformat(d) for d in skip)))
    every = scan.collect_schema().names()
    names = [c for c in every if c != PARTITION]
    keep = names if columns is None else [c for c in columns if c in names]
    return scan.select([*keep, *(c for c in every if c == PARTITION)])


def read_table(
    root: Root, layer: str, table: str, skip: Collection[str] = (), version: int | None = None
) -> pl.DataFrame | None:
    """Every partition of a table (but the dates in `skip`) at `version`, `arrival_date` last; None if never
    written."""
    scan = scan_table(root, layer, table, skip=skip, version=version)
    return None if scan is None else scan.collect()


def read_partition(
    root: Root, layer: str, table: str, arrival_date: date, columns: list[str] | None = None
) -> pl.DataFrame | None:
    """One published partition (only `columns`, when given), or None if it holds no rows."""
    scan = scan_table(root, layer, table, columns)
    df = None if scan is None else scan.filter(pl.col(PARTITION) == arrival_date).collect()
    return df if df is not None and df.height else None


def _refuse_plain_parquet(path: Path) -> None:
    """A table folder of plain Parquet partitions (written before layers were Delta tables) is not read as
    empty: it must be converted first."""
    if any(path.glob(f"arrival_date=*/{PART_FILE}")):
        raise RuntimeError(
            f"{path} holds plain Parquet partitions of an earlier warehouse version, not a Delta table: "
            "convert the root once with `python -m warehouse migrate --root ROOT`"
        )


def migrate_plain_parquet(root: Path) -> dict[str, int]:
    """Convert every plain-Parquet layer table under `root` (``arrival_date=…/part-0.parquet``, the layout
    before Delta tables) into a Delta table, one commit per partition, removing each file once committed;
    partitions converted per table. Idempotent: a converted table has no such files left."""
    done: dict[str, int] = {}
    for layer, table, day, source in _partition_files(root):
        commit_partition(root, layer, table, day, functools.partial(_staged_reader, source, day))
        source.unlink()
        with contextlib.suppress(OSError):
            source.parent.rmdir()
        done[f"{layer}/{table}"] = done.get(f"{layer}/{table}", 0) + 1
    return done


def _partition_files(base: Path) -> Iterator[tuple[str, str, date, Path]]:
    """Every ``<layer>/<table>/arrival_date=…/part-0.parquet`` under `base` (a staging root, or a root of
    the plain-Parquet layout), layer by layer in `LAYERS` order: (layer, table, date, file)."""
    for layer in LAYERS:
        for source in sorted((Path(base) / layer).glob(f"**/arrival_date=*/{PART_FILE}")):
            table = source.parent.parent.relative_to(Path(base) / layer).as_posix()
            yield layer, table, date.fromisoformat(source.parent.name.split("=", 1)[1]), source


def vacuum(root: Root, retention_hours: float = RETENTION_HOURS) -> dict[str, int]:
    """Delete the data files of every table that no version younger than `retention_hours` needs (replaced
    partitions, older snapshots, files of writes that never committed); files deleted per table. A reader
    can time-travel to any version of the retention window, no further. Log files older than the table's
    log retention (Delta's ``delta.logRetentionDuration``, 30 days) that a checkpoint supersedes go too
    (commits leave them: `HOOKS`)."""
    out = {}
    for name in table_names(root):
        table = _delta(root, name)
        deleted = table.vacuum(
            retention_hours=math.ceil(retention_hours), dry_run=False, enforce_retention_duration=False
        )
        table.cleanup_metadata()
        out[name] = len(deleted)
    return out


def staging_root(root: Path, run_id: str) -> Path:
    """Where a run writes its partition before the audit: a private root with the same layout."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return Path(root) / STAGING / safe


STAGING_RETENTION_S = 24 * 3600  # a failed audit's staged files stay this long for inspection
LEASE = (
    ".lease"  # in a staging folder: flock-held by the process writing it (the kernel lets go when it dies)
)
FAILED_AUDIT = "FAILED_AUDIT.txt"  # in a staging folder kept for inspection: why its audit failed


@contextlib.contextmanager
def staging_lease(staging: Path) -> Iterator[Path]:
    """Create `staging` already leased to this process: it is made under a hidden name, its lease file
    locked, and only then renamed into place, so `prune_staging` never sees it unleased while it is used."""
    staging = Path(staging)
    hidden = staging.with_name(f".{staging.name}.{uuid.uuid4().hex[:6]}")
    hidden.mkdir(parents=True)
    with (hidden / LEASE).open("a") as lease:
        fcntl.flock(lease, fcntl.LOCK_EX)
        os.rename(hidden, staging)
        yield staging


def _abandoned(run: Path) -> bool:
    """A staging folder whose writer is gone: its lease exists and can be locked, and no failed audit
    keeps it for inspection."""
    if (run / FAILED_AUDIT).exists():
        return False
    try:
        with (run / LEASE).open("r") as lease:
            fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
    except (BlockingIOError, FileNotFoundError):
        return False


def prune_staging(
    root: Path, older_than: float = STAGING_RETENTION_S, keep: Container[str] = ()
) -> list[Path]:
    """Remove the staging folders of runs that died (lease free, no failed audit), and any staging folder
    nothing has written to for `older_than` seconds (a failed audit's, kept that long for inspection); never
    one named in `keep` (an unfinished publish needs it). Returns what was removed."""

    folder = Path(root) / STAGING
    removed: list[Path] = []
    try:
        runs = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:  # no staging folder (or it went meanwhile)
        return removed
    for run in runs:
        if run.name in keep:
            continue
        try:  # another process may publish (and remove) a folder while it is looked at
            newest = max([run.stat().st_mtime, *(p.stat().st_mtime for p in run.rglob("*"))])
        except OSError:
            continue
        if _abandoned(run) or time.time() - newest > older_than:
            shutil.rmtree(run, ignore_errors=True)
            removed.append(run)
    return removed  # the _staging folder itself stays: a run may be creating its folder in it right now


def read_staged(
    staging: Path, layer: str, table: str, arrival_date: date, columns: list[str] | None = None
) -> pl.DataFrame | None:
    """One staged partition file (only `columns`, when given) with `arrival_date` restored, or None if it
    was never written."""
    path = layer_path(staging, layer, table, arrival_date) / PART_FILE
    if not path.exists():
        return None
    return pl.read_parquet(path, columns=columns).with_columns(pl.lit(arrival_date).alias(PARTITION))


def iter_staged(staging: Path, layer: str, table: str, arrival_date: date) -> Iterator[pl.DataFrame]:
    """One staged partition row group by row group (a chunk at a time), `arrival_date` restored; nothing if
    it was never written."""
    path = layer_path(staging, layer, table, arrival_date) / PART_FILE
    if not path.exists():
        return
    file = pq.ParquetFile(path)
    groups: Iterator[pa.Table] = (file.read_row_group(i) for i in range(file.num_row_groups))  # one at a time
    if file.num_row_groups == 0:  # an empty table: its columns are still checked
        groups = iter([file.schema_arrow.empty_table()])
    for group in groups:
        df = pl.from_arrow(group)
        assert isinstance(df, pl.DataFrame)
        yield df.with_columns(pl.lit(arrival_date).alias(PARTITION))


def _staged_reader(path: Path, day: date) -> pa.RecordBatchReader:
    """A staged partition file as a stream of batches (a row group at a time), the partition column added."""
    file = pq.ParquetFile(path)
    return _dated(file.schema_arrow, file.iter_batches(), day)


def publish_staged(staging: Path, root: Root) -> list[str]:
    """Commit every partition file under `staging` into its table, layer by layer (raw, staged, curated,
    quarantine: a table after the tables it refers to), one commit per table replacing the partition, then
    remove `staging`; the tables committed. Calling this again after a crash commits the same files again (a
    replace is idempotent), which completes the publish."""
    committed = []
    for layer, table, day, source in _partition_files(staging):
        try:
            commit_partition(root, layer, table, day, functools.partial(_staged_reader, source, day))
        except FileNotFoundError:
            if source.exists():  # not the staged file: the table's storage (an object gone): a failure
                raise
            continue  # committed meanwhile by another completion of the same publish
        committed.append(f"{layer}/{table}")
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):  # the shared _staging folder goes once it is empty
        Path(staging).parent.rmdir()
    return committed
