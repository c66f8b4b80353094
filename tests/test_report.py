"""The static HTML report of a snapshot (warehouse/report.py): content, links, escaping, offline rendering.

A module-scoped root holds three sample partitions (汉中市, 德阳市 with 中江县, 苍溪县: several regions and
two years for some indicators), run through the pipeline without the quality gate and published."""

import json
import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from warehouse import catalog, pipeline, read, report, snapshot, storage

SAMPLE = Path(__file__).resolve().parents[1] / "sample" / "landing"
DAYS = ("2021-12-29", "2022-02-09", "2024-01-02")
EXTERNAL = re.compile(r"""https?://|(?:src|href)\s*=\s*["']?\s*//""", re.I)
SCRIPT = "<script>alert(1)</script>"
TITLE = '<img src=x onerror="alert(2)">'


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("landing")
    root = tmp_path_factory.mktemp("report-root")
    for day in DAYS:
        shutil.copytree(SAMPLE / day, landing / day)
        files = sorted((landing / day).iterdir())
        pipeline.run_partition(files, date.fromisoformat(day), landing, root, run_id="report", quality=False)
    snapshot.publish(root)
    return root


@pytest.fixture(scope="module")
def built(root: Path) -> tuple[Path, str]:
    out = report.build_report(root)
    return out, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def panel(root: Path) -> pl.DataFrame:
    return read.panel(root).collect()


class _Page(HTMLParser):
    """Tags, ids, fragment links and the <title> text of every SVG bar of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.charts: list[dict[str, str | None]] = []
        self.marks: dict[str, list[str]] = {}
        self._in_mark = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        self.ids += [a["id"] or ""] if "id" in a else []
        self.links += [a["href"] or ""] if "href" in a else []
        if tag == "svg":
            self.charts.append(a)
            self.marks.setdefault(a.get("data-indicator") or "", [])
        self._in_mark = self._in_mark or (tag == "rect" and a.get("class") == "mark")

    def handle_endtag(self, tag: str) -> None:
        self._in_mark = self._in_mark and tag != "rect"

    def handle_data(self, data: str) -> None:
        if self._in_mark and self.charts:
            self.marks[self.charts[-1].get("data-indicator") or ""].append(data)


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def present_codes(panel: pl.DataFrame) -> list[str]:
    return [c for c in catalog.indicators() if c in set(panel["indicator"].to_list())]


# --- content ---------------------------------------------------------------------------------------


def test_report_lands_in_the_root_with_the_snapshot_header(root, built, panel):
    out, text = built
    assert out == root / "report" / "index.html"
    manifest = read.manifest(root)
    assert manifest["snapshot"] in text and manifest["created_at"] in text
    facts = read.indicators(root).select(pl.len()).collect().item()
    documents = read.documents(root).collect().height
    for n, label in ((facts, "facts"), (panel.height, "panel rows"), (documents, "documents")):
        assert f"<b>{n:,}</b> {label}" in text


def test_one_section_per_indicator_in_catalog_order(built, panel):
    _, text = built
    sections = re.findall(r'<section class="indicator" id="ind-([a-z_]+)">', text)
    assert sections == present_codes(panel) and len(sections) > 5
    for code in sections:
        ind = catalog.indicators()[code]
        body = text.split(f'id="ind-{code}"')[1].split("</section>")[0]
        assert ind.name_zh in body and f"<code>{code}</code>" in body and f"Unit: {ind.unit}" in body


def test_every_chart_is_labelled_and_every_bar_has_a_tooltip(built, panel):
    _, text = built
    page = parse(text)
    codes = [c["data-indicator"] for c in page.charts]
    assert list(dict.fromkeys(codes)) == present_codes(panel)  # one chart per indicator and level
    assert len(set(zip(codes, (c["data-level"] for c in page.charts), strict=True))) == len(codes)
    assert all(c["class"] == "chart" and c["role"] == "img" and c["aria-label"] for c in page.charts)
    for code, tips in page.marks.items():
        rows = panel.filter(pl.col("indicator") == code)
        assert len(tips) == rows.height  # at most 8 regions in the sample: every row is drawn
        for r in rows.iter_rows(named=True):
            assert f"{r['region_name']} · {r['year']}: {report.fmt_exact(r['value'], r['unit'])}" in tips


def test_grouped_bars_span_regions_and_years(built, panel):
    _, text = built
    chart = "".join(c.split("</svg>")[0] for c in text.split('data-indicator="bridging_funds"')[1:])
    rows = panel.filter(pl.col("indicator") == "bridging_funds")
    assert rows["region_code"].n_unique() >= 3 and rows["year"].n_unique() >= 2
    for name in rows["region_name"].unique():
        assert f">{name}</text>" in chart  # legend
    for year in rows["year"].unique():
        assert f">{year}</text>" in chart
    assert re.search(r'class="tick"[^>]*>[\d.]+亿</text>', chart)  # y ticks in 亿
    assert ">元 (CNY)</text>" in chart  # the unit as axis title


def test_values_link_to_evidence_and_evidence_to_documents(built, panel, root):
    _, text = built
    page = parse(text)
    ids = set(page.ids)
    assert len(ids) == len(page.ids)
    assert all(link[1:] in ids for link in page.links if link.startswith("#")), "dangling anchor"
    assert {f"#fact-{f}" for f in panel["chosen_fact_id"]} <= set(page.links)
    docs = read.documents(root).collect()
    assert {f"doc-{d}" for d in docs["doc_id"]} <= ids
    facts = read.indicators(root).collect().filter(pl.col("fact_id").is_in(panel["chosen_fact_id"].implode()))
    for f in facts.iter_rows(named=True):
        entry = text.split(f'<li id="fact-{f["fact_id"]}">')[1].split("</li>")[0]
        assert f'href="#doc-{f["doc_id"]}"' in entry
        assert report.highlight(f["evidence"], f["mention"]) in entry and "<mark>" in entry


def test_page_is_self_contained(built):
    _, text = built
    assert not EXTERNAL.search(text)
    assert "<script" not in text.lower() and "@import" not in text and "url(" not in text
    assert not {"link", "img", "script", "iframe", "object"} & parse(text).tags


def test_number_formatting():
    assert report.fmt_value(3.16e8, "CNY") == "3.16亿元"
    assert report.fmt_value(179_400, "person") == "17.94万人"
    assert report.fmt_value(254, "person") == "254人"
    assert report.fmt_value(8811.88, "CNY") == "8,811.88元"
    assert report.fmt_value(7.5844e10, "CNY") == "758.4亿元"
    assert report.fmt_value(71.6, "percent") == "71.6%"
    assert report.fmt_exact(3.16e8, "CNY") == "316,000,000 元 (3.16亿元)"
    assert report.fmt_exact(254, "post") == "254 个"
    assert report.nice_ticks(3.16e8) == [0, 1e8, 2e8, 3e8, 4e8]
    assert report.nice_ticks(71.6) == [0, 20, 40, 60, 80]
    assert report.nice_ticks(100) == [0, 25, 50, 75, 100]
    assert report.nice_ticks(0) == [0, 1]


def _panel_rows(regions: int) -> pl.DataFrame:
    """Synthetic panel rows of one indicator: regions 0–7 report two years, the others one."""
    rows = [
        {
            "region_code": f"5100{i:02d}",
            "region_name": f"地区{i}",
            "year": year,
            "indicator": "grid_workers",
            "unit": "person",
            "value": float(100 * (i + 1)),
            "chosen_fact_id": f"f{i}-{year}",
            "rule": "exact",
            "sources": 1,
            "conflicting_values": [],
            "conflicting_fact_ids": [],
        }
        for i in range(regions)
        for year in ((2021, 2022) if i < 8 else (2022,))
    ]
    return pl.DataFrame(
        rows,
        schema_overrides={
            "conflicting_values": pl.List(pl.Float64),
            "conflicting_fact_ids": pl.List(pl.String),
        },
    )


def test_chart_keeps_the_regions_with_most_years_and_says_so():
    rows = _panel_rows(11)
    section = report.indicator_section("grid_workers", rows)
    assert "the 8 regions with the most years reported, of 11; the table lists all" in section
    assert "+3 more in the table" in section
    legend = re.findall(r'class="legend" x="\d+" y="\d+">([^<]+)<', section)
    assert legend == [f"地区{i}" for i in range(7, -1, -1)]  # ties on years broken by the larger value
    assert section.count('<rect class="mark"') == 16
    assert section.count('href="#fact-') == rows.height == 19
    assert "of 8" not in report.indicator_section("grid_workers", _panel_rows(8))


def test_empty_snapshot_renders(root):
    snap = report.load(root)
    empty = report.Snapshot(snap.manifest, snap.panel.clear(), snap.chosen.clear(), snap.documents.clear(), 0)
    text = report.render(empty)
    assert "No indicator values in this snapshot." in text and "<svg" not in text


def test_load_takes_the_next_snapshot_when_its_files_were_pruned(root, monkeypatch):
    def pruned(self, **filters):
        raise FileNotFoundError("pruned")

    monkeypatch.setattr(read.Snapshot, "indicators", pruned)
    with pytest.raises(RuntimeError, match="changed during 3 reads"):
        report.load(root)


def test_remote_root_needs_an_output_path():
    with pytest.raises(ValueError, match="out"):
        report.build_report("s3://bucket/warehouse")


# --- escaping --------------------------------------------------------------------------------------


def test_highlight_escapes_around_the_mark():
    assert report.highlight(f"{SCRIPT}共<b>5</b>人", "<b>5</b>") == (
        "&lt;script&gt;alert(1)&lt;/script&gt;共<mark>&lt;b&gt;5&lt;/b&gt;</mark>人"
    )
    assert report.highlight("a & b", "missing") == "a &amp; b"


@pytest.fixture(scope="module")
def doctored(root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A copy of the snapshot whose first chosen fact and its document carry markup, as tables of its own
    under a handmade manifest (the snapshot's tables are never edited)."""
    target = tmp_path_factory.mktemp("doctored")
    panel = read.panel(root).collect()
    fact_id, doc_id = panel.select("chosen_fact_id", "chosen_doc_id").row(0)
    bad = pl.col("fact_id") == fact_id
    facts = (
        read.indicators(root)
        .collect()
        .with_columns(evidence=pl.when(bad).then(pl.lit(SCRIPT) + pl.col("evidence")).otherwise("evidence"))
    )
    docs = read.documents(root).collect()
    docs = docs.with_columns(
        title=pl.when(pl.col("doc_id") == doc_id).then(pl.lit(TITLE)).otherwise("title"),
        publisher=pl.lit("<b>社</b>"),
    )
    panel = panel.with_columns(region_name=pl.lit("<i>某</i>县"))
    regions = read.regions_table(root).collect()
    tables = {}
    for name, df in {
        "indicators": facts,
        "indicator_panel": panel,
        "documents": docs,
        "regions": regions,
    }.items():
        storage.write_table(df, target, "curated", f"t/{name}")
        tables[name] = {"path": f"curated/t/{name}", "version": 0}
    manifest = read.manifest(root) | {"snapshot": "doctored", "tables": tables}
    (target / "curated" / snapshot.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return target, fact_id


def test_document_text_is_escaped(doctored):
    target, fact_id = doctored
    out = report.build_report(target, target / "out" / "report.html")
    text = out.read_text(encoding="utf-8")
    assert SCRIPT not in text and "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text.split(f'id="fact-{fact_id}"')[1]
    assert TITLE not in text and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in text
    assert "&lt;b&gt;社&lt;/b&gt;" in text and "&lt;i&gt;某&lt;/i&gt;县" in text
    assert not {"script", "img", "i"} & parse(text).tags
    assert "<b>社</b>" not in text and "<i>某</i>" not in text


# --- in a browser, network off ---------------------------------------------------------------------


MARKS_JS = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('rect, path, circle')].filter(m => {
    const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
  return {code: svg.dataset.indicator, width: box.width, height: box.height, marks: marks.length};
})"""


@pytest.mark.browser
def test_report_renders_offline_in_chromium(offline_page, built, panel, tmp_path_factory):
    page, problems, requests = offline_page
    out, _ = built
    shots = tmp_path_factory.mktemp("screenshots")
    page.goto(out.as_uri())
    charts = page.evaluate(MARKS_JS)
    assert list(dict.fromkeys(c["code"] for c in charts)) == present_codes(panel)
    for c in charts:
        assert c["width"] > 300 and c["height"] > 100 and c["marks"] > 0, c
    page.locator('svg.chart[data-indicator="bridging_funds"]').first.scroll_into_view_if_needed()
    page.screenshot(path=shots / "report-chart.png")

    link = page.locator('table.panel a[href^="#fact-"]').first
    href = link.get_attribute("href")
    link.click()
    assert page.evaluate("location.hash") == href
    assert page.evaluate("document.querySelector(':target').id") == href[1:]
    target = page.locator(":target")
    assert target.locator("mark").first.is_visible()
    target.locator('a[href^="#doc-"]').click()
    assert page.evaluate("document.querySelector(':target').id").startswith("doc-")
    document = page.locator(":target")
    document.locator("summary").click()  # the document's own text, opened in place
    assert document.locator("pre").is_visible() and len(document.locator("pre").inner_text()) > 100
    page.screenshot(path=shots / "report-document.png")
    levels = page.evaluate("[...document.querySelectorAll('svg.chart')].map(s => s.dataset.level)")
    assert {"city", "county"} <= set(levels) and "" not in levels  # every chart is of one level
    page.goto(out.as_uri())
    page.screenshot(path=shots / "report-top.png")
    print(f"screenshots: {shots}")
    assert requests and all(u.startswith("file://") for u in requests), requests
    assert problems == []


@pytest.mark.browser
def test_markup_in_documents_stays_text_in_chromium(offline_page, doctored):
    page, problems, _ = offline_page
    target, fact_id = doctored
    out = report.build_report(target, target / "browser" / "index.html")
    page.goto(out.as_uri() + f"#fact-{fact_id}")
    assert SCRIPT in page.locator(f"[id='fact-{fact_id}'] blockquote").inner_text()
    assert page.evaluate("document.querySelectorAll('script, img').length") == 0
    assert problems == []


# --- issue 12: levels, colours, magnitudes, every value linked, document text ------------------------


def test_levels_get_charts_of_their_own_and_regions_keep_their_colour(built, panel):
    _, text = built
    levels = dict(read.regions_table(root_of(built)).select("region_code", "level").collect().iter_rows())
    fills: dict[str, set[str]] = {}
    for svg in text.split("<svg ")[1:]:
        level = re.search(r'data-level="([a-z]*)"', svg).group(1)
        for fill, region in re.findall(r'fill="(#[0-9a-f]{6})"><title>([^ ]+) · ', svg):
            fills.setdefault(region, set()).add(fill)
            code = panel.filter(pl.col("region_name") == region)["region_code"][0]
            assert levels[code] == level  # a province, its cities and counties are never on one axis
    assert fills and all(len(f) == 1 for f in fills.values()), fills  # one colour per region everywhere


def root_of(built):
    out, _ = built
    return out.parent.parent


def test_values_of_different_magnitudes_stay_readable_on_a_log_axis():
    rows = _panel_rows(2).with_columns(
        value=pl.Series([2.6e7, 3.1e7, 3.0e9, 2.9e9]), indicator=pl.lit("bridging_funds"), unit=pl.lit("CNY")
    )
    svg = report.chart("bridging_funds", rows)
    assert "log scale" in svg
    heights = [float(h) for h in re.findall(r'class="mark"[^>]*height="([\d.]+)"', svg)]
    assert min(heights) > 15  # 2,600万 is visible beside 30亿 (about 2 units tall on a linear axis)
    assert "log scale" not in report.chart("bridging_funds", rows.with_columns(value=pl.lit(1.0e8)))


def test_regions_that_report_one_year_each_are_not_drawn_as_a_trend():
    rows = _panel_rows(3).filter(pl.col("region_code") != "510000").unique("region_code", keep="last")
    rows = rows.with_columns(year=pl.Series(range(2020, 2020 + rows.height)))
    svg = report.chart("grid_workers", rows)
    assert "by region" in svg and ">region</text>" in svg
    assert all(f">{y}</text>" in svg for y in rows["year"])


def test_every_fact_has_evidence_and_every_conflicting_value_links_to_it(built, root):
    _, text = built
    page = parse(text)
    facts = read.indicators(root).collect()
    assert {f"fact-{f}" for f in facts["fact_id"]} <= set(page.ids)  # chosen or not, dated or not
    panel = read.panel(root).collect()
    for f in panel["conflicting_fact_ids"].explode().drop_nulls():
        assert f"#fact-{f}" in page.links


def test_each_documents_text_is_readable_in_the_report(built, root):
    _, text = built
    staged = storage.read_table(root, "staged", "documents")
    for doc in read.documents(root).collect().iter_rows(named=True):
        entry = text.split(f'<li id="doc-{doc["doc_id"]}"')[1].split("</li>")[0]
        body = staged.filter(pl.col("doc_id") == doc["doc_id"])["text"][0]
        assert f"<pre>{report.esc(body)}</pre>" in entry
