"""A static, self-contained HTML report of the current snapshot.

    from warehouse import report
    report.build_report("data")  # -> data/report/index.html

One file, readable offline: inline CSS, charts drawn here as inline SVG, no script, no external fonts,
images or links. Per indicator present in the panel (catalog order): one bar chart per administrative level
(a province is never drawn beside its own counties; the `MAX_REGIONS` regions with the most years, by year,
or by region when each reports one year), a log axis when values span two decades or more, one colour per
region across the whole page, and the panel rows sorted by level, region and year, each value (chosen or
conflicting) linking to its evidence sentence, which links to its source document and its staged text.
All document-derived text is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from warehouse import catalog, read, storage
from warehouse.objectstore import ObjectStore

MAX_REGIONS = 8
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b8860b",
    "#b07aa1", "#ff6f91", "#9c755f", "#2e8b8b", "#8f6bb3", "#6b8e23",
)  # fmt: skip
LEVELS = {"country": "全国 · national", "province": "省级 · provinces", "city": "市级 · prefectures",
          "county": "县级 · counties"}  # fmt: skip
LOG_RATIO = 100  # a chart whose largest value is this many times its smallest draws a log axis
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
    panel: pl.DataFrame  # curated/indicator_panel, with each region's `level`
    chosen: pl.DataFrame  # curated/indicators: every fact of the snapshot (chosen or not)
    documents: pl.DataFrame  # curated/documents
    facts: int  # rows of curated/indicators
    texts: dict[str, str] | None = None  # doc_id → staged text (local roots), shown under Documents


def build_report(root: str | Path, out: Path | None = None, store: ObjectStore | None = None) -> Path:
    """Write the report of the snapshot under `root` to `out` (default ``<root>/report/index.html``;
    required for a remote root; `store`: how to reach an s3:// root, see `warehouse.read`)."""
    if out is None:
        if isinstance(root, str) and "://" in root:
            raise ValueError("give `out` for a remote root")
        out = Path(root) / "report" / "index.html"
    return storage.write_text_atomically(Path(out), render(load(root, store=store)))


def load(root: str | Path, attempts: int = 3, store: ObjectStore | None = None) -> Snapshot:
    """The tables of one snapshot: reads again when a run published a new one while they were read."""
    for _ in range(attempts):
        snap = read.snapshot(root, store)  # every table from one manifest
        try:
            levels = snap.regions().select("region_code", "level")
            panel = snap.panel().join(levels, on="region_code", how="left").collect()
            facts = snap.indicators().collect()
            documents = snap.documents().collect()
        except FileNotFoundError:  # the snapshot was pruned while it was read: take the next one
            continue
        return Snapshot(snap.manifest, panel, facts, documents, facts.height, _texts(root, documents))
    raise RuntimeError(f"snapshots under {root} changed during {attempts} reads")


def _texts(root: str | Path, documents: pl.DataFrame) -> dict[str, str] | None:
    """The staged text of each snapshot document (its latest arrival), for a local root."""
    if isinstance(root, str) and "://" in root:
        return None
    staged = storage.read_table(Path(root), "staged", "documents")
    if staged is None:
        return {}
    latest = staged.sort("arrival_date").unique("doc_id", keep="last")
    wanted = latest.filter(pl.col("doc_id").is_in(documents["doc_id"].implode()))
    return dict(wanted.select("doc_id", "text").iter_rows())


# --- page ------------------------------------------------------------------------------------------


def render(snap: Snapshot) -> str:
    """The whole page as one HTML string."""
    codes = [c for c in catalog.indicators() if c in set(snap.panel["indicator"].to_list())]
    colors = region_colors(snap.panel)
    values = dict(snap.chosen.select("fact_id", "value").iter_rows())
    sections = [
        indicator_section(code, snap.panel.filter(pl.col("indicator") == code), colors, values)
        for code in codes
    ]
    body = "\n".join(
        [
            header(snap, codes),
            "\n".join(sections) or "<p>No indicator values in this snapshot.</p>",
            evidence_section(snap.panel, snap.chosen, snap.documents),
            documents_section(snap.documents, snap.texts),
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


def region_colors(panel: pl.DataFrame) -> dict[str, str]:
    """One colour per region for the whole report (by code order), so a region looks the same in every chart."""
    codes = sorted(set(panel["region_code"].to_list())) if panel.height else []
    return {code: PALETTE[i % len(PALETTE)] for i, code in enumerate(codes)}


def indicator_section(
    code: str,
    rows: pl.DataFrame,
    colors: dict[str, str] | None = None,
    values: dict[str, float] | None = None,
) -> str:
    """Heading, one chart per administrative level (a province is never drawn beside its own counties) and
    the table of one indicator's panel rows."""
    ind = catalog.indicators()[code]
    colors = colors if colors is not None else region_colors(rows)
    if "level" not in rows.columns:
        rows = rows.with_columns(level=pl.lit(None, dtype=pl.String))
    figures = []
    for level in [*LEVELS, None]:
        part = rows.filter(pl.col("level") == level) if level else rows.filter(pl.col("level").is_null())
        if part.height:
            figures.append(_level_figure(code, part, level, colors))
    unit = f"{ind.unit} ({UNIT_ZH.get(ind.unit, ind.unit)})"
    return (
        f'<section class="indicator" id="ind-{esc(code)}">\n'
        f"<h2>{esc(ind.name_zh)} <code>{esc(code)}</code></h2>\n"
        f'<p class="def">Unit: {esc(unit)}. {esc(ind.definition)}</p>\n'
        f"{''.join(figures)}\n{panel_table(ind.unit, rows, values)}\n</section>"
    )


def _level_figure(code: str, rows: pl.DataFrame, level: str | None, colors: dict[str, str]) -> str:
    shown = top_regions(rows)
    total = rows["region_code"].n_unique()
    note = (
        f'<p class="note">The chart shows the {len(shown)} regions with the most years reported, '
        f"of {total}; the table lists all.</p>"
        if total > len(shown)
        else ""
    )
    caption = f"<figcaption>{esc(LEVELS[level])}</figcaption>" if level else ""
    return f"<figure>{caption}{chart(code, rows, colors, level)}</figure>\n{note}"


def panel_table(unit: str, rows: pl.DataFrame, values: dict[str, float] | None = None) -> str:
    order = {level: i for i, level in enumerate(LEVELS)}
    ranked = rows.with_columns(
        _rank=pl.col("level").replace_strict(order, default=len(order))
        if "level" in rows.columns
        else pl.lit(0)
    ).sort("_rank", "region_code", "year")
    body = "".join(_panel_row(unit, r, values or {}) for r in ranked.iter_rows(named=True))
    return (
        '<table class="panel"><thead><tr><th>Region</th><th>Year</th><th>Value</th><th>Sources</th>'
        f"<th>Conflicting values</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _panel_row(unit: str, r: dict[str, Any], values: dict[str, float]) -> str:
    """One panel row; each conflicting value links to its own fact (`values`: fact_id → value)."""
    ids = [f for f in r.get("conflicting_fact_ids") or [] if f in values]
    others = ", ".join(f'<a href="#fact-{esc(f)}">{esc(fmt_value(values[f], unit))}</a>' for f in ids)
    others = others or ", ".join(esc(fmt_value(v, unit)) for v in r["conflicting_values"])
    tip = f"{fmt_exact(r['value'], unit)}; chosen: {r['rule']}"
    link = f'<a href="#fact-{esc(r["chosen_fact_id"])}" title="{esc(tip)}">{esc(fmt_value(r["value"], unit))}</a>'
    return (
        f'<tr><td>{esc(r["region_name"])}</td><td>{r["year"]}</td><td class="num">{link}</td>'
        f'<td class="num">{r["sources"]}</td><td>{others or "—"}</td></tr>'
    )


def evidence_section(panel: pl.DataFrame, facts: pl.DataFrame, documents: pl.DataFrame) -> str:
    """One entry per fact of the snapshot, chosen or not, in indicator, region and year order: the sentence
    with the mention marked, linked to its document."""
    titles = {r["doc_id"]: r["title"] or r["source_file"] for r in documents.iter_rows(named=True)}
    chosen = set(panel["chosen_fact_id"].to_list())
    order = {c: i for i, c in enumerate(catalog.indicators())}
    rows = facts.sort(
        pl.col("indicator").replace_strict(order, default=len(order)),
        "region_code",
        "year",
        "value",
        nulls_last=True,
    )
    items = "".join(_evidence_item(r, r["fact_id"] in chosen, titles) for r in rows.iter_rows(named=True))
    return f'<section id="evidence">\n<h2>Evidence</h2>\n<ol class="evidence">{items}</ol>\n</section>'


def _evidence_item(fact: dict[str, Any], chosen: bool, titles: dict[str, str]) -> str:
    name = catalog.indicators()[fact["indicator"]].name_zh
    doc = fact["doc_id"]
    flags = [label for label, on in (("approximate", fact["approximate"]), ("chosen", chosen)) if on]
    role = fact.get("role") or "value"
    flags += [] if role == "value" else [role.replace("_", " ")]
    note = f" ({', '.join(flags)})" if flags else ""
    return (
        f'<li id="fact-{esc(fact["fact_id"])}"><p class="meta">'
        f'<a href="#ind-{esc(fact["indicator"])}">{esc(name)}</a> · {esc(fact["region_name"] or "—")} · '
        f"{fact['year'] or 'year not stated'} · <b>{esc(fmt_exact(fact['value'], fact['unit']))}</b>{note} · "
        f'source: <a href="#doc-{esc(doc)}">{esc(titles.get(doc, doc))}</a></p>'
        f"<blockquote>{highlight(fact['evidence'], fact['mention'])}</blockquote></li>"
    )


def highlight(evidence: str, mention: str) -> str:
    """The escaped sentence with the first occurrence of the mention in <mark>."""
    at = evidence.find(mention) if mention else -1
    if at < 0:
        return esc(evidence)
    end = at + len(mention)
    return f"{esc(evidence[:at])}<mark>{esc(mention)}</mark>{esc(evidence[end:])}"


def documents_section(documents: pl.DataFrame, texts: dict[str, str] | None = None) -> str:
    """One entry per document: its metadata and, when the staged text is at hand, the text itself (escaped)."""
    items = "".join(
        _document_item(r, (texts or {}).get(r["doc_id"]))
        for r in documents.sort("arrival_date", "doc_id").iter_rows(named=True)
    )
    return f'<section id="documents">\n<h2>Documents</h2>\n<ol class="docs">{items}</ol>\n</section>'


def _document_item(r: dict[str, Any], text: str | None) -> str:
    fields = [
        ("Publisher", r["publisher"] or "—"),
        ("Published", str(r["published_date"] or "—")),
        ("Source file", r["source_file"]),
        ("Arrival", str(r["arrival_date"])),
        ("Region", r["region_name"] or "—"),
        ("Facts", str(r["facts"])),
    ]
    meta = "".join(f"<dt>{k}</dt><dd>{esc(v)}</dd>" for k, v in fields)
    body = f"<details><summary>Text</summary><pre>{esc(text)}</pre></details>" if text is not None else ""
    return (
        f'<li id="doc-{esc(r["doc_id"])}" title="doc_id {esc(r["doc_id"])}">'
        f'<h3>{esc(r["title"] or "(untitled)")}</h3><dl class="doc">{meta}</dl>{body}</li>'
    )


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


@dataclass(frozen=True)
class Scale:
    """The value axis: linear from 0 to `top`, or log10 from `low` to `top` when values span decades."""

    top: float
    low: float = 0.0
    log: bool = False

    def y(self, value: float) -> float:
        if self.log:
            span = math.log10(self.top) - math.log10(self.low)
            return BOTTOM - (math.log10(max(value, self.low)) - math.log10(self.low)) / span * (BOTTOM - TOP)
        return BOTTOM - (value / self.top) * (BOTTOM - TOP) if self.top > 0 else BOTTOM

    def ticks(self) -> list[float]:
        if not self.log:
            return nice_ticks(self.top)
        first, last = math.floor(math.log10(self.low)), math.ceil(math.log10(self.top))
        return [10.0**e for e in range(first, last + 1)]


def scale_for(values: list[float]) -> Scale:
    """A log axis when the largest value is at least LOG_RATIO times the smallest positive one (a 2,600万
    beside 30亿 would not show on a linear axis), else a linear one."""
    positive = [v for v in values if v > 0]
    if positive and max(positive) >= LOG_RATIO * min(positive):
        low = 10.0 ** math.floor(math.log10(min(positive)))
        low = low / 10 if low >= min(positive) else low  # the smallest bar is never as flat as a zero
        return Scale(10.0 ** math.ceil(math.log10(max(positive))), low, True)
    return Scale(nice_ticks(max(values, default=0.0))[-1])


def chart(
    code: str, rows: pl.DataFrame, colors: dict[str, str] | None = None, level: str | None = None
) -> str:
    """Bars of one indicator at one administrative level: grouped by year, one bar per shown region; when
    each region reports a single year, one bar per region (year under it), so no axis reads as a trend."""
    ind = catalog.indicators()[code]
    regions = top_regions(rows)
    colors = colors if colors is not None else region_colors(rows)
    shown = rows.filter(pl.col("region_code").is_in([c for c, _ in regions])).sort("year", "region_code")
    scale = scale_for(shown["value"].to_list())
    by_region = len(regions) > 1 and shown.group_by("region_code").len()["len"].max() == 1
    years = sorted(set(shown["year"].to_list()))
    groups: list[tuple[str, pl.DataFrame]] = (
        [(name, shown.filter(pl.col("region_code") == c)) for c, name in regions]
        if by_region
        else [(str(y), shown.filter(pl.col("year") == y)) for y in years]
    )
    label = (
        f"{ind.name_zh} ({code}), {ind.unit}{', ' + level if level else ''}: bar chart of {shown.height} values "
        f"{'by region' if by_region else 'by year'} ({', '.join(map(str, years))}) for {len(regions)} regions"
        f"{', log scale' if scale.log else ''}"
    )
    parts = [
        _y_axis(scale, ind.unit),
        _bars(groups, colors, scale, ind.unit, by_region),
        _x_axis([g for g, _ in groups], "region" if by_region else "year"),
        _legend(regions, colors, rows["region_code"].n_unique()),
    ]
    return (
        f'<svg class="chart" data-indicator="{esc(code)}" data-level="{esc(level or "")}" role="img" '
        f'aria-label="{esc(label)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        f"{''.join(parts)}</svg>"
    )


def _y_axis(scale: Scale, unit: str) -> str:
    title = _unit_title(unit) + (", log scale" if scale.log else "")
    out = [f'<text class="axis-title" x="4" y="{TOP - 14}">{esc(title)}</text>']
    for t in scale.ticks():
        y = scale.y(t)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(_tick(t, unit))}</text>'
        )
    return "".join(out)


def _x_axis(labels: list[str], title: str) -> str:
    width = (RIGHT - LEFT) / max(len(labels), 1)
    ticks = "".join(
        f'<text class="tick" x="{LEFT + width * (i + 0.5):.1f}" y="{BOTTOM + 18}" text-anchor="middle">'
        f"{esc(label)}</text>"
        for i, label in enumerate(labels)
    )
    return (
        f'<line class="axis" x1="{LEFT}" x2="{RIGHT}" y1="{BOTTOM}" y2="{BOTTOM}"/>{ticks}'
        f'<text class="axis-title" x="{(LEFT + RIGHT) / 2:.1f}" y="{BOTTOM + 38}" text-anchor="middle">'
        f"{title}</text>"
    )


def _bars(
    groups: list[tuple[str, pl.DataFrame]], colors: dict[str, str], scale: Scale, unit: str, by_region: bool
) -> str:
    group = (RIGHT - LEFT) / max(len(groups), 1)
    widest = max((g.height for _, g in groups), default=1)
    bar = min(group * 0.8 / max(widest, 1), 56.0)
    out = []
    for i, (_, rows) in enumerate(groups):
        x0 = LEFT + group * (i + 0.5) - bar * rows.height / 2
        for j, r in enumerate(rows.iter_rows(named=True)):
            out.append(_bar(r, x0 + j * bar, bar, colors.get(r["region_code"], PALETTE[0]), scale, unit))
            if by_region:
                out.append(
                    f'<text class="tick year" x="{x0 + j * bar + bar / 2:.1f}" y="{BOTTOM + 30}" '
                    f'text-anchor="middle">{r["year"]}</text>'
                )
    return "".join(out)


def _bar(r: dict[str, Any], x: float, width: float, color: str, scale: Scale, unit: str) -> str:
    y = min(scale.y(r["value"]), BOTTOM - 1.0)  # a zero still shows as a 1-unit line
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
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colors.get(code, PALETTE[0])}"/>'
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
figcaption { font-size: .9rem; color: var(--muted); }
ol.docs { padding-left: 1.5em; }
ol.docs h3 { font-size: 1rem; margin: 12px 0 4px; }
dl.doc { display: grid; grid-template-columns: max-content 1fr; gap: 0 12px; margin: 0; font-size: .9rem; }
dl.doc dt { color: var(--muted); }
dl.doc dd { margin: 0; }
pre { white-space: pre-wrap; font-size: .85rem; background: #f8f9fa; padding: 8px; }
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
