"""One document, one set of facts: the same bytes under two names on two dates (issue 12)."""

import shutil
from datetime import date
from pathlib import Path

import polars as pl
from conftest import SAMPLE

from warehouse import cache, ingest, pipeline, read, report, snapshot, sql, storage

DOC = sorted((SAMPLE / "2022-02-09").iterdir())[0]  # a jekyll post with a dozen facts
DAYS = (date(2022, 2, 9), date(2022, 2, 10))


def _landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    for day in DAYS:
        folder = landing / day.isoformat()
        folder.mkdir(parents=True)
        shutil.copy(DOC, folder / DOC.name)
        shutil.copy(DOC, folder / f"copy-of-{DOC.name}")
    return landing


def _single(tmp_path: Path) -> pl.DataFrame:
    """The facts of the document processed once, alone: what every table must hold once."""
    landing = tmp_path / "single"
    (landing / "2022-02-09").mkdir(parents=True)
    shutil.copy(DOC, landing / "2022-02-09" / DOC.name)
    root = tmp_path / "single-root"
    pipeline.run_partition([landing / "2022-02-09" / DOC.name], DAYS[0], landing, root, "one", quality=False)
    facts = storage.read_table(root, "curated", "indicators")
    assert facts is not None and facts.height > 5
    return facts


def test_the_same_file_in_two_names_and_two_dates_is_one_document(tmp_path):
    expected = _single(tmp_path)
    landing, root = _landing(tmp_path), tmp_path / "root"
    for day, files in sorted(ingest.discover_partitions(landing, date(2026, 1, 1)).items()):
        result = pipeline.run_partition(files, day, landing, root, f"run-{day}", quality=False)
        assert result.documents == 1 and result.facts == expected.height and result.quarantined == 0
    snapshot.publish(root)

    raw = storage.read_table(root, "raw", "documents")
    assert raw.height == 4 and raw["doc_id"].n_unique() == 1  # every arrival kept, with its name and date
    assert sorted(set(raw["source_file"])) == sorted({DOC.name, f"copy-of-{DOC.name}"})

    ((n, distinct),) = sql.query(root, "SELECT count(*), count(DISTINCT fact_id) FROM indicators").rows()
    assert n == distinct == expected.height
    assert sorted(read.indicators(root).collect()["fact_id"]) == sorted(expected["fact_id"])
    assert set(read.indicators(root).collect()["arrival_date"]) == {DAYS[1]}  # the latest arrival is seen

    documents = read.documents(root).collect()
    assert documents.height == 1 and documents["facts"].to_list() == [expected.height]
    panel = read.panel(root).collect()
    fact_ids = panel["fact_ids"].explode()
    assert fact_ids.is_duplicated().sum() == 0 and set(fact_ids) <= set(expected["fact_id"])

    chunks = pl.read_parquet(cache.cache_dir(root) / cache.CHUNKS / "*.parquet")
    assert chunks["doc_id"].is_duplicated().sum() == 0  # one cache entry per document, however often it came
    for kind, key in (("mentions", "mention_id"), ("facts", "fact_id")):
        cached = chunks.select(kind).explode(kind).drop_nulls().unnest(kind)
        assert cached.height > 0 and cached[key].is_duplicated().sum() == 0, kind

    html = report.build_report(root, tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"<b>{expected.height:,}</b> facts" in html and "<b>1</b> documents" in html


def test_a_copy_with_an_unsupported_name_does_not_hide_the_document(tmp_path):
    landing = tmp_path / "landing" / "2022-02-09"
    landing.mkdir(parents=True)
    shutil.copy(DOC, landing / DOC.name)
    shutil.copy(DOC, landing / f"{DOC.name}.bak")  # sorts last, but .bak is no format
    files = sorted(landing.iterdir())
    result = pipeline.run_partition(files, DAYS[0], landing.parent, tmp_path / "root", "bak", quality=False)
    assert result.documents == 1 and result.facts > 5
    staged = storage.read_table(tmp_path / "root", "staged", "documents")
    assert staged["source_file"].to_list() == [DOC.name]


def test_a_document_is_read_from_its_latest_arrival_only():
    base = {"doc_id": "d", "indicator": "x", "value": 1.0, "role": None}
    facts = pl.DataFrame(
        [
            base | {"fact_id": "old-only", "arrival_date": DAYS[0]},  # an older extraction's fact
            base | {"fact_id": "both", "arrival_date": DAYS[0]},
            base | {"fact_id": "both", "arrival_date": DAYS[1]},
            base | {"fact_id": "new", "arrival_date": DAYS[1]},
        ]
    )
    documents = pl.DataFrame({"doc_id": ["d"], "arrival_date": [DAYS[1]]})  # its row: the latest arrival
    latest = snapshot.latest_facts(facts, documents)
    assert sorted(latest["fact_id"]) == ["both", "new"] and set(latest["role"]) == {"value"}
    earlier = snapshot.latest_facts(facts, documents.with_columns(arrival_date=pl.lit(DAYS[0])))
    assert sorted(earlier["fact_id"]) == ["both", "old-only"]
