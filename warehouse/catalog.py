"""The indicator catalog, its cue rules, and the administrative-division gazetteer (project data)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

# Which unit classes of a quantity mention (see numbers.UNIT_CLASSES) can express each catalog unit.
UNIT_COMPAT: dict[str, frozenset[str]] = {
    "CNY": frozenset({"cny"}),
    "person": frozenset({"person"}),
    "household": frozenset({"household"}),
    "village": frozenset({"count", "village"}),
    "county": frozenset({"count", "county"}),
    "post": frozenset({"count", "person"}),
    "percent": frozenset({"percent"}),
}


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    unit: str
    definition: str
    typical_cues: str
    not_this: str


@dataclass(frozen=True)
class Cue:
    """A regex over a mention's context string ``left + '§' + right`` that signals an indicator."""

    indicator: str
    pattern: re.Pattern[str]
    requires: re.Pattern[str] | None  # must also match the sentence (None: no condition)
    priority: int


@dataclass(frozen=True)
class Exclusion:
    """A context in which a mention is not a fact of `indicator` ('*': of any indicator)."""

    indicator: str
    scope: str  # 'left' (own clause before the number), 'right' (after it), 'lead' (sentence before it) or 'sentence'
    pattern: re.Pattern[str]
    reason: str
    exempt: frozenset[str] = (
        frozenset()
    )  # indicators a '*' rule does not apply to (不低于 states a threshold)


def _rows(name: str) -> list[dict[str, str]]:
    """Rows of a bundled CSV, skipping `#` comments. A row with too many or too few fields (a pattern with
    an unquoted comma) is an error, not a silently truncated rule."""
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = []
        for row in reader:
            if row[next(iter(row))].startswith("#"):
                continue
            if None in row or None in row.values():
                raise ValueError(
                    f"{name} line {reader.line_num}: expected {len(reader.fieldnames or [])} fields"
                )
            rows.append(row)
        return rows


@cache
def indicators() -> dict[str, Indicator]:
    """The 32 catalog codes, keyed by code."""
    return {r["code"]: Indicator(**r) for r in _rows("indicators.csv")}


@cache
def plausible_ranges() -> dict[str, tuple[float, float]]:
    """Plausible value range (inclusive, catalog unit) per code, from data/ranges.csv; every code has one."""
    ranges = {r["code"]: (float(r["min_value"]), float(r["max_value"])) for r in _rows("ranges.csv")}
    missing, unknown = set(indicators()) - set(ranges), set(ranges) - set(indicators())
    if missing or unknown:
        raise ValueError(
            f"ranges.csv: codes without a range {sorted(missing)}, unknown codes {sorted(unknown)}"
        )
    return ranges


@cache
def cues() -> tuple[Cue, ...]:
    known = indicators()
    out = []
    for r in _rows("cues.csv"):
        if r["indicator"] not in known:
            raise ValueError(f"cues.csv names unknown indicator {r['indicator']!r}")
        out.append(
            Cue(
                indicator=r["indicator"],
                pattern=re.compile(r["pattern"]),
                requires=re.compile(r["requires"]) if r["requires"] else None,
                priority=int(r["priority"] or 0),
            )
        )
    return tuple(out)


@cache
def exclusions() -> tuple[Exclusion, ...]:
    known = indicators()
    out = []
    for r in _rows("exclusions.csv"):
        if r["indicator"] != "*" and r["indicator"] not in known:
            raise ValueError(f"exclusions.csv names unknown indicator {r['indicator']!r}")
        if r["scope"] not in {"left", "right", "sentence", "lead"}:
            raise ValueError(f"exclusions.csv: bad scope {r['scope']!r}")
        exempt = frozenset(x for x in (r.get("exempt") or "").split("|") if x)
        if exempt - known.keys():
            raise ValueError(f"exclusions.csv exempts unknown indicators {sorted(exempt - known.keys())}")
        out.append(Exclusion(r["indicator"], r["scope"], re.compile(r["pattern"]), r["reason"], exempt))
    return tuple(out)


@cache
def exclusions_for(indicator: str) -> tuple[Exclusion, ...]:
    """The exclusions that apply to `indicator` ('*' rules unless it is exempt, and its own)."""
    return tuple(e for e in exclusions() if e.indicator in ("*", indicator) and indicator not in e.exempt)


@cache
def cues_for(unit_class: str) -> tuple[Cue, ...]:
    """The cues whose indicator a mention of this unit class can express."""
    return tuple(c for c in cues() if unit_class in unit_classes(c.indicator))


@cache
def cue_tiers(unit_class: str) -> tuple[tuple[Cue, ...], ...]:
    """`cues_for(unit_class)` grouped by priority, highest first (a lower tier matters only when no cue of a
    higher one holds)."""
    levels = sorted({c.priority for c in cues_for(unit_class)}, reverse=True)
    return tuple(tuple(c for c in cues_for(unit_class) if c.priority == p) for p in levels)


def unit_classes(indicator_code: str) -> frozenset[str]:
    return UNIT_COMPAT[indicators()[indicator_code].unit]
