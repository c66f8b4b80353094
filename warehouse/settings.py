"""One settings object, read once at the entry point (environment prefix ``WAREHOUSE_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
SAMPLE_SOURCE = PROJECT_DIR / "sample" / "landing"
SAMPLE_GOLD = PROJECT_DIR / "sample" / "gold" / "dev.jsonl"


@dataclass(frozen=True)
class Settings:
    """Where the warehouse lives and where documents land.

    root:   warehouse root holding raw/, staged/, curated/, quarantine/ (``WAREHOUSE_ROOT``, default ./data)
    source: landing zone, ``<source>/<YYYY-MM-DD>/<files>`` or a flat folder (``WAREHOUSE_SOURCE``)
    """

    root: Path = Path("data")
    source: Path = SAMPLE_SOURCE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        base = cls()
        return replace(
            base,
            root=Path(env.get("WAREHOUSE_ROOT", str(base.root))),
            source=Path(env.get("WAREHOUSE_SOURCE", str(base.source))),
        )
