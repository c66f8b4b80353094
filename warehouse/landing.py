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

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
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


def local_source(source: Path | str, root: Root, wanted: Callable[[date], bool] | None = None) -> Path:
    """The landing zone as a local folder: `source` itself, or its mirror (`mirror`) for an s3:// URL,
    the date folders `wanted` accepts brought up to date (all of them, and the loose files, when None)."""
    if not (isinstance(source, str) and is_s3(source)):
        return Path(source)
    return mirror(source, location.work_dir(root), wanted).folder


def mirror_folder(source: str, work: Path) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in source[len("s3://") :]).strip("-")[:60]
    return work / "_landing" / f"{slug}-{hashlib.sha256(source.encode()).hexdigest()[:8]}"


def mirror(source: str, work: Path, wanted: Callable[[date], bool] | None = None) -> Mirror:
    """Bring the mirror of `source` up to date: every date folder `wanted` accepts (all when None, then the
    loose top-level files too)."""
    fs = location._fs(source)
    base = source[len("s3://") :].rstrip("/")
    out = Mirror(mirror_folder(source, work))
    out.folder.mkdir(parents=True, exist_ok=True)
    try:
        top = fs.ls(base, detail=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"landing zone {source} does not exist (no object under it)") from None
    seen = set()
    for entry in top:
        name = entry["name"].rsplit("/", 1)[-1]
        day = _day(name) if entry["type"] == "directory" else None
        if day is not None and (wanted is None or wanted(day)):
            objects = {k: v for k, v in fs.find(entry["name"], detail=True).items() if v["type"] == "file"}
            _sync(fs, base, objects, name, out)
            seen.add(name)
    indexes = out.folder.parent / f"{out.folder.name}.index"
    for path in sorted(indexes.glob("*.json")) if indexes.is_dir() else []:  # date folders gone since
        day = _day(path.stem)
        if day is not None and path.stem not in seen and (wanted is None or wanted(day)):
            _sync(fs, base, {}, path.stem, out)
    if wanted is None:
        loose = {e["name"]: e for e in top if e["type"] == "file"}
        _sync(fs, base, loose, LOOSE, out)
    return out


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(name) if _DATE.match(name) else None
    except ValueError:
        return None


def _sync(fs: Any, base: str, objects: dict[str, dict[str, Any]], scope: str, out: Mirror) -> None:
    """Make the mirror's `scope` (a date folder, or the loose files) hold exactly `objects`."""
    index_path = out.folder.parent / f"{out.folder.name}.index" / f"{scope}.json"
    index = json.loads(index_path.read_text(encoding="utf-8")) if index_path.exists() else {}
    fresh: dict[str, str] = {}
    for key, info in sorted(objects.items()):
        relative = key[len(base) + 1 :]
        parts = relative.split("/")
        if any(p in ("", ".", "..") for p in parts):
            out.refused.append(f"{key}: the key cannot be a file name in the mirror; not read")
            continue
        target = out.folder.joinpath(*parts)
        etag = str(info.get("ETag") or info.get("etag") or info.get("size"))
        if index.get(relative) != etag or not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
            try:
                fs.get_file(key, str(tmp))
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            out.downloaded += 1
        fresh[relative] = etag
    for relative in set(index) - set(fresh):  # gone from the zone: gone from the mirror
        (out.folder / relative).unlink(missing_ok=True)
        out.removed += 1
    index_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_index = index_path.with_name(f".{index_path.name}.{uuid.uuid4().hex}.tmp")
    tmp_index.write_text(json.dumps(fresh, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp_index, index_path)
