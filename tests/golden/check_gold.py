#!/usr/bin/env python3
"""Sanity checks for the held-out golden set (tests/golden/).

Decodes every document in docs/ the way an extractor has to (BOM sniffing, UTF-8, GB18030/GBK, UTF-16;
.docx through python-docx paragraphs + table cells) and checks every row of gold.jsonl:

* the row has exactly the dev.jsonl keys and sane types (value number, year int or null, optional bool);
* indicator is a catalog code and unit is that code's catalog unit;
* doc exists, evidence is an exact substring of the decoded document text;
* the value plausibly appears in the evidence: some number written in it (ASCII or full-width digits,
  thousands separators, Chinese numerals such as 两千三百 / 三点一六亿, with 万/亿/萬/億 expanded, ranges
  like 5000-8000万元 carrying the unit to both ends) equals the value;
* region is a full official name (ends in 省/自治区/市/州/县/区/旗/盟) or 全国;
* no duplicate (doc, indicator, value, region) rows; every document has gold rows; document sizes are in
  the intended 1,500-4,000 Chinese-character range.

Only the standard library and python-docx are used.  Run:  python tests/golden/check_gold.py [SET_DIR]
[--min-cjk N]  (default: this folder, 1,500; tests/holdout is checked with --min-cjk 1200).
Exit status 0 when everything passes.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Catalog code -> unit (copied from shared/catalog/indicators.csv; cross-checked below when shared/ is present).
UNITS = {
    "poverty_exit_population": "person",
    "poverty_exit_households": "household",
    "poor_villages_exited": "village",
    "registered_poor_population": "person",
    "poor_per_capita_income": "CNY",
    "monitored_households_new": "household",
    "monitored_population_new": "person",
    "monitored_households_total": "household",
    "monitored_population_total": "person",
    "risk_eliminated_households": "household",
    "risk_eliminated_population": "person",
    "risk_elimination_rate": "percent",
    "monitoring_income_threshold": "CNY",
    "grid_workers": "person",
    "first_secretaries": "person",
    "village_team_members": "person",
    "bridging_funds": "CNY",
    "poverty_alleviation_funds": "CNY",
    "industry_development_funds": "CNY",
    "work_relief_funds": "CNY",
    "east_west_cooperation_funds": "CNY",
    "microcredit_new": "CNY",
    "microcredit_cumulative": "CNY",
    "employed_poverty_labor": "person",
    "public_welfare_jobs": "post",
    "key_assistance_villages": "village",
    "key_assistance_counties": "county",
    "consumption_assistance_sales": "CNY",
    "social_assistance_population": "person",
    "subsistence_allowance_standard": "CNY",
    "dilapidated_houses_renovated": "household",
    "relocated_population": "person",
}
KEYS = {"doc", "indicator", "value", "unit", "region", "year", "optional", "evidence"}
REGION_RE = re.compile(r"^(全国|.+(省|自治区|市|州|县|区|旗|盟))$")


# ----------------------------------------------------------------------------------------------- decoding
def decode_bytes(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def docx_text(path: Path) -> str:
    import docx  # python-docx

    d = docx.Document(str(path))
    parts = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            for cell in row.cells:
                parts.append(cell.text)
    return "\n".join(parts)


def load_doc(path: Path) -> tuple[str, str]:
    if path.suffix.lower() == ".docx":
        return docx_text(path), "docx"
    return decode_bytes(path.read_bytes())


def visible_text(text: str, name: str) -> str:
    if name.endswith((".html", ".htm")):
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return text


# ------------------------------------------------------------------------------------- number recognition
FW = str.maketrans("０１２３４５６７８９．，", "0123456789.,")
CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_UNIT = {"十": 10, "百": 100, "千": 1000}
MULT = {"万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8}


def cn_small(s: str) -> int:
    """Chinese integer below 10,000 (十二, 两千三百, 九百八十九, 一百零五)."""
    total, digit = 0, None
    for ch in s:
        if ch in CN_DIGIT:
            digit = CN_DIGIT[ch]
        elif ch in CN_UNIT:
            total += (1 if digit is None else digit) * CN_UNIT[ch]
            digit = None
    return total + (digit or 0)


def cn_int(s: str) -> float:
    total = 0.0
    for big, mult in (("亿", 1e8), ("億", 1e8), ("万", 1e4), ("萬", 1e4)):
        if big in s:
            head, s = s.split(big, 1)
            total += cn_int(head) * mult
    return total + cn_small(s)


CN_NUM_RE = re.compile(
    r"[零〇一二两三四五六七八九十百千][零〇一二两三四五六七八九十百千万萬亿億]*(?:点[零〇一二三四五六七八九]+)?[多余]?[万萬亿億]*"
)
AR_NUM_RE = re.compile(r"(\d+(?:\.\d+)?)(?:\s*[-－—~～至到]\s*(\d+(?:\.\d+)?))?\s*[多余]?\s*([万萬亿億]?)")


def numbers_in(text: str) -> list[float]:
    t = text.translate(FW)
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)  # thousands separators
    out: list[float] = []
    for m in AR_NUM_RE.finditer(t):
        mult = MULT.get(m.group(3), 1.0)
        for g in (m.group(1), m.group(2)):
            if g is not None:
                out.append(float(g) * mult)
    for m in CN_NUM_RE.finditer(t):
        s = m.group(0).replace("多", "").replace("余", "")
        trail = 1.0
        while s and s[-1] in MULT:
            trail *= MULT[s[-1]]
            s = s[:-1]
        if not s:
            continue
        if "点" in s:
            ip, fp = s.split("点", 1)
            val = cn_int(ip) + float("0." + "".join(str(CN_DIGIT[c]) for c in fp))
        else:
            val = cn_int(s)
        out.append(val * trail)
    return out


def digit_signature(x: float) -> str:
    s = f"{x:.6f}".replace(".", "").lstrip("0").rstrip("0")
    return s or "0"


def value_in_evidence(value: float, evidence: str) -> bool:
    """True when a number written in the evidence equals the value.  Table rows and cells carry their unit
    in a header or caption (单位：万元) outside the evidence; for them (evidence with <td>, or a bare number)
    the value only has to agree with a written number up to a power of ten (31250 万元 -> 312500000)."""
    tol = max(0.01, 1e-6 * abs(value))
    nums = numbers_in(evidence)
    if any(abs(n - value) <= tol for n in nums):
        return True
    is_table = "<td" in evidence or re.fullmatch(r"[\d.,０-９．，]+", evidence.strip()) is not None
    return is_table and any(digit_signature(n) == digit_signature(value) for n in nums)


# ------------------------------------------------------------------------------------------------- checks
def main(set_dir: Path = HERE, min_cjk: int = 1500) -> int:
    """Check `set_dir`/docs against `set_dir`/gold.jsonl; documents must have `min_cjk`-4000 Chinese characters."""
    failures: list[str] = []

    def fail(msg: str) -> None:
        failures.append(msg)

    catalog = HERE.parents[2] / "shared" / "catalog" / "indicators.csv"  # <repo>/../shared when present
    if not catalog.exists():
        catalog = HERE.parents[3] / "shared" / "catalog" / "indicators.csv"
    if catalog.exists():
        with catalog.open(encoding="utf-8") as f:
            cat = {r["code"]: r["unit"] for r in csv.DictReader(f)}
        if cat != UNITS:
            fail(f"embedded unit table differs from {catalog}")

    docs = {p.name: p for p in sorted((set_dir / "docs").iterdir()) if p.is_file()}
    texts, encodings = {}, {}
    for name, p in docs.items():
        texts[name], encodings[name] = load_doc(p)
        n_cjk = len(re.findall(r"[\u4e00-\u9fff]", visible_text(texts[name], name)))
        if not min_cjk <= n_cjk <= 4000:
            fail(f"{name}: {n_cjk} Chinese characters, outside {min_cjk}-4000")

    gold = set_dir / "gold.jsonl"
    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    seen: Counter = Counter()
    per_doc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, r in enumerate(rows, 1):
        where = f"gold.jsonl:{i} ({r.get('doc')}, {r.get('indicator')}, {r.get('value')})"
        if set(r) != KEYS:
            fail(f"{where}: keys {sorted(r)}")
            continue
        if r["doc"] not in texts:
            fail(f"{where}: no such document")
            continue
        if r["indicator"] not in UNITS:
            fail(f"{where}: unknown indicator")
        elif r["unit"] != UNITS[r["indicator"]]:
            fail(f"{where}: unit {r['unit']} != {UNITS[r['indicator']]}")
        if not isinstance(r["value"], (int, float)) or isinstance(r["value"], bool):
            fail(f"{where}: value not a number")
            continue
        if r["year"] is not None and not (isinstance(r["year"], int) and 2010 <= r["year"] <= 2025):
            fail(f"{where}: bad year {r['year']!r}")
        if not isinstance(r["optional"], bool):
            fail(f"{where}: optional not a bool")
        if not REGION_RE.match(r["region"]):
            fail(f"{where}: region {r['region']!r} is not a full official name")
        if r["unit"] == "percent" and not 0 <= r["value"] <= 100:
            fail(f"{where}: percent outside 0-100")
        if not r["evidence"] or r["evidence"] not in texts[r["doc"]]:
            fail(f"{where}: evidence not found in document: {r['evidence']!r}")
        elif not value_in_evidence(float(r["value"]), r["evidence"]):
            fail(
                f"{where}: value not recognisable in evidence {r['evidence']!r} (found {numbers_in(r['evidence'])})"
            )
        key = (r["doc"], r["indicator"], r["value"], r["region"])
        seen[key] += 1
        if seen[key] == 2:
            fail(f"{where}: duplicate row")
        per_doc[r["doc"]][1 if r["optional"] else 0] += 1

    for name in docs:
        if name not in per_doc:
            fail(f"{name}: no gold rows")

    print(f"{'document':42} {'encoding':10} {'required':>8} {'optional':>8}")
    for name in docs:
        req, opt = per_doc.get(name, [0, 0])
        print(f"{name:42} {encodings[name]:10} {req:8d} {opt:8d}")
    tot_req = sum(v[0] for v in per_doc.values())
    tot_opt = sum(v[1] for v in per_doc.values())
    print(f"{'total':42} {'':10} {tot_req:8d} {tot_opt:8d}")
    for msg in failures:
        print("FAIL", msg)
    print(
        f"{len(rows) - len({f.split(':')[1].split(' ')[0] for f in failures if f.startswith('gold.jsonl:')})} "
        f"rows ok, {len(failures)} problems"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Check a golden set's gold.jsonl against its docs/.")
    parser.add_argument(
        "set_dir", nargs="?", type=Path, default=HERE, help="folder with docs/ and gold.jsonl"
    )
    parser.add_argument("--min-cjk", type=int, default=1500, help="fewest Chinese characters per document")
    args = parser.parse_args()
    sys.exit(main(args.set_dir.resolve(), args.min_cjk))
