"""Write-audit-publish: bad rows go to quarantine with their reason, a failed audit publishes nothing."""

import hashlib
import json
from datetime import date

import polars as pl
import pytest

from warehouse import pipeline, storage

DAY = date(2024, 3, 1)
BODY = (
    "平武县巩固拓展脱贫攻坚成果工作报告\n"
    "2023年，全县开发公益性岗位1200个，新识别纳入监测对象86户302人，全年到位衔接资金1.35亿元。"
)


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "report.txt").write_text(BODY, encoding="utf-8")
    return folder


def extracted(landing) -> pipeline.Batch:
    files = sorted(landing.iterdir())
    batch = pipeline.ingest_step(files, DAY, landing.parent, "run-1")
    return pipeline.extract_step(pipeline.stage_step(batch))


def published_files(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for layer in storage.LAYERS
        for p in (root / layer).rglob("*")
        if p.is_file()
    }


BAD = {
    "unknown code": ({"indicator": "no_such_code"}, "indicator:isin"),
    "wrong unit": ({"unit": "household"}, "unit_is_catalog_unit"),
    "out-of-range value": ({"value": 9e12}, "value_in_plausible_range"),
    "unknown region code": ({"region_code": "999999"}, "region_code_in_gazetteer"),
    "mismatched region": ({"region_name": "北京市"}, "region_code_in_gazetteer"),
    "year out of range": ({"year": 2041}, "year:less_than_or_equal_to"),
    "offsets off the mention": ({"char_start": 3, "char_end": 8}, "mention_matches_staged_text"),
    "evidence without the mention": ({"evidence": "另一句话。"}, "evidence_contains_mention"),
    "orphan doc_id": ({"doc_id": "f" * 64}, "orphan doc_id: not in staged/documents"),
}


def test_each_kind_of_bad_fact_is_quarantined_with_its_reason(landing, tmp_path):
    batch = extracted(landing)
    good = batch.facts
    assert good is not None and good.height == 4
    template = good.row(0, named=True)
    bad_rows = [template | change | {"fact_id": f"bad-{i}"} for i, (change, _) in enumerate(BAD.values())]
    duplicate = good.row(1, named=True) | {"value": 1.0}  # same key as a good fact
    batch.facts = pl.concat([good, pl.DataFrame([*bad_rows, duplicate], schema=good.schema)])
    root = tmp_path / "root"
    summary = pipeline.publish_step(pipeline.validate_step(batch), root, quality=False)

    curated = storage.read_table(root, "curated", "indicators")
    assert sorted(curated["fact_id"]) == sorted(good["fact_id"]) and summary.facts == 4
    q = storage.read_table(root, "quarantine", "curated/indicators")
    reasons = {
        json.loads(r)["fact_id"] + ":" + str(json.loads(r)["value"]): why
        for r, why in q.select("record", "reason").iter_rows()
    }
    for i, (name, (_, expected)) in enumerate(BAD.items()):
        (why,) = [w for k, w in reasons.items() if k.startswith(f"bad-{i}:")]
        assert expected in why, f"{name}: {why}"
    assert "duplicate fact_id" in reasons[f"{duplicate['fact_id']}:1.0"]
    assert (
        set(q["run_id"]) == {"run-1"} and set(q["layer"]) == {"curated"} and set(q["arrival_date"]) == {DAY}
    )
    assert summary.quarantined == len(BAD) + 1 and sum(summary.quarantined_by_reason.values()) == len(BAD) + 1


def test_a_failed_audit_leaves_the_published_partition_byte_for_byte(landing, tmp_path):
    root = tmp_path / "root"
    first = pipeline.publish_step(pipeline.validate_step(extracted(landing)), root, quality=False)
    assert first.status == "published"
    before = published_files(root)
    assert any(k.startswith("curated/indicators/") for k in before)

    (landing / "report.txt").write_text(BODY.replace("1200个", "1300个"), encoding="utf-8")
    with pytest.raises(pipeline.AuditFailed, match="curated/indicators: wrote 3 rows, expected 4") as failed:
        _publish_with_writer(landing, root, lambda df: df.head(df.height - 1))  # silently drops a fact

    assert published_files(root) == before
    assert failed.value.staging.is_dir()  # kept for inspection, outside the reader paths
    assert not str(failed.value.staging.relative_to(root)).startswith(storage.LAYERS)
    runs = [json.loads(line) for line in (root / "_audit" / "runs.jsonl").read_text().splitlines()]
    assert [r["status"] for r in runs] == ["published", "failed"]
    assert runs[-1]["reasons"] == ["curated/indicators: wrote 3 rows, expected 4"]


def test_audit_markdown_names_status_counts_and_reasons(landing, tmp_path):
    summary = pipeline.publish_step(pipeline.validate_step(extracted(landing)), tmp_path / "r", quality=False)
    text = pipeline.audit_markdown(summary)
    assert f"Audit of partition {DAY}: published" in text and "4 facts" in text
    assert "| curated/indicators | 4 |" in text  # rows in, before validation


def test_a_partition_that_shrinks_by_half_is_blocked_by_the_quality_checkpoint(tmp_path):
    from conftest import PROJECT

    docs = PROJECT / "tests" / "golden" / "docs"
    files = sorted(p for p in docs.iterdir() if p.is_file())
    root = tmp_path / "root"
    full = pipeline.run_partition(files, DAY, docs, root, run_id="full")
    assert full.status in ("published", "flagged") and full.facts > 100
    before = published_files(root)
    with pytest.raises(
        pipeline.AuditFailed, match=r"expect_table_row_count_to_be_between: \d+ rows, expected >= \d+"
    ) as failed:
        pipeline.run_partition(files[:2], DAY, docs, root, run_id="shrunk")
    assert published_files(root) == before
    assert failed.value.summary.quality_docs and (root / "quality" / "index.html").is_file()


def test_an_audit_that_cannot_finish_fails_the_partition_and_is_recorded(landing, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk went away")

    monkeypatch.setattr(pipeline, "audit_partition", broken)
    root = tmp_path / "root"
    with pytest.raises(pipeline.AuditFailed, match="audit error: OSError: disk went away"):
        pipeline.publish_step(pipeline.validate_step(extracted(landing)), root, quality=False)
    assert not (root / "curated").exists()
    (run,) = [json.loads(line) for line in (root / "_audit" / "runs.jsonl").read_text().splitlines()]
    assert run["status"] == "failed"


def _publish_with_writer(landing, root, change):
    """Publish the landing zone through a staging writer that applies `change` to the facts it appends."""
    real_append = storage.PartitionAppender.append

    def append(files, df, layer, table):
        return real_append(files, change(df) if table == "indicators" else df, layer, table)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(storage.PartitionAppender, "append", append)
        return pipeline.publish_step(pipeline.validate_step(extracted(landing)), root, quality=False)


def test_rows_written_as_validated_are_not_validated_again(landing, tmp_path, monkeypatch):
    calls = []
    real = pipeline.validate.split_valid
    monkeypatch.setattr(pipeline.validate, "split_valid", lambda *a, **k: calls.append(1) or real(*a, **k))
    batch = pipeline.validate_step(extracted(landing))
    validated = len(calls)
    assert pipeline.publish_step(batch, tmp_path / "root", quality=False).status == "published"
    assert validated == 4 and len(calls) == validated  # the audit matched every table's digest


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        (  # still within the contract: only the digest tells
            lambda df: df.with_columns(pl.col("value") + 1),
            ["curated/indicators: the rows written are not the rows that passed validation"],
        ),
        (  # outside the contract as well
            lambda df: df.with_columns(pl.lit("no_such_code").alias("indicator")),
            [
                "curated/indicators: 4 rows fail the contract after writing",
                "curated/indicators: the rows written are not the rows that passed validation",
            ],
        ),
        (  # a column of the wrong type
            lambda df: df.with_columns(pl.col("year").cast(pl.Float64)),
            ["curated/indicators: CuratedIndicator: missing [], unexpected [], wrong types"],
        ),
    ],
)
def test_rows_changed_between_validation_and_writing_fail_the_audit(landing, tmp_path, change, reasons):
    with pytest.raises(pipeline.AuditFailed) as failed:
        _publish_with_writer(landing, tmp_path / "root", change)
    got = list(failed.value.summary.reasons)
    assert len(got) == len(reasons) and all(g.startswith(r) for g, r in zip(got, reasons, strict=True))
    assert not (tmp_path / "root" / "curated").exists()


def test_rows_digest_does_not_depend_on_how_the_rows_were_cut(landing):
    facts = pipeline.validate_step(extracted(landing)).facts
    assert facts is not None and facts.height == 4
    whole = pipeline.RowsDigest().update(facts)
    pieces = pipeline.RowsDigest().update(facts.head(1)).update(facts.slice(1, 0)).update(facts.tail(3))
    assert whole == pieces and whole == pipeline.RowsDigest().update(facts.select(reversed(facts.columns)))
    assert whole != pipeline.RowsDigest().update(facts.reverse())
    assert whole != pipeline.RowsDigest().update(facts.head(3))
