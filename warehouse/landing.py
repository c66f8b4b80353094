"""A landing zone on object storage (``s3://bucket/landing``), read through a local mirror.

Runs read a landing zone as a folder of date folders (`warehouse.ingest`): symlinks, devices and limits are
checked on files. A landing zone given as an ``s3://`` URL is first mirrored into the work folder of the
warehouse root (`warehouse.location.work_dir`), ``<work>/_landing/<bucket>-<prefix>-<hash>/``, object keys
becoming paths (``2024-01-02/report.html``). Only objects whose ETag changed since they were mirrored are
downloaded (each date folder keeps its own index, so runs of different dates mirror side by side), and
files whose object is gone are removed: the mirror holds exactly what the zone held when it was read. The
documents' `source_path` is relative to the zone, so it reads the same from the mirror as from a folder.
A key that cannot be a path inside the mirror (``..``, an empty part) is not downloaded and is named in
`Mirror.refused`, which the CLI prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from warehouse import location
from warehouse.location import Root
from warehouse.objectstore import is_s3

LOOSE = "_loose"  # the index of the files at the top of the zone (they belong to no date folder)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Mirror:
    folder: Path  # the local copy, read as the landing zone
    downloaded: int = 0
    removed: int = 0
    refused: list[str] = field(default_factory=list)  # keys that cannot be paths, not downloaded


Days = date | tuple[date, date] | None  # one date folder, an inclusive range of them, or the whole zone


def local_source(source: Path | str, root: Root, days: Days = None) -> Mirror:
    """The landing zone as a local folder: `source` itself, or for an s3:// URL its mirror in the root's
    work folder with the date folders of `days` brought up to date (`mirror`)."""
    if not (isinstance(source, str) and is_s3(source)):
        return Mirror(Path(source))
    return mirror(source, location.work_dir(root), days)


def mirror_folder(source: str, work: Path) -> Path:
    return work / "_landing" / location.url_slug(source)


def mirror(source: str, work: Path, days: Days = None) -> Mirror:
    """Bring the mirror of `source` up to date: the date folder `days` names (listed alone), the folders of
    a range of dates, or every date folder and the loose top-level files (None)."""
    fs = location._fs(source)
    base = source[len("s3://") :].rstrip("/")
    out = Mirror(mirror_folder(source, work))
    out.folder.mkdir(parents=True, exist_ok=True)
    if isinstance(days, date):
        _sync(fs, base, _objects(fs, f"{base}/{days.isoformat()}"), days.isoformat(), out)
        return out
    try:
        top = fs.ls(base, detail=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"landing zone {source} does not exist (no object under it)") from None
    wanted = (lambda d: days[0] <= d <= days[1]) if isinstance(days, tuple) else (lambda d: True)
    scopes = {
        name: entry["name"]
        for entry in top
        if entry["type"] == "directory"
        and (day := _day(name := entry["name"].rsplit("/", 1)[-1])) is not None
        and wanted(day)
    }
    for path in sorted(_indexes(out).glob("*.json")) if _indexes(out).is_dir() else []:
        day = _day(path.stem)  # a date folder mirrored before and gone from the zone since
        if day is not None and wanted(day):
            scopes.setdefault(path.stem, "")
    for name, prefix in sorted(scopes.items()):
        _sync(fs, base, _objects(fs, prefix) if prefix else {}, name, out)
    if days is None:
        _sync(fs, base, {e["name"]: e for e in top if e["type"] == "file"}, LOOSE, out)
    return out


def _objects(fs: Any, prefix: str) -> dict[str, dict[str, Any]]:
    """Every object under `prefix` (none when there is none)."""
    try:
        return {k: v for k, v in fs.find(prefix, detail=True).items() if v["type"] == "file"}
    except FileNotFoundError:
        return {}


def _indexes(out: Mirror) -> Path:
    """Where the mirror keeps, per date folder, the ETag of every file it holds (outside the mirror)."""
    return out.folder.parent / f"{out.folder.name}.index"


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(name) if _DATE.match(name) else None
    except ValueError:
        return None


def _sync(fs: Any, base: str, objects: dict[str, dict[str, Any]], scope: str, out: Mirror) -> None:
    """Make the mirror's `scope` (a date folder, or the loose files) hold exactly `objects`; a folder left
    empty is removed (a date the zone no longer has is not a date of it)."""
    index_path = _indexes(out) / f"{scope}.json"
    index = json.loads(index_path.read_text(encoding="utf-8")) if index_path.exists() else {}
    fresh: dict[str, str] = {}
    for key, info in sorted(objects.items()):
        relative = key[len(base) + 1 :]
        parts = relative.split("/")
        if any(p in ("", ".", "..") for p in parts):
            out.refused.append(f"{key}: the key cannot be a file name in the mirror; not read")
            continue
        etag = str(info.get("ETag") or info.get("etag") or info.get("size"))
        try:
            target, partial = out.folder.joinpath(*parts), out.folder.parent / f"{out.folder.name}.partial"
            out.downloaded += _fetch(fs, key, target, index.get(relative) != etag, partial)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:  # x and x/y both keys
            out.refused.append(f"{key}: clashes with another key as a file and a folder ({exc}); not read")
            continue
        fresh[relative] = etag
    for relative in set(index) - set(fresh):  # gone from the zone: gone from the mirror
        (out.folder / relative).unlink(missing_ok=True)
        out.removed += 1
    if scope != LOOSE:
        _remove_empty(out.folder / scope)
    from warehouse.storage import write_text_atomically  # (storage imports deltalake: not at CLI start)

    write_text_atomically(index_path, json.dumps(fresh, ensure_ascii=False))


def _fetch(fs: Any, key: str, target: Path, changed: bool, partial: Path) -> int:
    """Download `key` to `target` when it changed or is missing, through a temporary file in `partial`
    (outside the mirror: a killed download leaves nothing a run would read); 1 when downloaded."""
    if not changed and target.is_file():
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    partial.mkdir(parents=True, exist_ok=True)
    tmp = partial / f"{uuid.uuid4().hex}.part"
    try:
        fs.get_file(key, str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return 1


def _remove_empty(folder: Path) -> None:
    """Remove the empty folders under `folder`, and `folder` itself if it is left empty."""
    if not folder.is_dir():
        return
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            path.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()
