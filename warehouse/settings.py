"""One settings object, read once at the entry point (environment prefix ``WAREHOUSE_``)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from warehouse.location import Root, parse_root
from warehouse.workers import default_workers

PROJECT_DIR = Path(__file__).resolve().parents[1]
SAMPLE_SOURCE = PROJECT_DIR / "sample" / "landing"
SAMPLE_GOLD = PROJECT_DIR / "sample" / "gold" / "dev.jsonl"
RETENTION_HOURS = 7 * 24  # vacuum keeps every file a table version of the last week needs (Delta's default)


@dataclass(frozen=True)
class Limits:
    """What one landed file may cost before it is quarantined with the reason (environment
    ``WAREHOUSE_MAX_FILE_BYTES``, ``WAREHOUSE_MAX_DOCX_INFLATED_BYTES``, ``WAREHOUSE_MAX_DOCX_ENTRIES``,
    ``WAREHOUSE_MAX_YAML_BYTES``, ``WAREHOUSE_MAX_STAGED_CHARS``, ``WAREHOUSE_MAX_HTML_TAGS``,
    ``WAREHOUSE_MAX_HTML_DEPTH``, ``WAREHOUSE_MAX_DOCUMENT_SECONDS``), and how many files of a partition
    are held in memory at once (``WAREHOUSE_MAX_CHUNK_DOCUMENTS``). YAML aliases are never expanded; .docx
    XML is read without DTDs or entities."""

    max_file_bytes: int = 64 * 2**20  # bytes of one landed file
    max_docx_inflated_bytes: int = 256 * 2**20  # a .docx's entries inflated, checked before inflating
    max_docx_entries: int = 5_000  # entries of a .docx package
    max_yaml_bytes: int = 64 * 2**10  # YAML front matter of a post
    max_staged_chars: int = 4_000_000  # characters of one staged document
    max_html_tags: int = 200_000  # start tags of one HTML page or post
    max_html_depth: int = 1_000  # elements open at once inside a skipped region (nav, script, footer…)
    max_document_seconds: float = 120.0  # cleaning, and then extraction, of one document
    max_chunk_documents: int = 1_000  # files of a partition in memory at once: a larger one streams in chunks

    def __post_init__(self) -> None:
        bad = [f for f in self.__dataclass_fields__ if not getattr(self, f) > 0]
        if bad:
            raise ValueError(f"limits must be positive: {', '.join(f'WAREHOUSE_{f.upper()}' for f in bad)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        base = cls()
        values = {}
        for f in base.__dataclass_fields__:
            default, raw = getattr(base, f), env.get(f"WAREHOUSE_{f.upper()}")
            try:
                values[f] = default if raw is None else type(default)(raw)
            except ValueError:
                raise ValueError(f"WAREHOUSE_{f.upper()}={raw!r} is not a number") from None
        return cls(**values)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Settings:
    """Where the warehouse lives and where documents land.

    root:   warehouse root holding raw/, staged/, curated/, quarantine/ (``WAREHOUSE_ROOT``, default ./data): a
            local folder or an ``s3://bucket/prefix`` URL (`warehouse.location`)
    source: landing zone, ``<source>/<YYYY-MM-DD>/<files>`` or a flat folder (``WAREHOUSE_SOURCE``): a local
            folder or an ``s3://bucket/prefix`` URL, read through a local mirror (`warehouse.landing`)
    name:   the warehouse's name in Prefect run names and artifact keys (``WAREHOUSE_NAME``; default
            derived from the root, see `warehouse_name`)
    limits: what one landed file may cost (`Limits`)
    workers: processes for cleaning and extraction (``WAREHOUSE_WORKERS``; default the CPUs available)
    executor: how a backfill runs its dates (``WAREHOUSE_EXECUTOR``: local, processes, threads, pool or
            dask://HOST:PORT; `EXECUTORS`); the CLI's ``--executor`` and the flow's parameter win over it
    """

    root: Root = Path("data")
    source: Root = SAMPLE_SOURCE
    name: str | None = None
    limits: Limits = DEFAULT_LIMITS
    workers: int = field(default_factory=default_workers)
    executor: str = "processes"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        base = cls()
        return replace(
            base,
            root=parse_root(env.get("WAREHOUSE_ROOT", str(base.root)), "WAREHOUSE_ROOT"),
            source=parse_root(env.get("WAREHOUSE_SOURCE", str(base.source)), "WAREHOUSE_SOURCE"),
            name=env.get("WAREHOUSE_NAME") or None,
            limits=Limits.from_env(env),
            workers=_positive_int(env, "WAREHOUSE_WORKERS", base.workers),
            executor=_executor(env.get("WAREHOUSE_EXECUTOR", base.executor)),
        )


# How a backfill runs its dates (flows.backfill): one after another in its own process, worker processes,
# child flow runs in threads, flow runs of the `partition` deployment picked up by a work pool's workers, or
# the workers of a running Dask cluster.
EXECUTORS = ("local", "processes", "threads", "pool", "dask://HOST:PORT")
DASK = "dask://"


def check_executor(executor: str) -> None:
    """ValueError unless `executor` is one of `EXECUTORS` (dask:// with a host and a port)."""
    if executor in EXECUTORS[:-1] or (executor.startswith(DASK) and _host_port(executor[len(DASK) :])):
        return
    raise ValueError(f"executor must be {', '.join(EXECUTORS[:-1])} or {EXECUTORS[-1]}, not {executor!r}")


def _executor(value: str) -> str:
    try:
        check_executor(value)
    except ValueError as exc:
        raise ValueError(f"WAREHOUSE_EXECUTOR: {exc}") from None
    return value


def _host_port(text: str) -> bool:
    host, _, port = text.rpartition(":")
    return bool(host) and port.isdigit() and "/" not in text


def dask_address(executor: str) -> str:
    """The scheduler address of a dask://HOST:PORT executor (tcp://HOST:PORT)."""
    return "tcp://" + executor[len(DASK) :]


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={raw!r}: expected a whole number of at least 1")
    return int(raw)


def warehouse_name(root: Path | str, configured: str | None = None) -> str:
    """A name for the warehouse at `root` that Prefect artifact keys accept (lowercase letters, digits,
    dashes): `configured` slugged, else the root folder's name and a short hash of its absolute path, so two
    roots never share artifact keys or run names (``data-3f9c2a``)."""
    if configured:
        slug = re.sub(r"[^a-z0-9]+", "-", configured.lower()).strip("-")
        if not slug:
            raise ValueError(f"WAREHOUSE_NAME {configured!r} has no letters or digits")
        return slug
    absolute = str(root) if "://" in str(root) else os.path.abspath(str(root))  # a URL is its own name
    base = re.sub(r"[^a-z0-9]+", "-", os.path.basename(absolute.rstrip("/")).lower()).strip("-") or "root"
    return f"{base[:40]}-{hashlib.sha256(absolute.encode()).hexdigest()[:6]}"
