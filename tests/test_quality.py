"""The Great Expectations quality gate (warehouse/quality.py): pass/fail logic and offline Data Docs.

One temporary warehouse root gets every scenario of the module-scoped `gate` fixture, so the Data Docs
checked below hold several runs (published, failed, flagged)."""

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import polars as pl
import pytest

from schemas import CuratedIndicator
from warehouse import quality
from warehouse.catalog import indicators
from warehouse.extract import FACT_SCHEMA

ARRIVAL = date(2024, 1, 2)
# codes whose plausible range (warehouse/data/ranges.csv) starts at 0
CODES = [
    "poverty_exit_population",
    "poverty_exit_households",
    "poor_villages_exited",
    "registered_poor_population",
]
# What the static check forbids anywhere in a page: absolute http(s) URLs and protocol-relative src/href.
EXTERNAL = re.compile(r"""https?://|(?:src|href)\s*=\s*["']?\s*//""", re.I)


SCHEMA = FACT_SCHEMA


def facts(
    n: int,
    *,
    null_years: float = 0.05,
    approximate: float = 0.1,
    scale: float = 1.0,
    shift: int = 0,
) -> pl.DataFrame:
    """n curated rows of one partition, deterministic; every k-th row gets a null year / approximate flag."""
    catalog = indicators()
    rows = []
    for i in range(n):
        code = CODES[i % len(CODES)]
        value = float((10 + (i + shift) % 7) * scale)
        mention = f"{value:g}"
        evidence = f"全市共计{mention}。"
        rows.append(
            {
                "fact_id": f"f{i}",
                "doc_id": "a" * 64,
                "source_file": "a.txt",
                "arrival_date": ARRIVAL,
                "published_date": date(2023, 12, 1),
                "indicator": code,
                "value": value,
                "unit": catalog[code].unit,
                "region_code": "510600",
                "region_name": "德阳市",
                "region_level": "city",
                "year": None if i < round(n * null_years) else 2021,
                "evidence": evidence,
                "char_start": 4,
                "char_end": 4 + len(mention),
                "mention": mention,
                "approximate": (n - i) <= round(n * approximate),
                "range_role": None,
                "role": "value",
                "part_of": None,
                "rule": "r",
                "extractor_version": "v",
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA)


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, quality.QualityResult]]:
    root = tmp_path_factory.mktemp("quality-root")
    previous = facts(40)
    scenarios = {
        "first": (facts(40), None),
        "normal": (facts(40, shift=1), previous),
        "shrunk": (facts(15), previous),
        "null_years": (facts(40, null_years=0.6), previous),
        "drift": (facts(40, scale=50, approximate=0.8), previous),
        "grown": (facts(130), previous),
    }
    results = {
        name: quality.check_curated(now, before, root=root, arrival_date=ARRIVAL, run_id=f"test-{name}")
        for name, (now, before) in scenarios.items()
    }
    # GX passes, but another audit rule blocked the partition: the page must still say failed
    results["other_rule"] = quality.check_curated(
        facts(40, shift=1),
        previous,
        root=root,
        arrival_date=ARRIVAL,
        run_id="test-other_rule",
        blocked_by=[OTHER_RULE],
    )
    return root, results


OTHER_RULE = "curated/indicators: 2 doc_ids not in staged/documents"


def test_synthetic_partition_is_a_valid_curated_frame():
    CuratedIndicator.validate(facts(40))


def test_first_run_passes_without_baseline(gate):
    _, results = gate
    first = results["first"]
    assert first.success and first.failures == [] and first.blocking == []
    # the ten expectations of gx/expectations/curated_indicators.json; no median checks without a baseline
    assert first.evaluated == len(quality.load_suite_definition()["expectations"]) == 6


def test_normal_partition_passes(gate):
    _, results = gate
    normal = results["normal"]
    assert normal.success, normal.failures
    assert normal.failures == [] and normal.blocking == []
    assert normal.evaluated == 6 + len(CODES)  # one median check per indicator present before and now
    assert normal.as_dict()["docs_index"] == str(normal.docs_index)


def test_partition_shrinking_below_half_blocks(gate):
    _, results = gate
    shrunk = results["shrunk"]
    assert not shrunk.success
    assert shrunk.blocking == [
        "critical expect_table_row_count_to_be_between: 15 rows, expected >= 20 (previous 40)"
    ]
    assert shrunk.failures == shrunk.blocking


def test_many_null_years_only_warn(gate):
    _, results = gate
    r = results["null_years"]
    assert r.success and r.blocking == []
    assert r.failures == [
        "warning expect_column_values_to_not_be_null: year: 24 of 40 null (60.0%), expected at most 30% null"
    ]


def test_value_drift_and_approximate_share_warn(gate):
    _, results = gate
    r = results["drift"]
    assert r.success and r.blocking == []
    medians = [f for f in r.failures if "expect_column_median_to_be_between" in f]
    assert len(medians) == len(CODES)
    assert all(f.startswith("warning ") and "previous median" in f for f in medians)
    assert (
        "warning expect_column_values_to_be_in_set: approximate: 80.0% of rows are approximate"
        in " ".join(r.failures)
    )


def test_partition_more_than_tripling_warns(gate):
    _, results = gate
    r = results["grown"]
    assert r.success
    assert r.failures == [
        "warning expect_table_row_count_to_be_between: 130 rows, expected <= 120 (previous 40)"
    ]


def test_empty_partition_after_a_published_one_blocks(tmp_path):
    r = quality.check_curated(facts(0), facts(20), root=tmp_path, arrival_date=ARRIVAL, run_id="empty")
    assert not r.success
    assert r.blocking == [
        "critical expect_table_row_count_to_be_between: 0 rows, expected >= 10 (previous 20)"
    ]


def test_sample_partitions_pass_against_themselves(sample_facts, tmp_path):
    for (day,), part in sample_facts.partition_by("arrival_date", as_dict=True).items():
        r = quality.check_curated(part, part, root=tmp_path, arrival_date=day, run_id="sample")
        assert r.success, (day, r.blocking)


def test_misuse_raises(tmp_path):
    with pytest.raises(ValueError, match="lacks columns"):
        quality.check_curated(facts(3).drop("year"), None, root=tmp_path, arrival_date=ARRIVAL, run_id="x")
    with pytest.raises(TypeError):
        quality.check_curated(facts(3).to_pandas(), None, root=tmp_path, arrival_date=ARRIVAL, run_id="x")
    with pytest.raises(ValueError, match="run_id"):
        quality.check_curated(facts(3), None, root=tmp_path, arrival_date=ARRIVAL, run_id=" ")


# --- Data Docs -------------------------------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and name in {"href", "src", "srcset", "action", "poster", "data"}:
                self.refs.append((tag, name, value))


def _pages(root: Path) -> list[Path]:
    pages = sorted((root / "quality").rglob("*.html"))
    assert pages
    return pages


def test_data_docs_have_no_external_references(gate):
    root, results = gate
    for page in _pages(root):
        text = page.read_text(encoding="utf-8")
        assert not EXTERNAL.search(text), (page, EXTERNAL.search(text))
        assert "<script" not in text.lower(), page
        parser = _Refs()
        parser.feed(text)
        for tag, _attr, value in parser.refs:
            assert not urlsplit(value).scheme and not value.startswith("//"), (page, tag, value)
            if tag in {"link", "img", "script"} or (tag == "a" and not value.startswith("#")):
                target = page.parent / unquote(value.split("#")[0])
                assert target.exists(), (page, tag, value)
    assert results["first"].docs_index == root / "quality" / "index.html"


def test_index_lists_every_validation_with_relative_links(gate):
    root, results = gate
    index = (root / "quality" / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="(validations/[^"]+\.html)"', index))
    assert len(links) == len(results)
    assert all((root / "quality" / link).exists() for link in links)
    for name in results:
        assert f"test-{name}" in index
    # the audit's words (as in the ledger and the Prefect state), not GX's "Failed" for a warning-only run
    failed = [n for n, r in results.items() if not r.success or n == "other_rule"]
    flagged = [n for n, r in results.items() if r.success and r.failures and n not in failed]
    assert failed == ["shrunk", "other_rule"] and flagged  # the scenarios cover all three words
    assert index.count(">failed<") == len(failed) and index.count(">flagged<") == len(flagged)
    assert index.count(">published<") == len(results) - len(failed) - len(flagged)
    assert "Failed" not in index and "Status" not in index
    other = next((root / "quality").rglob("*test-other_rule*/**/*.html"))
    assert 'class="warehouse-gate failed"' in other.read_text() and OTHER_RULE in other.read_text()


def test_offline_html_strips_every_kind_of_external_reference():
    page = """<html><head><link rel="stylesheet" href="//cdn.example.org/a.css">
    <style>@import url("https://x.example/b.css"); .a{background:url('https://x.example/i.png')}</style>
    <script src="https://code.example/jq.js"></script><script>$(1)</script></head><body>
    <img src="//img.example/logo.png?d=1" alt="Logo"><img srcset="https://x.example/a.png 2x">
    <a href="https://example.org/docs">docs</a><div style="background:url(//x.example/c.png)" onclick="f()">x</div>
    </body></html>"""
    out = quality.offline_html(page)
    assert not EXTERNAL.search(out)
    assert "//" not in out.split('<style id="warehouse-offline">')[0].split("content=")[0]
    assert "<script" not in out and "onclick" not in out
    assert "Logo" in out and ">docs</a>" in out
    assert quality.offline_html(out) == out


# --- the same pages in a browser with the network off ---------------------------------------------


@pytest.mark.browser
def test_data_docs_render_offline_in_chromium(offline_page, gate):
    root, results = gate
    page, problems, requests = offline_page
    page.goto((root / "quality" / "index.html").as_uri())
    table = page.locator("table.gx-static-table").first
    assert table.is_visible()
    assert table.locator("tbody tr").count() == len(results)
    assert page.get_by_text("test-shrunk").is_visible()
    assert page.get_by_text("curated_indicators").first.is_visible()

    # follow the index's own link to the failed run's validation page
    page.get_by_role("link", name="test-shrunk").first.click()
    page.wait_for_load_state()
    assert page.url.startswith("file://") and "/validations/curated_indicators/test-shrunk/" in page.url
    gate_box = page.locator(".warehouse-gate.failed")
    assert gate_box.is_visible()
    assert "expected >= 20 (previous 40)" in gate_box.inner_text()
    assert page.locator("table").first.is_visible()
    assert page.get_by_text("values must not be null").first.is_visible()
    assert page.locator("body").inner_text().count("\n") > 50
    assert requests and all(u.startswith("file://") for u in requests), requests
    assert problems == []


def test_docs_built_once_for_several_partitions_carry_each_audit(tmp_path):
    """A backfill's partitions are checked with `docs` off (no page built per partition), then
    `build_docs` makes every page once, each with its own audit words, offline."""
    days = [date(2024, 1, d) for d in (2, 3, 4)]
    for n, day in enumerate(days):
        result = quality.check_curated(
            facts(20 + n), None, root=tmp_path, arrival_date=day, run_id=f"run-{n}", docs=False
        )
        assert result.success
    assert not list((tmp_path / "quality").glob("validations/**/*.html"))  # nothing built yet
    index = quality.build_docs(tmp_path)
    pages = sorted((tmp_path / "quality" / "validations").rglob("*.html"))
    assert index.exists() and len(pages) == 3
    for page, day in zip(pages, days, strict=True):
        text = page.read_text(encoding="utf-8")
        assert f"Audit of arrival date {day.isoformat()}" in text and quality._MARKER in text[:4000]
    assert not list((tmp_path / "quality" / quality.GATES).glob("*.json"))


def test_docs_build_only_the_pages_not_built_yet(tmp_path):
    """A later build makes the new validations' pages and the index; pages built before are not rebuilt
    (GX would rebuild every stored validation, a cost that grows with the root's history)."""
    quality.check_curated(
        facts(20), None, root=tmp_path, arrival_date=date(2024, 1, 2), run_id="run-a", docs=False
    )
    quality.build_docs(tmp_path)
    (old,) = (tmp_path / "quality" / "validations").rglob("*.html")
    old.write_text(old.read_text(encoding="utf-8") + "<!-- kept -->", encoding="utf-8")
    quality.check_curated(
        facts(21), None, root=tmp_path, arrival_date=date(2024, 1, 3), run_id="run-b", docs=False
    )
    index = quality.build_docs(tmp_path)
    pages = {p.parent.parent.name: p for p in (tmp_path / "quality" / "validations").rglob("*.html")}
    assert sorted(pages) == ["run-a", "run-b"]
    assert old.read_text(encoding="utf-8").endswith("<!-- kept -->")
    new = pages["run-b"].read_text(encoding="utf-8")
    assert "Audit of arrival date 2024-01-03" in new and quality._MARKER in new[:4000]
    text = index.read_text(encoding="utf-8")
    assert "run-a" in text and "run-b" in text
    assert quality.build_docs(tmp_path) == index  # nothing new: the index stays
    assert old.read_text(encoding="utf-8").endswith("<!-- kept -->")
