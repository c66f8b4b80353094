"""Where a warehouse lives: its root is a local folder or an object-store URL (``s3://bucket/warehouse``).

What a run needs beside a root on object storage is split in two:
- on the root, shared by every machine that writes it: the Delta tables, the snapshot manifests and the
  partition ledger's records (small JSON objects; one PUT replaces an object whole, as a rename does a file);
- in a local work folder (`work_dir`): the staging files a run audits before it commits, the extraction
  cache, the locks and publish intents of this machine, the audit log and the Great Expectations stores.
For a local root the work folder is the root itself, so a local warehouse is laid out as it always was.

Credentials are never passed around (flow parameters are stored in Prefect's database): each process
resolves them from its environment or ``AWS_PROFILE`` (`warehouse.objectstore.ObjectStore.from_env`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from warehouse.objectstore import ObjectStore, is_s3

Root = Path | str  # a local folder, or an s3:// URL (a str)


def parse_root(value: str | Path, what: str = "root") -> Root:
    """`value` as a root: a local Path (a folder, or a ``file:///absolute/path`` URL), or an
    ``s3://bucket[/prefix]`` URL without its trailing slash; any other URL (an s3 URL without a bucket, a
    file URL naming a host) is a ValueError, so nothing is ever written to a local folder named after a
    URL."""
    text = str(value)
    if text.startswith("file://"):
        if not text.startswith("file:///"):
            raise ValueError(f"{what} {text!r}: a file URL names a local path, file:///absolute/path")
        return Path(unquote(text[len("file://") :]))
    if text.startswith("s3:/") and not is_s3(text):  # a URL that went through a Path (s3://b → s3:/b)
        text = "s3://" + text[len("s3:/") :]
    if is_s3(text):
        if not text[len("s3://") :].strip("/"):
            raise ValueError(f"{what} {text!r} names no bucket")
        return text.rstrip("/")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:/", text):
        raise ValueError(
            f"{what} {text!r}: only local folders (or file:///path) and s3://bucket/prefix URLs are supported"
        )
    return Path(value)


def is_remote(root: Root) -> bool:
    return isinstance(root, str) and is_s3(root)


def join(root: Root, relative: str) -> str:
    """The location of `relative` (``curated/indicators``) under `root` (a folder, or a URL: s3://,
    file://), as a string every library takes."""
    if isinstance(root, str) and "://" in root:
        return f"{root.rstrip('/')}/{relative}"
    return str(Path(root) / relative)


def url_slug(url: str) -> str:
    """A local folder name for an s3:// URL: its bucket and prefix in letters, digits and dashes, and a
    short hash of the whole URL (``bkt-landing-729362f0``), so two URLs never share a folder."""
    slug = "".join(c if c.isalnum() else "-" for c in url[len("s3://") :]).strip("-")[:60]
    return f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def work_dir(root: Root) -> Path:
    """The local work folder of `root`: the root itself when it is local; for a URL, a folder of this
    machine's state directory named after it (``$XDG_STATE_HOME/warehouse/<bucket>-<prefix>-<hash>``,
    default ``~/.local/state``)."""
    if not is_remote(root):
        return Path(root)
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "warehouse" / url_slug(str(root))


PROFILE_SECONDS = 600  # a profile's credentials are resolved again after this (temporary ones expire)


def store() -> ObjectStore:
    """This process's object-store settings: its environment, and its profile's credentials resolved at
    most every `PROFILE_SECONDS` (an SSO or assumed-role session's keys expire within the hour)."""
    return _resolved(ObjectStore.from_env(), int(time.time() // PROFILE_SECONDS))


@functools.lru_cache(maxsize=8)
def _resolved(found: ObjectStore, period: int) -> ObjectStore:
    return found.resolved()


def table_options(root: Root) -> dict[str, str] | None:
    """`storage_options` for deltalake and polars: None for a local root."""
    return store().polars_options() if is_remote(root) else None


def _fs(root: Root) -> Any:
    import s3fs

    fs = s3fs.S3FileSystem(**store().fsspec_options())
    fs.invalidate_cache()  # listings must see what other processes wrote since
    return fs


def _key(location: str) -> str:
    return location[len("s3://") :]


def read_text(root: Root, relative: str) -> str | None:
    """The text of an object or file under `root`, or None if there is none."""
    if not is_remote(root):
        path = Path(root) / relative
        return path.read_text(encoding="utf-8") if path.exists() else None
    try:
        return str(_fs(root).cat_file(_key(join(root, relative))).decode("utf-8"))
    except FileNotFoundError:
        return None


def read_texts(root: Root, folder: str, wanted: list[str]) -> dict[str, str]:
    """The texts of the files `wanted` (names) in `folder` under `root` that exist, by name; on object
    storage fetched together (s3fs requests them concurrently), not one round trip after another."""
    if not is_remote(root):
        return {n: t for n in wanted if (t := read_text(root, f"{folder}/{n}")) is not None}
    keys = {_key(join(root, f"{folder}/{n}")): n for n in wanted}
    if not keys:
        return {}
    found = _fs(root).cat(list(keys), on_error="omit")
    return {keys[k]: v.decode("utf-8") for k, v in found.items() if isinstance(v, bytes)}


def _listing(root: Root, folder: str) -> list[dict[str, Any]]:
    """The entries directly in `folder` of an s3:// root (s3fs's detail: name, type, LastModified…); none
    when there is nothing under it."""
    try:
        return list(_fs(root).ls(_key(join(root, folder)), detail=True))
    except FileNotFoundError:
        return []


def _name(entry: dict[str, Any]) -> str:
    return str(entry["name"]).rsplit("/", 1)[-1]


def modified(root: Root, folder: str) -> dict[str, float]:
    """When each file directly in `folder` under `root` was last written (seconds since the epoch), by
    name: one listing."""
    if not is_remote(root):
        path = Path(root) / folder
        return {p.name: p.stat().st_mtime for p in path.iterdir() if p.is_file()} if path.is_dir() else {}
    return {_name(f): f["LastModified"].timestamp() for f in _listing(root, folder) if f["type"] == "file"}


def write_text(root: Root, relative: str, text: str) -> None:
    """Replace an object or file under `root` whole (a local file by an atomic rename; an object by one
    PUT): readers see the old text or the new, never part of it."""
    if not is_remote(root):
        from warehouse.storage import write_text_atomically

        write_text_atomically(Path(root) / relative, text)
        return
    _fs(root).pipe_file(_key(join(root, relative)), text.encode("utf-8"))


def remove(root: Root, relative: str) -> None:
    """Delete an object or file under `root`; nothing if it is not there."""
    if not is_remote(root):
        (Path(root) / relative).unlink(missing_ok=True)
        return
    with contextlib.suppress(FileNotFoundError):
        _fs(root).rm_file(_key(join(root, relative)))


def names(root: Root, folder: str, suffix: str = "") -> list[str]:
    """Names of the files (objects) directly in `folder` under `root` that end with `suffix`, sorted."""
    if not is_remote(root):
        path = Path(root) / folder
        return (
            sorted(p.name for p in path.iterdir() if p.is_file() and p.name.endswith(suffix))
            if path.is_dir()
            else []
        )
    found = (_name(f) for f in _listing(root, folder) if f["type"] == "file")
    return sorted(name for name in found if name.endswith(suffix))


def folders(root: Root, folder: str) -> list[str]:
    """Names of the sub-folders (common prefixes) directly in `folder` under `root`, sorted."""
    if not is_remote(root):
        path = Path(root) / folder
        return sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []
    return sorted(_name(f) for f in _listing(root, folder) if f["type"] == "directory")


def check_writable(root: Root) -> None:
    """Write and delete a probe object under `root`; a ValueError saying why when that fails (no bucket,
    no credentials, no permission, no endpoint), before any run has done work it could not publish."""
    if not is_remote(root):
        return
    probe = f"_ledger/.probe-{uuid.uuid4().hex}"
    try:
        write_text(root, probe, "")
        remove(root, probe)
    except Exception as exc:  # botocore/s3fs raise many types for the same "cannot write here"
        reason = str(exc).strip() or type(exc).__name__
        raise ValueError(f"cannot write to the warehouse root {root}: {reason}") from None
