"""Facts from table rows (HTML `<table>` and Word tables, staged as tab-separated lines).

A table is a run of lines with tabs; its first line is the header. The unit comes from a caption line
(单位：万元), a header cell (金额（万元）) or a 单位 column; the year from a year column header (2022年);
target, growth and share columns (目标, 计划, 增幅, 占比, %) and index columns (序号) are skipped. The row
label names the region (卢氏县) or the indicator (新识别纳入监测户数); the caption lends its words when the
label is a place. Indicators come from the same cue rules as prose, over ``label + '§'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

from warehouse import regions
from warehouse.numbers import FACT_CLASSES, Mention, base_value, find_mentions

_UNIT = r"(万元|亿元|千元|元|万人|万户|人|户|个|%|名)"
_CAPTION_UNIT = re.compile(r"单位[:：]\s*" + _UNIT)
_CELL_UNIT = re.compile(r"[（(]\s*" + _UNIT + r"\s*[）)]")
_YEAR_HEAD = re.compile(r"((?:19|20)\d{2})\s*年?(度|底|末)?$")
_SKIP_HEAD = re.compile(r"序号|编号|目标|计划|任务|增幅|增长|增速|同比|占比|比重|比例|%|排名|备注")
_NUMBER_CELL = re.compile(r"^[\d,.]+$")


@dataclass
class Column:
    index: int
    year: int | None
    skip: bool
    unit: str | None
    header: str


@dataclass
class TableCell:
    start: int  # offset of the number in the staged text
    end: int
    mention: Mention  # value already scaled by the table's unit
    label: str  # words naming what the number counts (caption, header, row label)
    own_label: str  # the row's and column's own words (exclusions look here, not at the caption)
    region: str | None  # region named by the row, if any
    year: int | None
    row: tuple[int, int]  # span of the row line


@cache
def unit_scale(unit: str) -> tuple[float, str | None]:
    (m,) = find_mentions("1" + unit)
    return m.value, m.unit_class


def table_blocks(view: str) -> list[list[tuple[int, int]]]:
    """Runs of consecutive tab-separated lines, as line spans."""
    blocks, current, pos = [], [], 0
    for line in view.split("\n"):
        span = (pos, pos + len(line))
        pos += len(line) + 1
        if "\t" in line:
            current.append(span)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return [b for b in blocks if len(b) >= 2]


def _columns(header: list[str], caption_unit: str | None) -> list[Column]:
    cols = []
    for i, cell in enumerate(header):
        y = _YEAR_HEAD.search(cell)
        u = _CELL_UNIT.search(cell)
        cols.append(
            Column(
                i,
                int(y.group(1)) if y else None,
                bool(_SKIP_HEAD.search(cell)) and not y,
                u.group(1) if u else caption_unit,
                cell,
            )
        )
    return cols


def table_cells(view: str, place_codes: dict[str, str]) -> list[TableCell]:
    """Every numeric cell of every table with the words, unit, region and year that qualify it."""
    out = []
    for block in table_blocks(view):
        first = block[0][0]
        before = view[max(0, first - 200) : first].split("\n")[-3:]
        caption = " ".join(before)
        cu = _CAPTION_UNIT.search(caption)
        header = view[block[0][0] : block[0][1]].split("\t")
        cols = _columns(header, cu.group(1) if cu else None)
        unit_col = next((c.index for c in cols if c.header.strip() == "单位"), None)
        title = _CAPTION_UNIT.sub("", caption).strip()
        for lo, hi in block[1:]:
            cells = view[lo:hi].split("\t")
            offsets = list(accumulate((len(c) + 1 for c in cells[:-1]), initial=lo))
            labels = [
                c
                for i, c in enumerate(cells)
                if not _NUMBER_CELL.match(c.strip())
                and i != unit_col
                and not (i < len(cols) and cols[i].skip)
            ]
            region = next((place_codes[x] for x in labels if x in place_codes), None)
            label = " ".join(x for x in labels if x not in place_codes)
            row_unit = cells[unit_col].strip() if unit_col is not None and unit_col < len(cells) else None
            for i, cell in enumerate(cells):
                col = cols[i] if i < len(cols) else None
                text = cell.strip()
                if col is None or col.skip or i == unit_col or not _NUMBER_CELL.match(text):
                    continue
                unit = row_unit or col.unit
                if not unit:
                    continue
                scale, unit_class = unit_scale(unit)
                if unit_class not in FACT_CLASSES:
                    continue
                start = offsets[i] + cell.index(text)
                found = find_mentions(text)
                if not found:
                    continue
                num = found[0]
                value = base_value(num.number, scale, unit_class)
                m = Mention(
                    start,
                    start + len(text),
                    text,
                    num.number,
                    scale,
                    unit,
                    unit_class,
                    value,
                    False,
                    None,
                    "quantity",
                )
                head = "" if col.year else col.header
                own = f"{head} {label}".strip()
                out.append(
                    TableCell(
                        start, start + len(text), m, f"{title} {own}".strip(), own, region, col.year, (lo, hi)
                    )
                )
    return out


def place_index(found: list[regions.RegionMatch]) -> dict[str, str]:
    """Full region names found in the text, mapped to their codes (for row labels)."""
    return {m.surface: m.codes[0] for m in found if not m.is_alias and len(m.codes) == 1}
