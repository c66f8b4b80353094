"""A static, self-contained HTML report of the current snapshot.

    from warehouse import report
    report.build_report("data")  # -> data/report/index.html

One file, readable offline: inline CSS, charts drawn here as inline SVG, no script, no external fonts,
images or links. Per indicator present in the panel (catalog order): a grouped bar chart of the value by
year and region (the `MAX_REGIONS` regions with the most years; the table lists all) and the panel rows,
each value linking to its evidence sentence, which links to its source document. All document-derived
text is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from warehouse import catalog, read, storage

MAX_REGIONS = 8
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b8860b", "#b07aa1", "#ff6f91")
UNIT_ZH = {
    "CNY": "元",
    "person": "人",
    "household": "户",
    "village": "个",
    "county": "个",
    "post": "个",
    "percent": "%",
}
# chart geometry (SVG user units): plot area inside the margins, legend to its right
WIDTH, HEIGHT, LEGEND = 760, 290, 180
LEFT, TOP, BOTTOM = 72, 28, 244
RIGHT = WIDTH - LEGEND - 12


@dataclass(frozen=True)
class Snapshot:
    manifest: dict[str, Any]
    panel: pl.DataFrame  # curated/indicator_panel
    chosen: pl.DataFrame  # curated/indicators rows of the panel's chosen facts
    documents: pl.DataFrame  # curated/documents
    facts: int  # rows of curated/indicators


def build_report(root: str | Path, out: Path | None = None) -> Path:
    """Write the report of the snapshot under `root` to `out` (default ``<root>/report/index.html``)."""
    if out is None:
        if isinstance(root, str) and "://" in root:
            raise ValueError("give `out` for a remote root")
        out = Path(root) / "report" / "index.html"
    return storage.write_text_atomically(Path(out), render(load(root)))


def load(root: str | Path, attempts: int = 3) -> Snapshot:
    """The tables of one snapshot: reads again when a run published a new one while they were read."""
    for _ in range(attempts):
        manifest = read.manifest(root)
        panel = read.panel(root).collect()
        facts = read.indicators(root)
        chosen = facts.filter(pl.col("fact_id").is_in(panel["chosen_fact_id"].implode())).collect()
        count = int(facts.select(pl.len()).collect().item())
        documents = read.documents(root).collect()
        if read.manifest(root)["snapshot"] == manifest["snapshot"]:
            return Snapshot(manifest, panel, chosen, documents, count)
    raise RuntimeError(f"snapshots under {root} changed during {attempts} reads")


# --- page ------------------------------------------------------------------------------------------


def render(snap: Snapshot) -> str:
    """The whole page as one HTML string."""
    codes = [c for c in catalog.indicators() if c in set(snap.panel["indicator"].to_list())]
    sections = [indicator_section(code, snap.panel.filter(pl.col("indicator") == code)) for code in codes]
    body = "\n".join(
        [
            header(snap, codes),
            "\n".join(sections) or "<p>No indicator values in this snapshot.</p>",
            evidence_section(snap.panel, snap.chosen, snap.documents),
            documents_section(snap.documents),
        ]
    )
    title = esc(f"Indicator report — snapshot {snap.manifest.get('snapshot', '?')}")
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def header(snap: Snapshot, codes: list[str]) -> str:
    m = snap.manifest
    facts = [
        ("facts", snap.facts),
        ("panel rows", snap.panel.height),
        ("documents", snap.documents.height),
        ("indicators", len(codes)),
    ]
    counts = "".join(f"<li><b>{n:,}</b> {label}</li>" for label, n in facts)
    toc = "".join(
        f'<li><a href="#ind-{esc(c)}">{esc(catalog.indicators()[c].name_zh)}</a></li>' for c in codes
    )
    return (
        '<header>\n<h1>乡村振兴指标 · Indicator report</h1>\n<dl class="meta">'
        f"<dt>Snapshot</dt><dd><code>{esc(m.get('snapshot', '?'))}</code></dd>"
        f"<dt>Created</dt><dd>{esc(m.get('created_at', '?'))}</dd>"
        f"<dt>Extractor</dt><dd>{esc(m.get('extractor_version', '?'))}</dd></dl>\n"
        f'<ul class="counts">{counts}</ul>\n'
        f'<nav><h2>Indicators</h2><ol class="toc">{toc}</ol></nav>\n</header>'
    )


def indicator_section(code: str, rows: pl.DataFrame) -> str:
    """Heading, chart, truncation note and table of one indicator's panel rows."""
    ind = catalog.indicators()[code]
    shown = top_regions(rows)
    total = rows["region_code"].n_unique()
    note = (
        f'<p class="note">The chart shows the {len(shown)} regions with the most years reported, '
        f"of {total}; the table lists all.</p>"
        if total > len(shown)
        else ""
    )
    unit = f"{ind.unit} ({UNIT_ZH.get(ind.unit, ind.unit)})"
    return (
        f'<section class="indicator" id="ind-{esc(code)}">\n'
        f"<h2>{esc(ind.name_zh)} <code>{esc(code)}</code></h2>\n"
        f'<p class="def">Unit: {esc(unit)}. {esc(ind.definition)}</p>\n'
        f"<figure>{chart(code, rows)}</figure>\n{note}\n{panel_table(ind.unit, rows)}\n</section>"
    )


def panel_table(unit: str, rows: pl.DataFrame) -> str:
    body = "".join(_panel_row(unit, r) for r in rows.sort("region_code", "year").iter_rows(named=True))
    return (
        '<table class="panel"><thead><tr><th>Region</th><th>Year</th><th>Value</th><th>Sources</th>'
        f"<th>Conflicting values</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _panel_row(unit: str, r: dict[str, Any]) -> str:
    others = ", ".join(fmt_value(v, unit) for v in r["conflicting_values"]) or "—"
    tip = f"{fmt_exact(r['value'], unit)}; chosen: {r['rule']}"
    link = f'<a href="#fact-{esc(r["chosen_fact_id"])}" title="{esc(tip)}">{esc(fmt_value(r["value"], unit))}</a>'
    return (
        f'<tr><td>{esc(r["region_name"])}</td><td>{r["year"]}</td><td class="num">{link}</td>'
        f'<td class="num">{r["sources"]}</td><td>{esc(others)}</td></tr>'
    )


def evidence_section(panel: pl.DataFrame, chosen: pl.DataFrame, documents: pl.DataFrame) -> str:
    """One entry per chosen fact, in panel order: the sentence with the mention marked, linked to its document."""
    facts = {r["fact_id"]: r for r in chosen.iter_rows(named=True)}
    titles = {r["doc_id"]: r["title"] or r["source_file"] for r in documents.iter_rows(named=True)}
    order = {c: i for i, c in enumerate(catalog.indicators())}
    rows = panel.sort(pl.col("indicator").replace_strict(order, default=len(order)), "region_code", "year")
    items = "".join(
        _evidence_item(r, facts.get(r["chosen_fact_id"]), titles) for r in rows.iter_rows(named=True)
    )
    return f'<section id="evidence">\n<h2>Evidence</h2>\n<ol class="evidence">{items}</ol>\n</section>'


def _evidence_item(row: dict[str, Any], fact: dict[str, Any] | None, titles: dict[str, str]) -> str:
    name = catalog.indicators()[row["indicator"]].name_zh
    doc = row["chosen_doc_id"]
    sentence = highlight(fact["evidence"], fact["mention"]) if fact else "<em>fact not in snapshot</em>"
    flag = " (approximate)" if fact and fact["approximate"] else ""
    return (
        f'<li id="fact-{esc(row["chosen_fact_id"])}"><p class="meta">'
        f'<a href="#ind-{esc(row["indicator"])}">{esc(name)}</a> · {esc(row["region_name"])} · '
        f"{row['year']} · <b>{esc(fmt_exact(row['value'], row['unit']))}</b>{flag} · "
        f'source: <a href="#doc-{esc(doc)}">{esc(titles.get(doc, doc))}</a></p>'
        f"<blockquote>{sentence}</blockquote></li>"
    )


def highlight(evidence: str, mention: str) -> str:
    """The escaped sentence with the first occurrence of the mention in <mark>."""
    at = evidence.find(mention) if mention else -1
    if at < 0:
        return esc(evidence)
    end = at + len(mention)
    return f"{esc(evidence[:at])}<mark>{esc(mention)}</mark>{esc(evidence[end:])}"


def documents_section(documents: pl.DataFrame) -> str:
    body = "".join(_document_row(r) for r in documents.sort("arrival_date", "doc_id").iter_rows(named=True))
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Title", "Publisher", "Published", "Source file", "Arrival", "Region", "Facts")
    )
    return (
        '<section id="documents">\n<h2>Documents</h2>\n'
        f'<table class="docs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n</section>'
    )


def _document_row(r: dict[str, Any]) -> str:
    cells = [
        r["title"] or "(untitled)",
        r["publisher"] or "—",
        str(r["published_date"] or "—"),
        r["source_file"],
        str(r["arrival_date"]),
        r["region_name"] or "—",
    ]
    tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
    return f'<tr id="doc-{esc(r["doc_id"])}" title="doc_id {esc(r["doc_id"])}">{tds}<td class="num">{r["facts"]}</td></tr>'


# --- chart -----------------------------------------------------------------------------------------


def top_regions(rows: pl.DataFrame, limit: int = MAX_REGIONS) -> list[tuple[str, str]]:
    """(code, name) of the regions with the most years, then the largest value, then by code."""
    ranked = (
        rows.group_by("region_code")
        .agg(pl.col("region_name").first(), pl.len().alias("n"), pl.col("value").max().alias("top"))
        .sort(["n", "top", "region_code"], descending=[True, True, False])
        .head(limit)
    )
    return list(zip(ranked["region_code"].to_list(), ranked["region_name"].to_list(), strict=True))


def chart(code: str, rows: pl.DataFrame) -> str:
    """Grouped bars: one group per year, one bar per shown region with a value that year."""
    ind = catalog.indicators()[code]
    regions = top_regions(rows)
    colors = {c: PALETTE[i % len(PALETTE)] for i, (c, _) in enumerate(regions)}
    shown = rows.filter(pl.col("region_code").is_in(list(colors))).sort("year", "region_code")
    ticks = nice_ticks(max(shown["value"].to_list(), default=0.0))
    years = sorted(set(shown["year"].to_list()))
    label = (
        f"{ind.name_zh} ({code}), {ind.unit}: bar chart of {shown.height} values by year "
        f"({', '.join(map(str, years))}) for {len(regions)} regions"
    )
    parts = [
        _y_axis(ticks, ind.unit),
        _bars(shown, years, colors, ticks[-1], ind.unit),
        _x_axis(years),
        _legend(regions, colors, rows["region_code"].n_unique()),
    ]
    return (
        f'<svg class="chart" data-indicator="{esc(code)}" role="img" aria-label="{esc(label)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">{"".join(parts)}</svg>'
    )


def _y(value: float, top: float) -> float:
    return BOTTOM - (value / top) * (BOTTOM - TOP) if top > 0 else BOTTOM


def _y_axis(ticks: list[float], unit: str) -> str:
    out = [f'<text class="axis-title" x="4" y="{TOP - 14}">{esc(_unit_title(unit))}</text>']
    for t in ticks:
        y = _y(t, ticks[-1])
        out.append(f'<line class="grid" x1="{LEFT}" x2="{RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(_tick(t, unit))}</text>'
        )
    return "".join(out)


def _x_axis(years: list[int]) -> str:
    width = (RIGHT - LEFT) / max(len(years), 1)
    labels = "".join(
        f'<text class="tick" x="{LEFT + width * (i + 0.5):.1f}" y="{BOTTOM + 18}" text-anchor="middle">{y}</text>'
        for i, y in enumerate(years)
    )
    return (
        f'<line class="axis" x1="{LEFT}" x2="{RIGHT}" y1="{BOTTOM}" y2="{BOTTOM}"/>{labels}'
        f'<text class="axis-title" x="{(LEFT + RIGHT) / 2:.1f}" y="{BOTTOM + 38}" text-anchor="middle">year</text>'
    )


def _bars(shown: pl.DataFrame, years: list[int], colors: dict[str, str], top: float, unit: str) -> str:
    group = (RIGHT - LEFT) / max(len(years), 1)
    widest = max(Counter(shown["year"].to_list()).values(), default=1)
    bar = min(group * 0.8 / widest, 56.0)
    out = []
    for i, year in enumerate(years):
        rows = shown.filter(pl.col("year") == year)
        x0 = LEFT + group * (i + 0.5) - bar * rows.height / 2
        for j, r in enumerate(rows.iter_rows(named=True)):
            out.append(_bar(r, x0 + j * bar, bar, colors[r["region_code"]], top, unit))
    return "".join(out)


def _bar(r: dict[str, Any], x: float, width: float, color: str, top: float, unit: str) -> str:
    y = min(_y(r["value"], top), BOTTOM - 1.0)  # a zero still shows as a 1-unit line
    tip = f"{r['region_name']} · {r['year']}: {fmt_exact(r['value'], unit)}"
    text = (
        f'<text class="value" x="{x + width / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
        f"{esc(fmt_value(r['value'], unit))}</text>"
        if width >= 34
        else ""
    )
    return (
        f'<rect class="mark" x="{x + 1:.1f}" y="{y:.1f}" width="{max(width - 2, 1):.1f}" '
        f'height="{BOTTOM - y:.1f}" fill="{color}"><title>{esc(tip)}</title></rect>{text}'
    )


def _legend(regions: list[tuple[str, str]], colors: dict[str, str], total: int) -> str:
    x = RIGHT + 16
    out = [f'<text class="axis-title" x="{x}" y="{TOP - 14}">region</text>']
    for i, (code, name) in enumerate(regions):
        y = TOP + i * 20
        out.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colors[code]}"/>'
            f'<text class="legend" x="{x + 18}" y="{y + 11}">{esc(name)}</text>'
        )
    if total > len(regions):
        y = TOP + len(regions) * 20 + 11
        out.append(
            f'<text class="legend more" x="{x}" y="{y}">+{total - len(regions)} more in the table</text>'
        )
    return "".join(out)


def nice_ticks(top: float, target: int = 4) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 × 10^k) up to the first one at or above `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


# --- numbers ---------------------------------------------------------------------------------------


def compact(value: float) -> str:
    """3.16亿, 17.94万, 8,811.88: 万/亿 from ten thousand up, at most four significant-ish digits."""
    for scale, suffix in ((1e8, "亿"), (1e4, "万")):
        if abs(value) >= scale:
            return _trim(f"{value / scale:,.{_decimals(value / scale)}f}") + suffix
    return _trim(f"{value:,.2f}")


def fmt_value(value: float, unit: str) -> str:
    """Short display value with its unit: 3.16亿元, 254人, 71.6%."""
    if unit == "percent":
        return _trim(f"{value:,.2f}") + "%"
    return compact(value) + UNIT_ZH.get(unit, f" {unit}")


def fmt_exact(value: float, unit: str) -> str:
    """Full value with thousands separators: 316,000,000 元 (3.16亿元)."""
    if unit == "percent":
        return fmt_value(value, unit)
    exact = _trim(f"{value:,.2f}") + " " + UNIT_ZH.get(unit, unit)
    short = fmt_value(value, unit)
    return exact if abs(value) < 1e4 else f"{exact} ({short})"


def _tick(value: float, unit: str) -> str:
    return _trim(f"{value:,.2f}") + "%" if unit == "percent" else compact(value)


def _unit_title(unit: str) -> str:
    return "%" if unit == "percent" else f"{UNIT_ZH.get(unit, unit)} ({unit})"


def _decimals(scaled: float) -> int:
    return 3 if abs(scaled) < 10 else 2 if abs(scaled) < 100 else 1 if abs(scaled) < 1000 else 0


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9dee3; --accent: #2f5d8a; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1000px; padding: 24px; color: var(--ink); line-height: 1.5;
  font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei",
  "Source Han Sans SC", sans-serif; }
h1 { margin: 0 0 8px; font-size: 1.6rem; }
h2 { margin: 32px 0 8px; font-size: 1.25rem; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
code { font-size: .85em; color: var(--muted); }
a { color: var(--accent); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 8px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
ul.counts { display: flex; flex-wrap: wrap; gap: 8px 24px; list-style: none; padding: 0; }
ul.counts b { font-size: 1.3rem; }
ol.toc { columns: 3; font-size: .9rem; }
.def, .note { color: var(--muted); font-size: .9rem; margin: 4px 0; }
figure { margin: 8px 0; overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg.chart .grid { stroke: var(--line); }
svg.chart .axis { stroke: var(--ink); }
svg.chart .tick, svg.chart .legend { fill: var(--ink); }
svg.chart .axis-title, svg.chart .more { fill: var(--muted); }
svg.chart .value { fill: var(--ink); font-size: 10px; }
svg.chart rect.mark:hover { opacity: .75; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ol.evidence { padding-left: 1.5em; }
ol.evidence li { margin: 8px 0; padding: 4px 8px; }
ol.evidence .meta { margin: 0; font-size: .9rem; }
blockquote { margin: 4px 0; padding-left: 12px; border-left: 3px solid var(--line); }
mark { background: #ffe08a; }
:target { background: #fff6d6; outline: 2px solid #f0b429; }
"""


if __name__ == "__main__":
    import sys

    print(build_report(sys.argv[1] if len(sys.argv) > 1 else "data"))
