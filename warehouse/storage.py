"""Layer paths and atomic Parquet writes.

Every table lives at ``<root>/<layer>/<table>/arrival_date=YYYY-MM-DD/part-0.parquet`` (hive style).
`layer_path` is the one function that builds these paths; writes go to a temporary file in the same
folder and are renamed into place, so readers never see half a file.

Write-audit-publish: a run first writes every table of its partition under a staging root
(``<root>/_staging/<run_id>/``, same layout, outside the reader paths), audits what it wrote, and only
then moves each file into place with `publish_staged` (renames on the same filesystem).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Container, Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

LAYERS = ("raw", "staged", "curated", "quarantine")
STAGING = "_staging"
AUDIT = "_audit"
PART_FILE = "part-0.parquet"


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
    except OSError as exc:
        raise _explained(exc, target) from exc
    except Exception as exc:  # polars and pyarrow report a full disk in their own exception types
        if "No space left on device" in str(exc):
            raise OSError(errno.ENOSPC, f"disk full while writing {target}; nothing was published") from exc
        raise
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
            raise _explained(exc, path) from exc
        if written != len(data):
            os.ftruncate(fd, size)
            raise OSError(
                errno.ENOSPC, f"disk full: only {written} of {len(data)} bytes of a line fit", str(path)
            )
    finally:
        os.close(fd)


def _explained(exc: OSError, path: Path) -> OSError:
    if exc.errno == errno.ENOSPC:
        return OSError(errno.ENOSPC, f"disk full while writing {path}; nothing was published", str(path))
    return exc


def write_text_atomically(target: Path, text: str) -> Path:
    return replace_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_partition(df: pl.DataFrame, root: Path, layer: str, table: str, arrival_date: date) -> Path:
    """Replace one partition of a table atomically with `df` (the partition column is not stored)."""
    target = layer_path(root, layer, table, arrival_date) / PART_FILE
    frame = df.drop("arrival_date", strict=False)
    return replace_atomically(target, lambda tmp: frame.write_parquet(tmp, compression="zstd"))


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
            raise _explained(exc, tmp) from exc

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


def clear_partition(root: Path, layer: str, table: str, arrival_date: date) -> None:
    """Remove a partition (used when a rerun produces no rows for it)."""
    shutil.rmtree(layer_path(root, layer, table, arrival_date), ignore_errors=True)


def read_table(root: Path, layer: str, table: str, skip: Container[str] = ()) -> pl.DataFrame | None:
    """All partitions of a table (but the dates, YYYY-MM-DD, in `skip`) with `arrival_date` restored as a
    Date column; None if never written."""
    folder = layer_path(root, layer, table)
    files = [f for f in sorted(folder.glob(f"arrival_date=*/{PART_FILE}")) if f.parent.name[13:] not in skip]
    if not files:
        return None
    frames = [
        pl.read_parquet(f).with_columns(
            pl.lit(date.fromisoformat(f.parent.name.split("=", 1)[1])).alias("arrival_date")
        )
        for f in files
    ]
    return pl.concat(frames, how="diagonal_relaxed")


def scan_table(
    root: Path, layer: str, table: str, columns: list[str] | None = None, skip: Container[str] = ()
) -> pl.LazyFrame | None:
    """Like `read_table`, lazily, reading only `columns` (with `arrival_date`); partitions of an older
    column layout are aligned by name. One scan per column layout (usually one over every partition):
    a scan per file costs a plan node each (1,000 partitions: 10 s against 0.5 s). None if never written."""
    folder = layer_path(root, layer, table)
    files = [f for f in sorted(folder.glob(f"arrival_date=*/{PART_FILE}")) if f.parent.name[13:] not in skip]
    if not files:
        return None
    layouts: dict[tuple[tuple[str, pl.DataType], ...], list[Path]] = {}
    for f in files:
        layouts.setdefault(tuple(pl.read_parquet_schema(f).items()), []).append(f)
    frames = []
    for layout, group in layouts.items():
        scan = pl.scan_parquet(group, hive_partitioning=True, hive_schema={"arrival_date": pl.Date})
        if columns is not None:
            present = {name for name, _ in layout}
            keep = [c for c in columns if c in present and c != "arrival_date"]
            scan = scan.select([*keep, "arrival_date"])
        frames.append(scan)
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


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
    import time

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


def publish_staged(staging: Path, root: Path) -> list[Path]:
    """Move every partition file under `staging` into the reader paths, layer by layer (raw, staged,
    curated, quarantine: a table after the tables it refers to), each by an atomic rename over the published
    file, then remove `staging`. Files already moved are skipped, so calling this again completes a publish
    that a crash interrupted."""
    moved = []
    for layer in LAYERS:
        for source in sorted((Path(staging) / layer).glob(f"**/arrival_date=*/{PART_FILE}")):
            target = Path(root) / source.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, target)
            except FileNotFoundError:  # moved meanwhile by another completion of the same publish
                continue
            moved.append(target)
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):  # the shared _staging folder goes once it is empty
        Path(staging).parent.rmdir()
    return moved


def read_partition(
    root: Path, layer: str, table: str, arrival_date: date, columns: list[str] | None = None
) -> pl.DataFrame | None:
    """One partition (only `columns`, when given) with `arrival_date` restored, or None if it was never
    written."""
    path = layer_path(root, layer, table, arrival_date) / PART_FILE
    if not path.exists():
        return None
    return pl.read_parquet(path, columns=columns).with_columns(pl.lit(arrival_date).alias("arrival_date"))


def iter_partition(root: Path, layer: str, table: str, arrival_date: date) -> Iterator[pl.DataFrame]:
    """One partition row group by row group (a chunk at a time), `arrival_date` restored; nothing if it was
    never written."""
    path = layer_path(root, layer, table, arrival_date) / PART_FILE
    if not path.exists():
        return
    file = pq.ParquetFile(path)
    groups: Iterator[pa.Table] = (file.read_row_group(i) for i in range(file.num_row_groups))  # one at a time
    if file.num_row_groups == 0:  # an empty table: its columns are still checked
        groups = iter([file.schema_arrow.empty_table()])
    for group in groups:
        df = pl.from_arrow(group)
        assert isinstance(df, pl.DataFrame)
        yield df.with_columns(pl.lit(arrival_date).alias("arrival_date"))
